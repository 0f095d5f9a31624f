"""The local DMS stand-in against a real PostgreSQL: triggers in plpgsql, full load + CDC round trip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from mlpipe import defaults
from mlpipe.config.model import DatabaseSource
from mlpipe.errors import SourceUnavailableError
from mlpipe.lake import LakeLayout, committed_partitions, to_path
from mlpipe.local.cdc import enable_cdc, set_source_clock
from mlpipe.local.dms import replicate

pytestmark = pytest.mark.postgres

D0, D1, D2, D3 = (dt.date(2026, 11, d) for d in (1, 2, 3, 4))
META = [defaults.DMS_OP_COLUMN, defaults.DMS_COMMIT_TS_COLUMN, defaults.DMS_CHANGE_SEQ_COLUMN]
SCHEMA = "app"

md = sa.MetaData(schema=SCHEMA)
ITEMS = sa.Table(
    "items", md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("price", sa.Numeric(10, 2, asdecimal=False)),
    sa.Column("weight", sa.Float),
    sa.Column("created_at", sa.DateTime),
    sa.Column("due", sa.Date),
    sa.Column("active", sa.Boolean),
)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def item(i: int, **kw) -> dict:
    row = {"id": i, "name": f"item {i}", "price": i * 1.25, "weight": i / 3, "created_at": at(D0, 1, i),
           "due": dt.date(2027, 1, i % 28 + 1), "active": i % 2 == 0}
    return {**row, **kw}


def read_partition(path: Path) -> list[dict]:
    return [r for f in sorted(path.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def replay(table_dir: Path, pk: str) -> dict[int, dict]:
    """Apply every committed partition by primary key in commit order."""
    table: dict[int, dict] = {}
    for part in committed_partitions(table_dir):
        for row in sorted(read_partition(part), key=lambda r: (r[META[1]], r[META[2]])):
            op = row.pop(META[0])
            row.pop(META[1]), row.pop(META[2])
            if op == "D":
                del table[row[pk]]
            else:
                table[row[pk]] = row
    return table


@pytest.fixture
def engine(postgres_url: str):
    engine = sa.create_engine(postgres_url)
    yield engine
    engine.dispose()


def test_full_load_and_cdc_round_trip(engine, postgres_url, tmp_path):
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    md.create_all(engine)
    enable_cdc(engine, ["items"], db_schema=SCHEMA)
    enable_cdc(engine, ["items"], db_schema=SCHEMA)  # idempotent

    def change(when, *statements):
        with engine.begin() as conn:
            set_source_clock(conn, when, SCHEMA)
            for stmt in statements:
                conn.execute(stmt)
            set_source_clock(conn, None, SCHEMA)

    def rows():
        with engine.connect() as conn:
            return {r["id"]: dict(r) for r in conn.execute(sa.select(ITEMS)).mappings()}

    change(at(D0, 1), sa.insert(ITEMS).values([item(i) for i in range(1, 7)]))
    change(at(D1, 9), sa.update(ITEMS).where(ITEMS.c.id == 1).values(name="renamed", price=9.99, weight=0.1))
    change(at(D1, 10), sa.delete(ITEMS).where(ITEMS.c.id == 2))
    change(at(D1, 11), sa.insert(ITEMS).values(item(7, due=None, weight=None)))
    as_of_d1 = rows()
    change(at(D2, 8), sa.insert(ITEMS).values(item(8)))
    change(at(D2, 9), sa.update(ITEMS).where(ITEMS.c.id == 8).values(active=False))
    change(at(D2, 10), sa.delete(ITEMS).where(ITEMS.c.id == 8), sa.delete(ITEMS).where(ITEMS.c.id == 1),
           sa.insert(ITEMS).values(item(2, name="back again")))

    source = DatabaseSource(kind="database", name="shop", url=postgres_url, db_schema=SCHEMA,
                            tables=[{"name": "items", "primary_key": ["id"]}])
    lake = LakeLayout(f"file://{tmp_path / 'lake'}")
    part = {ds: to_path(lake.bronze("shop", "items", ds.isoformat())) for ds in (D1, D2, D3)}

    (full,) = replicate(source, D1, lake)
    loaded = {r["id"]: {k: v for k, v in r.items() if k not in META} for r in read_partition(part[D1])}
    assert loaded == as_of_d1 and full.details["mode"] == "full_load"

    (cdc,) = replicate(source, D2, lake)
    changes = read_partition(part[D2])
    assert [(r[META[0]], r["id"]) for r in changes] == [("I", 8), ("U", 8), ("D", 8), ("D", 1), ("I", 2)]
    assert changes[3]["name"] == "renamed" and changes[3]["weight"] == 0.1  # before-image of the delete
    assert [r[META[1]] for r in changes][:2] == [at(D2, 8), at(D2, 9)]
    assert cdc.rows_in == cdc.rows_out == 5
    # $AR_H_CHANGE_SEQ as DMS writes it: empty in the full load, else commit time (hundredths) + 19-digit counter
    assert {r[META[2]] for r in read_partition(part[D1])} == {""}
    seqs = [r[META[2]] for r in changes]
    assert all(len(s) == 35 and s.isdigit() for s in seqs) and seqs == sorted(seqs)
    assert [s[:16] for s in seqs] == [f"{r[META[1]]:%Y%m%d%H%M%S}00" for r in changes]

    change(at(D3, 6) + dt.timedelta(microseconds=456_789), sa.update(ITEMS).where(ITEMS.c.id == 4).values(weight=2.5))
    (d3,) = replicate(source, D3, lake)
    (late,) = read_partition(part[D3])
    assert late[META[2]][:16] == "2026110406000045" and int(late[META[2]][16:]) > int(seqs[-1][16:])
    assert (d3.details["seq_min"], d3.details["seq_max"]) == (late[META[2]],) * 2
    assert replay(to_path(lake.bronze("shop", "items")), "id") == rows()

    before = {ds: {p.name: p.read_bytes() for p in part[ds].glob("*.parquet")} for ds in (D1, D2)}
    change(None, sa.update(ITEMS).where(ITEMS.c.id == 3).values(name="now"))  # real time, no clock
    for ds in (D1, D2):
        replicate(source, ds, lake)
        assert {p.name: p.read_bytes() for p in part[ds].glob("*.parquet")} == before[ds]


def test_generated_sample_round_trips_on_postgres(postgres_url, tmp_path):
    from mlpipe.sample import generate, reset
    from mlpipe.sample.oltp import sample_metadata
    from mlpipe.sample.targets import standalone_config

    cfg = standalone_config(tmp_path, db_url=postgres_url, seed=5, customers=120, history_days=25, events=2_000)
    days = [D0 + dt.timedelta(days=k) for k in range(3)]
    generate(cfg, days[:1])
    generate(cfg, days[1:])
    source, lake = cfg.sources[0], LakeLayout(cfg.lake.root)
    for ds in days:
        replicate(source, ds, lake)
    engine = sa.create_engine(postgres_url)
    try:
        for spec in source.tables:
            pk = spec.primary_key[0]
            with engine.connect() as conn:
                actual = {r[pk]: dict(r) for r in conn.execute(sa.select(sample_metadata().tables[spec.name])).mappings()}
            assert replay(to_path(lake.bronze("oltp", spec.name)), pk) == actual, spec.name
    finally:
        engine.dispose()
    removed = reset(cfg)
    assert any("customers" in r for r in removed) and any("_cdc_log" in r for r in removed)


def test_missing_database_on_a_running_server(postgres_url, tmp_path):
    url = sa.make_url(postgres_url).set(database="no_such_db").render_as_string(hide_password=False)
    source = DatabaseSource(kind="database", name="shop", url=url, tables=[{"name": "items", "primary_key": ["id"]}])
    with pytest.raises(SourceUnavailableError, match=r"no_such_db.*does not exist.*sources\[shop\]\.url"):
        replicate(source, D1, LakeLayout(f"file://{tmp_path / 'lake'}"))
