"""bronze -> silver: row reconciliation with independently counted bronze records, reasons, reruns."""

from __future__ import annotations

import datetime as dt
import json

from features_helpers import D1, DEFECT_DATES, SampleLake, path
from spark_jobs import steps


def bronze_events(sample_lake: SampleLake, upto: dt.date) -> list[dict]:
    """Every JSON line of the clickstream's bronze partitions up to a date, parsed here (the oracle)."""
    out = []
    base = sample_lake.lake / "bronze" / "clickstream" / "events"
    for part in sorted(base.glob("dt=*")):
        if part.name[3:] <= upto.isoformat():
            for f in sorted(part.rglob("*.jsonl")):
                out += [json.loads(line) | {"_dt": part.name[3:]} for line in f.read_text().splitlines() if line.strip()]
    return out


def test_events_reconcile_with_bronze_and_quarantine_reasons(spark, sample_lake: SampleLake):
    """out_of_range plants events ten years ahead: quarantined as rows with their reason; all else is silver."""
    day = DEFECT_DATES["out_of_range"]
    records = bronze_events(sample_lake, day)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    seen, expected = set(), {"event_time_after_ds": 0, "duplicate_key": 0}
    for r in records:
        if dt.datetime.fromisoformat(r["event_ts"].replace("Z", "")) >= end:
            expected["event_time_after_ds"] += 1
        elif r["event_id"] in seen:
            expected["duplicate_key"] += 1
        else:
            seen.add(r["event_id"])
    expected = {k: v for k, v in expected.items() if v}
    assert expected.get("event_time_after_ds", 0) > 0

    spec = sample_lake.spec(day)
    [doc] = steps.run_silver(spark, spec, ["events"])
    rec = doc["reconciliation"]
    assert rec["rows_in"] == len(records)
    assert rec["rows_quarantined"] == sum(expected.values())
    assert rec["rows_out"] == doc["rows"] == len(seen)
    out = spec["silver"]["tables"][3]["outputs"]
    rows = spark.read.parquet(out["quarantine_rows"])
    assert {r["_reason_code"]: r["count"] for r in rows.groupBy("_reason_code").count().collect()} == expected
    sample = rows.first()
    assert sample["_reason"] and sample["_raw"].startswith("{") and sample["_source_dt"] == day.isoformat()
    # nothing lost: every event id of bronze is in the (quarantined) partition or among the quarantined rows
    data = spark.read.parquet(*[str(p) for p in path(out["quarantine"]).glob("*.parquet")])
    kept = {r["event_id"] for r in data.select("event_id").collect()}
    set_aside = {json.loads(r["_raw"])["event_id"] for r in rows.select("_raw").collect()}
    assert kept | set_aside == {r["event_id"] for r in records}


def test_a_rerun_replaces_the_partition(spark, sample_lake: SampleLake, clean_d1):
    spec = clean_d1["spec"]
    before = clean_d1["silver"]["silver.customers"]
    table_dir = path(before["partition_uri"]).parent
    first = sorted(spark.read.parquet(before["partition_uri"]).collect())
    [again] = steps.run_silver(spark, spec, ["customers"])
    assert again["rows"] == before["rows"] == len(first)
    assert sorted(spark.read.parquet(again["partition_uri"]).collect()) == first
    assert [p.name for p in table_dir.iterdir()] == [f"dt={D1.isoformat()}"]  # no temporaries left, no copies


def test_silver_holds_events_up_to_the_end_of_ds(spark, clean_d1):
    doc = clean_d1["silver"]["silver.events"]
    df = spark.read.parquet(doc["partition_uri"])
    newest = df.agg({"event_ts": "max"}).first()[0]
    assert newest.date() == D1  # history from every partition up to ds, nothing after it
    assert df.select("event_id").distinct().count() == doc["rows"]


def test_events_are_written_clustered_by_the_entity_key(spark, clean_d1):
    """Each silver file holds its customers' rows together, sorted by customer and event time (the gold job's
    per-customer aggregations then meet few customers per task); no customer is split across files."""
    doc = clean_d1["silver"]["silver.events"]
    files = sorted(path(doc["partition_uri"]).glob("*.parquet"))
    owner: dict[int, str] = {}
    for f in files:
        rows = [(r["customer_id"], r["event_ts"]) for r in spark.read.parquet(str(f)).select("customer_id", "event_ts")
                .collect()]
        assert rows == sorted(rows), f"{f.name} is not sorted by (customer_id, event_ts)"
        for customer, _ in rows:
            assert owner.setdefault(customer, f.name) == f.name, f"customer {customer} is in several files"
    assert owner
