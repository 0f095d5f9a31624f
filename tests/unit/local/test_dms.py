"""The local DMS stand-in: full load as of a date, date-windowed CDC, reruns, errors, quarantine."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from mlpipe import defaults
from mlpipe.config.model import DatabaseSource
from mlpipe.errors import MlPipeError, SourceUnavailableError
from mlpipe.lake import LakeLayout, committed_partitions, to_path
from mlpipe.local.cdc import enable_cdc, set_source_clock
from mlpipe.local.dms import replicate

D0, D1, D2, D3 = (dt.date(2026, 11, d) for d in (1, 2, 3, 4))
META = [defaults.DMS_OP_COLUMN, defaults.DMS_COMMIT_TS_COLUMN, defaults.DMS_CHANGE_SEQ_COLUMN]

md = sa.MetaData()
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
    row = {"id": i, "name": f"item {i}", "price": i * 1.25, "weight": i / 3, "created_at": at(D0, 1),
           "due": dt.date(2027, 1, i % 28 + 1), "active": i % 2 == 0}
    return {**row, **kw}


class Db:
    """A SQLite source with the items table and change capture; records every change it makes."""

    def __init__(self, tmp: Path):
        self.url = f"sqlite:///{tmp / 'src.db'}"
        self.engine = sa.create_engine(self.url)
        md.create_all(self.engine)
        enable_cdc(self.engine, ["items"])
        self.source = DatabaseSource(kind="database", name="shop", url=self.url,
                                     tables=[{"name": "items", "primary_key": ["id"]}])
        self.lake = LakeLayout(f"file://{tmp / 'lake'}")

    def change(self, when: dt.datetime | None, *statements: sa.Executable) -> None:
        with self.engine.begin() as conn:
            set_source_clock(conn, when)
            for stmt in statements:
                conn.execute(stmt)
            set_source_clock(conn, None)

    def rows(self) -> dict[int, dict]:
        with self.engine.connect() as conn:
            return {r["id"]: dict(r) for r in conn.execute(sa.select(ITEMS)).mappings()}

    def replicate(self, ds: dt.date, **kw):
        return replicate(self.source, ds, self.lake, **kw)

    def partition(self, ds: dt.date) -> Path:
        return to_path(self.lake.bronze("shop", "items", ds.isoformat()))


def read_partition(path: Path) -> list[dict]:
    return [r for f in sorted(path.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def replay(path: Path) -> dict[int, dict]:
    """Apply every committed partition of a bronze table by primary key in commit order."""
    table: dict[int, dict] = {}
    for part in committed_partitions(path):
        rows = sorted(read_partition(part), key=lambda r: (r[META[1]], r[META[2]]))
        for row in rows:
            op = row.pop(META[0])
            for m in META[1:]:
                row.pop(m)
            if op == "D":
                del table[row["id"]]
            else:
                table[row["id"]] = row
    return table


def scenario(db: Db) -> dict[str, dict[int, dict]]:
    """Items 1..6 inserted on D0; D1: update 1, delete 2, insert 7; D2: six more changes. Returns snapshots."""
    snapshots = {}
    with db.engine.begin() as conn:
        set_source_clock(conn, at(D0, 1))
        conn.execute(sa.insert(ITEMS), [item(i) for i in range(1, 7)])
        set_source_clock(conn, None)
    snapshots["D0"] = db.rows()
    db.change(at(D1, 9), sa.update(ITEMS).where(ITEMS.c.id == 1).values(name="renamed", price=9.99))
    db.change(at(D1, 10), sa.delete(ITEMS).where(ITEMS.c.id == 2))
    db.change(at(D1, 11), sa.insert(ITEMS).values(item(7, due=None, weight=None)))
    snapshots["D1"] = db.rows()
    db.change(at(D2, 8), sa.insert(ITEMS).values(item(8)))
    db.change(at(D2, 9), sa.update(ITEMS).where(ITEMS.c.id == 8).values(active=False))
    db.change(at(D2, 9, 30), sa.delete(ITEMS).where(ITEMS.c.id == 8))
    db.change(at(D2, 10), sa.update(ITEMS).where(ITEMS.c.id == 3).values(price=0.5),
              sa.delete(ITEMS).where(ITEMS.c.id == 1), sa.insert(ITEMS).values(item(2, name="back again")))
    snapshots["D2"] = db.rows()
    return snapshots


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Db, dict[str, dict[int, dict]]]:
    db = Db(tmp_path)
    return db, scenario(db)


def test_full_load_is_the_table_as_of_the_end_of_its_date(shop):
    db, snaps = shop  # D2's changes are already in the database
    (landing,) = db.replicate(D1)
    rows = read_partition(db.partition(D1))
    assert {r["id"]: {k: v for k, v in r.items() if k not in META} for r in rows} == snaps["D1"]
    assert [f.name for f in sorted(db.partition(D1).glob("*.parquet"))] == ["LOAD00000001.parquet"]
    assert {r[META[0]] for r in rows} == {"I"} and [r["id"] for r in rows] == sorted(snaps["D1"])
    assert landing.details["mode"] == "full_load" and landing.details["changes_undone"] == 6
    assert landing.rows_in == landing.rows_out == len(snaps["D1"]) and landing.files_out == 1


def test_cdc_holds_the_days_changes_in_commit_order(shop):
    db, _ = shop
    db.replicate(D1)
    (landing,) = db.replicate(D2)
    rows = read_partition(db.partition(D2))
    assert [(r[META[0]], r["id"]) for r in rows] == [
        ("I", 8), ("U", 8), ("D", 8), ("U", 3), ("D", 1), ("I", 2)]
    assert rows[1]["active"] is False and rows[2]["active"] is False  # after-image; before-image for D
    assert rows[4]["name"] == "renamed"  # the deleted row as it was
    assert [r[META[1]] for r in rows] == [at(D2, 8), at(D2, 9), at(D2, 9, 30), at(D2, 10), at(D2, 10), at(D2, 10)]
    seqs = [r[META[2]] for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(re.fullmatch(r"\d{35}", s) for s in seqs)
    assert landing.details["mode"] == "cdc" and (landing.details["seq_min"], landing.details["seq_max"]) == (
        seqs[0], seqs[-1])
    assert landing.rows_in == 6 and landing.rows_quarantined == 0


def test_change_seq_is_what_dms_writes_for_ar_h_change_seq(shop):
    """$AR_H_CHANGE_SEQ: empty in the full load; in CDC 35 digits, the commit time YYYYMMDDhhmmsshh and a
    19-digit counter that keeps increasing across dates, so the strings sort in commit order."""
    db, _ = shop
    db.replicate(D1)
    full_load = read_partition(db.partition(D1))
    assert {r[META[2]] for r in full_load} == {""}
    db.replicate(D2)
    db.change(at(D3, 7, 5) + dt.timedelta(seconds=9, microseconds=871_000),
              sa.update(ITEMS).where(ITEMS.c.id == 4).values(name="later"))
    db.replicate(D3)
    cdc = read_partition(db.partition(D2)) + read_partition(db.partition(D3))
    seqs = [r[META[2]] for r in cdc]
    assert all(isinstance(s, str) and len(s) == 35 and s.isdigit() for s in seqs)
    assert [s[:16] for s in seqs] == [f"{r[META[1]]:%Y%m%d%H%M%S}{r[META[1]].microsecond // 10_000:02d}" for r in cdc]
    assert seqs[-1][:16] == "2026110407050987"  # 07:05:09.871 -> hundredths 87
    counters = [int(s[16:]) for s in seqs]
    assert counters == sorted(counters) and len(set(counters)) == len(counters) and min(counters) > 0
    assert seqs == sorted(seqs)


def test_full_load_plus_cdc_reproduces_the_table(shop):
    db, snaps = shop
    for ds in (D1, D2, D3):
        db.replicate(ds)
    assert replay(to_path(db.lake.bronze("shop", "items"))) == snaps["D2"] == db.rows()


def test_parquet_columns_are_typed(shop):
    db, _ = shop
    db.replicate(D1)
    schema = pq.read_schema(db.partition(D1) / "LOAD00000001.parquet")
    assert schema.names == [*META, "id", "name", "price", "weight", "created_at", "due", "active"]
    assert [schema.field(n).type for n in schema.names] == [
        pa.string(), pa.timestamp("us"), pa.string(), pa.int64(), pa.string(), pa.float64(), pa.float64(),
        pa.timestamp("us"), pa.date32(), pa.bool_()]


def test_rerun_gives_an_identical_partition_whatever_happened_since(shop):
    db, _ = shop
    db.replicate(D1)
    db.replicate(D2)
    before = {ds: {p.name: p.read_bytes() for p in db.partition(ds).glob("*.parquet")} for ds in (D1, D2)}
    db.change(at(D3, 5), sa.update(ITEMS).where(ITEMS.c.id == 4).values(name="later"),
              sa.delete(ITEMS).where(ITEMS.c.id == 5), sa.insert(ITEMS).values(item(9)))
    db.change(None, sa.update(ITEMS).where(ITEMS.c.id == 6).values(weight=1.0))  # real time, no clock
    for ds in (D1, D2, D1, D2):
        db.replicate(ds)
        assert {p.name: p.read_bytes() for p in db.partition(ds).glob("*.parquet")} == before[ds]
    assert not list(db.partition(D1).parent.glob(".*"))  # no temporary leftovers


def test_date_before_the_full_load_is_refused_with_how_to_reset(shop):
    db, _ = shop
    db.replicate(D2)
    with pytest.raises(MlPipeError, match=r"2026-11-02 is before the table's full load on 2026-11-03.*delete .*"
                                          r"state.json and .*bronze/shop/items"):
        db.replicate(D1)


def test_files_split_by_rows_and_cdc_files_are_named_after_their_first_commit(shop):
    db, snaps = shop
    db.replicate(D1, rows_per_file=2)
    assert sorted(p.name for p in db.partition(D1).glob("*.parquet")) == [
        "LOAD00000001.parquet", "LOAD00000002.parquet", "LOAD00000003.parquet"]
    (landing,) = db.replicate(D2, rows_per_file=4)
    names = sorted(p.name for p in db.partition(D2).glob("*.parquet"))
    assert names == ["20261103-080000000.parquet", "20261103-100000000.parquet"] == sorted(landing.details["files"])
    assert all(re.fullmatch(r"\d{8}-\d{9}\.parquet", n) for n in names)
    assert landing.files_out == 2


def test_rows_that_do_not_fit_the_types_are_quarantined_with_a_reason(shop):
    db, _ = shop
    db.replicate(D1)
    with db.engine.begin() as conn:
        set_source_clock(conn, at(D3, 12))
        conn.exec_driver_sql("INSERT INTO items (id, name, created_at) VALUES (50, 'bad date', 'not a date')")
        conn.exec_driver_sql("INSERT INTO items (id, name, price) VALUES (51, 'bad price', 'free')")
        conn.execute(sa.insert(ITEMS).values(item(52)))
        set_source_clock(conn, None)
    (landing,) = db.replicate(D3)
    assert (landing.rows_in, landing.rows_out, landing.rows_quarantined) == (3, 1, 2)
    quarantined = [json.loads(x) for x in (to_path(landing.quarantine_uri) / "rows.jsonl").read_text().splitlines()]
    assert {q["id"] for q in quarantined} == {50, 51}
    assert any("created_at" in q["_reason"] and "not a date" in q["_reason"] for q in quarantined)
    assert any("price" in q["_reason"] for q in quarantined)
    assert [r["id"] for r in read_partition(db.partition(D3))] == [52]


def test_unreachable_database_names_url_table_reason_and_what_to_check(tmp_path):
    missing = DatabaseSource(kind="database", name="shop", url=f"sqlite:///{tmp_path / 'nope.db'}",
                             tables=[{"name": "items", "primary_key": ["id"]}])
    lake = LakeLayout(f"file://{tmp_path / 'lake'}")
    with pytest.raises(SourceUnavailableError, match=r"nope\.db.*does not exist.*sources\[shop\]\.url.*running"):
        replicate(missing, D1, lake)
    assert not (tmp_path / "nope.db").exists()  # not created by trying
    closed = missing.model_copy(update={"url": "postgresql+psycopg://app:s3cret@127.0.0.1:1/shop"})
    with pytest.raises(SourceUnavailableError) as info:
        replicate(closed, D1, lake)
    message = str(info.value)
    assert "s3cret" not in message and "app:***@127.0.0.1:1/shop" in message
    assert "sources[shop].url" in message and "connect" in message.lower()


def test_missing_table_and_missing_change_log(tmp_path, shop):
    db, _ = shop
    source = DatabaseSource.model_validate({**db.source.model_dump(), "tables": [
        {"name": "items", "primary_key": ["id"]}, {"name": "orders", "primary_key": ["id"]}]})
    with pytest.raises(SourceUnavailableError, match=r"table orders.*does not exist"):
        replicate(source, D1, db.lake)
    plain = sa.create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    md.create_all(plain)
    no_log = db.source.model_copy(update={"url": f"sqlite:///{tmp_path / 'plain.db'}"})
    with pytest.raises(SourceUnavailableError, match="change capture is not enabled.*enable_cdc"):
        replicate(no_log, D1, db.lake)


def test_enable_cdc_is_idempotent_and_follows_new_columns(tmp_path):
    db = Db(tmp_path)
    enable_cdc(db.engine, ["items"])
    db.change(at(D0, 1), sa.insert(ITEMS).values(item(1)))
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE items ADD COLUMN colour VARCHAR(10)")
    enable_cdc(db.engine, ["items"])
    db.change(at(D0, 2), sa.text("UPDATE items SET colour = 'red' WHERE id = 1"))
    with db.engine.connect() as conn:
        log = conn.exec_driver_sql("SELECT op, pk, new_row FROM _cdc_log ORDER BY seq").fetchall()
    assert [r[0] for r in log] == ["I", "U"]
    assert json.loads(log[0][1]) == {"id": 1} and json.loads(log[1][2])["colour"] == "red"


def test_commit_ts_is_the_current_time_without_a_clock(tmp_path):
    db = Db(tmp_path)
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    db.change(None, sa.insert(ITEMS).values(item(1)))
    with db.engine.connect() as conn:
        (ts,) = conn.exec_driver_sql("SELECT commit_ts FROM _cdc_log").one()
    assert before <= dt.datetime.fromisoformat(ts) <= before + dt.timedelta(minutes=1)


def test_generated_sample_database_round_trips(tmp_path):
    from mlpipe.sample import generate
    from mlpipe.sample.oltp import sample_metadata
    from mlpipe.sample.targets import standalone_config

    cfg = standalone_config(tmp_path, seed=3, customers=200, history_days=40, events=2_000)
    days = [D0 + dt.timedelta(days=k) for k in range(4)]
    generate(cfg, days)
    source, lake = cfg.sources[0], LakeLayout(cfg.lake.root)
    landings = [landing for ds in days for landing in replicate(source, ds, lake)]
    assert {landing.details["mode"] for landing in landings[:3]} == {"full_load"}
    assert {landing.details["mode"] for landing in landings[3:]} == {"cdc"}
    assert sum(landing.rows_in for landing in landings[3:]) > 20  # enough changes to replay (27 with this seed)
    engine = sa.create_engine(source.url)
    md_sample = sample_metadata()
    for spec in source.tables:
        pk = spec.primary_key[0]
        replayed: dict[int, dict] = {}
        for part in committed_partitions(to_path(lake.bronze("oltp", spec.name))):
            for row in sorted(read_partition(part), key=lambda r: (r[META[1]], r[META[2]])):
                op = row.pop(META[0])
                row.pop(META[1]), row.pop(META[2])
                if op == "D":
                    del replayed[row[pk]]
                else:
                    replayed[row[pk]] = row
        with engine.connect() as conn:
            actual = {r[pk]: dict(r) for r in conn.execute(sa.select(md_sample.tables[spec.name])).mappings()}
        assert replayed == actual, spec.name
