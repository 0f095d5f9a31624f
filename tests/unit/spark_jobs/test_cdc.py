"""DMS full load + CDC applied by key in commit order, on what DMS really writes: ``_dms_change_seq`` is a
35-digit string (16-digit commit time + 19-digit counter), empty for full-load rows. Updates, deletes,
re-inserts, CDC committed before the full load's transfer time, files landed out of order, a replayed file
(its changes set aside as duplicates), malformed change sequences (quarantined), the as-of cut (partitions
after ds are not read), and the same verdicts with ANSI mode on and off."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from features_helpers import path
from mlpipe.lake import LakeLayout
from spark_jobs import steps

SCHEMA = pa.schema([("Op", pa.string()), ("_dms_commit_ts", pa.timestamp("us")), ("_dms_change_seq", pa.string()),
                    ("item_id", pa.int64()), ("name", pa.string()), ("qty", pa.int64())])
FULL_LOAD = ""  # what DMS writes for $AR_H_CHANGE_SEQ in a full-load row


def ts(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour)


def seq(day: int, hour: int, counter: int) -> str:
    """$AR_H_CHANGE_SEQ: YYYYMMDDhhmmsshh (UTC commit time, hundredths) + a 19-digit zero-padded counter."""
    return ts(day, hour).strftime("%Y%m%d%H%M%S") + "00" + f"{counter:019d}"


def land(root: Path, day: int, name: str, rows: list[tuple]) -> None:
    part = root / "bronze" / "shop" / "items" / f"dt=2026-11-{day:02d}"
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in rows], schema=SCHEMA),
                   part / name)
    (part / "_SUCCESS").touch()


# the state and counts per ds (tests/runtimes/test_cdc_on_emr_spark.py expects the same on EMR's Spark 3.5)
EXPECTED = {
    "2026-11-01": ({1: ("apple", 5), 2: ("pear", 3), 3: ("plum", 7)},
                   {"rows_in": 4, "rows_out": 4, "rows_quarantined": 0}),
    "2026-11-02": ({1: ("apple", 4), 3: ("plum", 7), 4: ("kiwi", 1)},
                   {"rows_in": 7, "rows_out": 7, "rows_quarantined": 0}),
    "2026-11-03": ({1: ("apple", 4), 2: ("pear", 7), 3: ("plum", 8), 4: ("kiwi", 2)},
                   {"rows_in": 19, "rows_out": 13, "rows_quarantined": 6}),
}
EXPECTED_REASONS = {"2026-11-03": ["bad_change_seq"] * 3 + ["duplicate_key"] * 3}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("cdc") / "lake")


def build_lake(root: Path) -> Path:
    """Bronze of shop.items for 2026-11-01..04 under ``root`` (see the comments for what each file tests)."""
    # the full load: empty change sequence, and as commit time DMS's transfer time (23:00), later than the
    # change to item 3 committed at 22:00 while the load ran, which DMS applies after it (CDC wins)
    land(root, 1, "LOAD00000001.parquet", [
        ("I", ts(1, 23), FULL_LOAD, 1, "apple", 5), ("I", ts(1, 23), FULL_LOAD, 2, "pear", 3),
        ("I", ts(1, 23), FULL_LOAD, 3, "plum", 9)])
    land(root, 1, "20261101-220000000.parquet", [("U", ts(1, 22), seq(1, 22, 5), 3, "plum", 7)])
    changes_2 = [("U", ts(2, 9), seq(2, 9, 10), 1, "apple", 4), ("D", ts(2, 10), seq(2, 10, 11), 2, "pear", 3),
                 ("I", ts(2, 11), seq(2, 11, 12), 4, "kiwi", 1)]
    land(root, 2, "20261102-090000000.parquet", changes_2)
    # landed a day late and out of order: counter 9 is older than the update of item 1 above (counter 10)
    land(root, 3, "20261102-080000000.parquet", [("U", ts(2, 8), seq(2, 8, 9), 1, "apple", 99)])
    land(root, 3, "20261103-090000000.parquet", [
        ("U", ts(3, 9), seq(3, 9, 20), 3, "plum", 8), ("I", ts(3, 10), seq(3, 10, 21), 5, "fig", 2),
        ("D", ts(3, 11), seq(3, 11, 22), 5, "fig", 2),
        ("I", ts(3, 12), seq(3, 12, 30), 2, "pear", 7)])  # item 2 deleted on day 2 comes back
    # DMS replays a file after a task restart: the same changes again, under another name
    land(root, 3, "20261102-090000000-replay.parquet", changes_2)
    # malformed change sequences: too short, a letter in 35 characters, a delete with an empty one
    land(root, 3, "20261103-130000000.parquet", [
        ("U", ts(3, 13), "2026110313", 4, "kiwi", 50), ("U", ts(3, 13), seq(3, 13, 40)[:-1] + "x", 4, "kiwi", 51),
        ("D", ts(3, 14), FULL_LOAD, 4, "kiwi", 1)])
    # a recreated task starts its counter again: the later commit time still orders first
    land(root, 3, "20261103-150000000.parquet", [("U", ts(3, 15), seq(3, 15, 1), 4, "kiwi", 2)])
    # a partition after ds, and one still being written (no _SUCCESS): neither may be read
    land(root, 4, "20261104-090000000.parquet", [("D", ts(4, 9), seq(4, 9, 40), 1, "apple", 4)])
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
            "outputs": LakeLayout(root).dataset_outputs("silver", "items", ds),
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


def quarantined(spark, lake: Path, ds: str) -> list[tuple[str, str, str]]:
    rows = spark.read.parquet(f"file://{lake}/quarantine/silver/items/dt={ds}/rows").collect()
    return sorted((r["_reason_code"], r["_source_file"].rsplit("/", 1)[1], r["_reason"]) for r in rows)


def test_changes_apply_in_commit_order_with_deletes_out_of_order_files_and_replays(spark, lake: Path):
    [doc] = steps.run_silver(spark, spec_for(lake, "2026-11-03"))
    assert doc["success"], doc["failed"]
    assert (current(spark, doc), doc["reconciliation"]) == EXPECTED["2026-11-03"]
    found = quarantined(spark, lake, "2026-11-03")
    assert [(code, name) for code, name, _ in found] == [("bad_change_seq", "20261103-130000000.parquet")] * 3 + [
        ("duplicate_key", "20261102-090000000-replay.parquet")] * 3
    assert "must be empty (a full-load insert) or 35 digits" in found[0][2]
    schema = {f.name: f.dataType.simpleString() for f in spark.read.parquet(doc["partition_uri"]).schema.fields}
    assert schema == {"item_id": "bigint", "name": "string", "qty": "int"}


def test_full_load_rows_come_before_every_change_whatever_their_commit_time(spark, lake: Path):
    [doc] = steps.run_silver(spark, spec_for(lake, "2026-11-01"))
    assert (current(spark, doc), doc["reconciliation"]) == EXPECTED["2026-11-01"]


def test_state_as_of_an_earlier_date_ignores_later_partitions(spark, lake: Path):
    [doc] = steps.run_silver(spark, spec_for(lake, "2026-11-02"))
    assert (current(spark, doc), doc["reconciliation"]) == EXPECTED["2026-11-02"]
    assert not path(f"file://{lake}/quarantine/silver/items/dt=2026-11-02").exists()


@pytest.mark.parametrize("ansi", ["true", "false"])  # on by default in Spark 4, off in Spark 3.5 (EMR 7)
def test_the_verdicts_are_the_same_with_ansi_mode_on_and_off(spark, lake: Path, ansi: str):
    before = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", ansi)
    try:
        [doc] = steps.run_silver(spark, spec_for(lake, "2026-11-03"))
        assert (current(spark, doc), doc["reconciliation"]) == EXPECTED["2026-11-03"]
        assert [c for c, _, _ in quarantined(spark, lake, "2026-11-03")] == EXPECTED_REASONS["2026-11-03"]
    finally:
        spark.conf.set("spark.sql.ansi.enabled", before)
