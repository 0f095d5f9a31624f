"""DMS full load + CDC applied by key in commit order: updates, deletes, re-inserts, files landed out of order,
a replayed file (its changes set aside as duplicates), and the as-of cut (partitions after ds are not read)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from features_helpers import path
from spark_jobs import steps

SCHEMA = pa.schema([("Op", pa.string()), ("_dms_commit_ts", pa.timestamp("us")), ("_dms_change_seq", pa.int64()),
                    ("item_id", pa.int64()), ("name", pa.string()), ("qty", pa.int64())])


def ts(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour)


def land(root: Path, day: int, name: str, rows: list[tuple]) -> None:
    part = root / "bronze" / "shop" / "items" / f"dt=2026-11-{day:02d}"
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in rows], schema=SCHEMA),
                   part / name)
    (part / "_SUCCESS").touch()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cdc") / "lake"
    land(root, 1, "LOAD00000001.parquet", [
        ("I", ts(1, 23), 0, 1, "apple", 5), ("I", ts(1, 23), 0, 2, "pear", 3), ("I", ts(1, 23), 0, 3, "plum", 9)])
    changes_2 = [("U", ts(2, 9), 10, 1, "apple", 4), ("D", ts(2, 10), 11, 2, "pear", 3),
                 ("I", ts(2, 11), 12, 4, "kiwi", 1)]
    land(root, 2, "20261102-090000000.parquet", changes_2)
    # landed a day late and out of order: seq 9 is older than the update of item 1 above (seq 10)
    land(root, 3, "20261102-080000000.parquet", [("U", ts(2, 8), 9, 1, "apple", 99)])
    land(root, 3, "20261103-090000000.parquet", [
        ("U", ts(3, 9), 20, 3, "plum", 8), ("I", ts(3, 10), 21, 5, "fig", 2), ("D", ts(3, 11), 22, 5, "fig", 2),
        ("I", ts(3, 12), 30, 2, "pear", 7)])  # item 2 deleted on day 2 comes back
    # DMS replays a file after a task restart: the same changes again, under another name
    land(root, 3, "20261102-090000000-replay.parquet", changes_2)
    # a partition after ds, and one still being written (no _SUCCESS): neither may be read
    land(root, 4, "20261104-090000000.parquet", [("D", ts(4, 9), 40, 1, "apple", 4)])
    part = root / "bronze" / "shop" / "items" / "dt=2026-11-03.tmp"
    part.mkdir()
    return root


def spec_for(lake: Path, ds: str) -> dict:
    root = f"file://{lake}"
    return {
        "spec_version": 1, "ds": ds, "lake_root": root,
        "silver": {"tables": [{
            "name": "items", "dataset": "silver.items", "kind": "cdc", "format": "dms",
            "bronze_uri": f"{root}/bronze/shop/items", "ingest_quarantine_uri": f"{root}/quarantine/shop/items",
            "key": ["item_id"], "order_by": [], "event_time": None,
            "columns": [{"name": "item_id", "type": "bigint"}, {"name": "name", "type": "string"},
                        {"name": "qty", "type": "int"}],
            "suite": {"name": "silver.items", "version": 1, "expectations": [
                {"type": "reconciliation", "severity": "fail"},
                {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "item_id"}, "severity": "fail"},
                {"type": "quarantined_rows", "max_ratio": 0.5, "severity": "fail"}]},
        }]},
        "gold": {},
    }


def current(spark, doc: dict) -> dict[int, tuple]:
    return {r["item_id"]: (r["name"], r["qty"]) for r in spark.read.parquet(doc["partition_uri"]).collect()}


def test_changes_apply_in_commit_order_with_deletes_out_of_order_files_and_replays(spark, lake: Path):
    [doc] = steps.run_silver(spark, spec_for(lake, "2026-11-03"))
    assert doc["success"], doc["failed"]
    assert current(spark, doc) == {1: ("apple", 4), 2: ("pear", 7), 3: ("plum", 8), 4: ("kiwi", 1)}
    assert doc["reconciliation"] == {"rows_in": 14, "rows_out": 11, "rows_quarantined": 3}
    rows = spark.read.parquet(f"file://{lake}/quarantine/silver/items/dt=2026-11-03/rows").collect()
    assert {r["_reason_code"] for r in rows} == {"duplicate_key"}
    assert {r["_source_file"].rsplit("/", 1)[1] for r in rows} == {"20261102-090000000-replay.parquet"}
    schema = {f.name: f.dataType.simpleString() for f in spark.read.parquet(doc["partition_uri"]).schema.fields}
    assert schema == {"item_id": "bigint", "name": "string", "qty": "int"}


def test_state_as_of_an_earlier_date_ignores_later_partitions(spark, lake: Path):
    [doc] = steps.run_silver(spark, spec_for(lake, "2026-11-02"))
    assert current(spark, doc) == {1: ("apple", 4), 3: ("plum", 9), 4: ("kiwi", 1)}
    assert doc["reconciliation"] == {"rows_in": 6, "rows_out": 6, "rows_quarantined": 0}
    assert not path(f"file://{lake}/quarantine/silver/items/dt=2026-11-02").exists()
