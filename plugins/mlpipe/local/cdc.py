"""Change capture on a SQL source: the local analogue of enabling binary logging / logical replication.

AWS DMS reads a database's own change stream (MySQL binlog, PostgreSQL logical replication). A local
SQLite or PostgreSQL database has no such stream that we can read portably, so :func:`enable_cdc`
installs one: AFTER INSERT/UPDATE/DELETE triggers that append every row change to a ``_cdc_log``
table, with the primary key, the before- and after-images as JSON, and a commit timestamp::

    _cdc_log(seq autoincrement PK, table_name, op 'I'|'U'|'D', pk JSON, old_row JSON, new_row JSON, commit_ts)
    _cdc_clock(id = 1, ts)      -- optional: a simulated "now" for the commit timestamps

``commit_ts`` is the clock's ``ts`` while a row is set there (the sample generator sets it to the
simulated time of each change), else the current UTC time, as on a real user database. Timestamps
are naive UTC. ``seq`` orders changes; the triggers log at statement time, so concurrent writers'
changes are ordered by when they were made, not when they committed (good enough for a stand-in).

:func:`change_seq` turns a log entry into what DMS writes for ``$AR_H_CHANGE_SEQ``: 35 digits, the commit
time ``YYYYMMDDhhmmsshh`` (UTC, hundredths) then ``seq`` as a 19-digit zero-padded counter; full-load rows
get :data:`FULL_LOAD_CHANGE_SEQ` (empty), as from DMS.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine

from mlpipe.config.model import TableSpec
from mlpipe.errors import ConfigError
from mlpipe.paths import local_path

LOG_TABLE = "_cdc_log"
CLOCK_TABLE = "_cdc_clock"
PG_FUNCTION = "_cdc_capture"
OPS = {"INSERT": "I", "UPDATE": "U", "DELETE": "D"}
CHANGE_SEQ_COUNTER_DIGITS = 19
FULL_LOAD_CHANGE_SEQ = ""  # DMS leaves $AR_H_CHANGE_SEQ empty for full-load rows
# SQLite's strftime('%f') has milliseconds; pad to the microseconds SQLAlchemy writes for the clock.
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


def change_seq(commit_ts: dt.datetime, counter: int) -> str:
    """``$AR_H_CHANGE_SEQ`` of a change: ``YYYYMMDDhhmmsshh`` of its (naive UTC) commit time + a 19-digit counter."""
    if not 0 < counter < 10**CHANGE_SEQ_COUNTER_DIGITS:
        raise ValueError(f"change counter {counter} does not fit {CHANGE_SEQ_COUNTER_DIGITS} digits")
    return f"{commit_ts:%Y%m%d%H%M%S}{commit_ts.microsecond // 10_000:02d}{counter:0{CHANGE_SEQ_COUNTER_DIGITS}d}"


def resolve_url(url: str) -> sa.URL:
    """The SQLAlchemy URL with a relative SQLite path resolved against the project root."""
    parsed = sa.make_url(url)
    db = parsed.database
    if parsed.get_backend_name() == "sqlite" and db and db != ":memory:" and not db.startswith("file:"):
        parsed = parsed.set(database=str(local_path(db)))
    return parsed


def masked(url: str | sa.URL) -> str:
    """The URL for messages, password replaced by ***."""
    return (url if isinstance(url, sa.URL) else sa.make_url(url)).render_as_string(hide_password=True)


def create_source_engine(url: str) -> Engine:
    """An engine for a source URL (relative SQLite paths resolve against the project root)."""
    parsed = resolve_url(url)
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(parsed, connect_args={"connect_timeout": 10}, pool_pre_ping=True)
    return sa.create_engine(parsed)


@functools.cache
def log_tables(db_schema: str | None = None) -> tuple[sa.Table, sa.Table]:
    """The ``_cdc_log`` and ``_cdc_clock`` tables (on their own MetaData, one per schema)."""
    md = sa.MetaData(schema=db_schema)
    json_type = sa.JSON().with_variant(JSONB(), "postgresql")
    log = sa.Table(
        LOG_TABLE,
        md,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("op", sa.String(1), nullable=False),
        sa.Column("pk", json_type, nullable=False),
        sa.Column("old_row", json_type),
        sa.Column("new_row", json_type),
        sa.Column("commit_ts", sa.DateTime, nullable=False),
        sa.Index(f"ix{LOG_TABLE}_table_ts", "table_name", "commit_ts"),
        sqlite_autoincrement=True,
    )
    clock = sa.Table(
        CLOCK_TABLE,
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.DateTime),
        sa.CheckConstraint("id = 1", name=f"ck{CLOCK_TABLE}_one_row"),
    )
    return log, clock


def enable_cdc(engine: Engine, tables: Sequence[str | TableSpec], db_schema: str | None = None) -> None:
    """Create the change log and clock (if missing) and (re)install capture triggers on ``tables``.

    Idempotent: triggers are dropped and recreated, so they follow the tables' current columns.
    The primary key of each table comes from its TableSpec, else from the database.
    """
    log, clock = log_tables(db_schema)
    with engine.begin() as conn:
        log.metadata.create_all(conn, checkfirst=True)
        inspector = sa.inspect(conn)
        dialect = conn.dialect.name
        if dialect == "postgresql":
            conn.exec_driver_sql(_pg_function_sql(conn, db_schema))
        for spec in tables:
            name = spec if isinstance(spec, str) else spec.name
            if not inspector.has_table(name, schema=db_schema):
                raise ConfigError(f"enable_cdc: table {_qualified(db_schema, name)} does not exist; create it first")
            columns = [c["name"] for c in inspector.get_columns(name, schema=db_schema)]
            pk = list(spec.primary_key) if isinstance(spec, TableSpec) else _reflected_pk(inspector, name, db_schema)
            if dialect == "sqlite":
                for statement in _sqlite_trigger_sql(conn, name, columns, pk):
                    conn.exec_driver_sql(statement)
            elif dialect == "postgresql":
                for statement in _pg_trigger_sql(conn, name, pk, db_schema):
                    conn.exec_driver_sql(statement)
            else:
                raise ConfigError(f"enable_cdc: dialect '{dialect}' is not supported; use SQLite or PostgreSQL")


def set_source_clock(target: Connection | Engine, ts: dt.datetime | None, db_schema: str | None = None) -> None:
    """Set (or with None clear) the simulated commit time logged by the triggers.

    With an Engine the change is committed at once; with a Connection it joins that connection's
    transaction (the caller commits), so a clock change and the data changes commit together.
    """
    if isinstance(target, Engine):
        with target.begin() as conn:
            _set_clock(conn, ts, db_schema)
    else:
        _set_clock(target, ts, db_schema)


@functools.cache
def _clock_statements(db_schema: str | None) -> tuple[sa.Executable, sa.Executable, sa.Executable]:
    _, clock = log_tables(db_schema)
    update = sa.update(clock).where(clock.c.id == 1).values(ts=sa.bindparam("ts"))
    insert = sa.insert(clock).values(id=1, ts=sa.bindparam("ts"))
    return update, insert, sa.delete(clock)


def _set_clock(conn: Connection, ts: dt.datetime | None, db_schema: str | None) -> None:
    update, insert, delete = _clock_statements(db_schema)
    if ts is None:
        conn.execute(delete)
        return
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.UTC).replace(tzinfo=None)
    if conn.execute(update, {"ts": ts}).rowcount == 0:
        conn.execute(insert, {"ts": ts})


def row_image_sql(conn: Connection, table: str, columns: Sequence[str], db_schema: str | None = None) -> str:
    """SELECT of every row of ``table`` as one JSON text image, in the same form the triggers log."""
    qualified = _qualified_quoted(conn, db_schema, table)
    if conn.dialect.name == "sqlite":
        return f"SELECT {_sqlite_json_object(conn, 't', columns)} FROM {qualified} AS t"
    return f"SELECT to_jsonb(t)::text FROM {qualified} AS t"


def _reflected_pk(inspector: Any, table: str, db_schema: str | None) -> list[str]:
    pk = inspector.get_pk_constraint(table, schema=db_schema).get("constrained_columns") or []
    if not pk:
        raise ConfigError(
            f"enable_cdc: table {_qualified(db_schema, table)} has no primary key; "
            "add one or pass a TableSpec with primary_key"
        )
    return list(pk)


def _sqlite_trigger_name(table: str, op: str) -> str:
    return f"_cdc_{table}_{op.lower()}"


def _sqlite_trigger_sql(conn: Connection, table: str, columns: Sequence[str], pk: Sequence[str]) -> list[str]:
    quoted_table = _quote(conn, table)
    now = f"COALESCE((SELECT ts FROM {CLOCK_TABLE} WHERE id = 1), {_SQLITE_NOW})"
    statements: list[str] = []
    for event, op in OPS.items():
        ref = "OLD" if op == "D" else "NEW"
        old = _sqlite_json_object(conn, "OLD", columns) if op in "UD" else "NULL"
        new = _sqlite_json_object(conn, "NEW", columns) if op in "IU" else "NULL"
        name = _quote(conn, _sqlite_trigger_name(table, op))
        statements.append(f"DROP TRIGGER IF EXISTS {name}")
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {quoted_table} FOR EACH ROW BEGIN "
            f"INSERT INTO {LOG_TABLE} (table_name, op, pk, old_row, new_row, commit_ts) VALUES ("
            f"'{table}', '{op}', {_sqlite_json_object(conn, ref, pk)}, {old}, {new}, {now}); END"
        )
    return statements


def _sqlite_json_object(conn: Connection, ref: str, columns: Sequence[str]) -> str:
    if len(columns) > 63:
        raise ConfigError(f"SQLite change capture supports at most 63 columns per table, got {len(columns)}")
    pairs = ", ".join(f"'{c}', {_sqlite_json_value(f'{ref}.{_quote(conn, c)}')}" for c in columns)
    return f"json_object({pairs})"


def _sqlite_json_value(expr: str) -> str:
    """SQLite's JSON writes REALs with 15 digits (lossy); 17 significant digits round-trip a double exactly."""
    return f"CASE typeof({expr}) WHEN 'real' THEN printf('%!.17g', {expr}) ELSE {expr} END"


def _pg_function_sql(conn: Connection, db_schema: str | None) -> str:
    log = _qualified_quoted(conn, db_schema, LOG_TABLE)
    clock = _qualified_quoted(conn, db_schema, CLOCK_TABLE)
    fn = _qualified_quoted(conn, db_schema, PG_FUNCTION)
    return f"""
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $cdc$
DECLARE
  old_j jsonb := NULL;
  new_j jsonb := NULL;
  pk jsonb := '{{}}'::jsonb;
  col text;
  clock_ts timestamp;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN old_j := to_jsonb(OLD); END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN new_j := to_jsonb(NEW); END IF;
  FOREACH col IN ARRAY TG_ARGV LOOP
    pk := pk || jsonb_build_object(col, COALESCE(new_j, old_j) -> col);
  END LOOP;
  SELECT c.ts INTO clock_ts FROM {clock} c WHERE c.id = 1;
  INSERT INTO {log} (table_name, op, pk, old_row, new_row, commit_ts)
  VALUES (TG_TABLE_NAME, left(TG_OP, 1), pk, old_j, new_j, COALESCE(clock_ts, now() AT TIME ZONE 'UTC'));
  RETURN NULL;
END
$cdc$"""


def _pg_trigger_sql(conn: Connection, table: str, pk: Sequence[str], db_schema: str | None) -> list[str]:
    name = _quote(conn, PG_FUNCTION)
    qualified = _qualified_quoted(conn, db_schema, table)
    fn = _qualified_quoted(conn, db_schema, PG_FUNCTION)
    args = ", ".join("'" + c.replace("'", "''") + "'" for c in pk)
    return [
        f"DROP TRIGGER IF EXISTS {name} ON {qualified}",
        f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {qualified} "
        f"FOR EACH ROW EXECUTE FUNCTION {fn}({args})",
    ]


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _qualified_quoted(conn: Connection, db_schema: str | None, name: str) -> str:
    return f"{_quote(conn, db_schema)}.{_quote(conn, name)}" if db_schema else _quote(conn, name)


def _qualified(db_schema: str | None, name: str) -> str:
    return f"{db_schema}.{name}" if db_schema else name
