"""The sample OLTP database: its tables, creation (with change capture) and applying a day's changes."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mlpipe.config.model import TableSpec
from mlpipe.errors import ConfigError
from mlpipe.local.cdc import CLOCK_TABLE, LOG_TABLE, PG_FUNCTION, enable_cdc, set_source_clock
from mlpipe.sample.simulate import Change

TABLE_SPECS = (
    TableSpec(name="customers", primary_key=["customer_id"]),
    TableSpec(name="subscriptions", primary_key=["subscription_id"]),
    TableSpec(name="payments", primary_key=["payment_id"]),
)
Money = sa.Numeric(10, 2, asdecimal=False)


@functools.cache
def sample_metadata(db_schema: str | None = None) -> sa.MetaData:
    """customers, subscriptions and payments (no foreign keys: erasure deletes children first anyway)."""
    md = sa.MetaData(schema=db_schema)
    sa.Table(
        "customers", md,
        sa.Column("customer_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("signup_ts", sa.DateTime, nullable=False),
        sa.Column("marketing_opt_in", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "subscriptions", md,
        sa.Column("subscription_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.Integer, nullable=False, index=True),
        sa.Column("plan", sa.String(16), nullable=False),
        sa.Column("monthly_price", Money, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("cancelled_at", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "payments", md,
        sa.Column("payment_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.Integer, nullable=False, index=True),
        sa.Column("subscription_id", sa.Integer, nullable=False),
        sa.Column("amount", Money, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("paid_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    return md


def row_counts(engine: Engine, db_schema: str | None = None) -> dict[str, int]:
    """Rows in each sample table that exists (empty dict for a fresh database)."""
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        md = sample_metadata(db_schema)
        return {
            spec.name: int(conn.execute(sa.select(sa.func.count()).select_from(md.tables[_key(spec.name, db_schema)]))
                           .scalar_one())
            for spec in TABLE_SPECS
            if inspector.has_table(spec.name, schema=db_schema)
        }


def create_database(engine: Engine, db_schema: str | None = None) -> None:
    """Create the tables and install change capture (the DMS stand-in's source requirement)."""
    with engine.begin() as conn:
        if db_schema and conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{db_schema}"')
        sample_metadata(db_schema).create_all(conn)
    enable_cdc(engine, list(TABLE_SPECS), db_schema)


def drop_database(engine: Engine, db_schema: str | None = None) -> list[str]:
    """Drop the sample tables, the change log, the clock and the capture function; returns what it dropped."""
    dropped: list[str] = []
    with engine.begin() as conn:
        inspector = sa.inspect(conn)
        for name in [spec.name for spec in TABLE_SPECS] + [LOG_TABLE, CLOCK_TABLE]:
            if inspector.has_table(name, schema=db_schema):
                sa.Table(name, sa.MetaData(schema=db_schema)).drop(conn)
                dropped.append(name)
        if conn.dialect.name == "postgresql":
            prefix = f'"{db_schema}".' if db_schema else ""
            conn.exec_driver_sql(f'DROP FUNCTION IF EXISTS {prefix}"{PG_FUNCTION}"() CASCADE')
    return dropped


def apply_changes(engine: Engine, day: dt.date, changes: Sequence[Change], db_schema: str | None = None) -> Counter[str]:
    """Apply a day's changes in one transaction, the source clock set to each change's simulated time.

    Consecutive changes of the same kind at the same second go to the database as one executemany.
    Returns the number of changes per operation ('insert', 'update', 'delete').
    """
    md = sample_metadata(db_schema)
    start = dt.datetime.combine(day, dt.time())
    statements: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], sa.Executable] = {}
    counts: Counter[str] = Counter()
    try:
        with engine.begin() as conn:
            for (sec, op, table, keys, where), group in itertools.groupby(changes, key=_batch_key):
                batch = [{**ch.values, **{f"w_{k}": v for k, v in ch.where.items()}} for ch in group]
                set_source_clock(conn, start + dt.timedelta(seconds=sec), db_schema)
                stmt = statements.get((op, table, keys, where))
                if stmt is None:
                    stmt = statements[(op, table, keys, where)] = _statement(md.tables[_key(table, db_schema)], op,
                                                                             keys, where)
                conn.execute(stmt, batch)
                counts[op] += len(batch)
            set_source_clock(conn, None, db_schema)
    except sa.exc.IntegrityError as exc:
        raise ConfigError(
            f"the sample database is out of step with the generator's saved state ({exc.orig}); "
            "run `python -m mlpipe.sample reset` and generate again"
        ) from None
    return counts


def _batch_key(ch: Change) -> tuple[int, str, str, tuple[str, ...], tuple[str, ...]]:
    return ch.sec, ch.op, ch.table, tuple(ch.values), tuple(ch.where)


def _statement(table: sa.Table, op: str, keys: tuple[str, ...], where: tuple[str, ...]) -> sa.Executable:
    if op == "insert":
        return sa.insert(table)
    cond = sa.and_(*(table.c[k] == sa.bindparam(f"w_{k}") for k in where))
    if op == "update":
        return sa.update(table).where(cond).values({k: sa.bindparam(k) for k in keys})
    return sa.delete(table).where(cond)


def _key(name: str, db_schema: str | None) -> str:
    return f"{db_schema}.{name}" if db_schema else name
