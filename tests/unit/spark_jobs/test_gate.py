"""The quality gate: clean sample data passes; every defect the generator plants is blocked and quarantined,
with its result and report, and nothing lost."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable

import pytest
from features_helpers import DEFECT_DATES, SampleLake, ingest, parquet_rows, path, read_json
from mlpipe.sample import deliver_late_drop
from spark_jobs import steps
from spark_jobs.quality import RESULT_KEYS

# defect -> silver table -> (the check that must fail, its column, the reason code it must report)
SIGNATURES: dict[str, dict[str, tuple[str, str | None, str | None]]] = {
    "nulls": {"events": ("ingest_rejects", None, "null_field:customer_id"),
              "accounts": ("ingest_rejects", None, "null_field:")},
    "malformed": {"events": ("ingest_rejects", None, "invalid_json"),
                  "accounts": ("ingest_rejects", None, "csv_field_count")},
    "duplicate_keys": {"events": ("quarantined_rows", None, "duplicate_key"),
                       "accounts": ("quarantined_rows", None, "duplicate_key")},
    "out_of_range": {"payments": ("expect_column_values_to_be_between", "amount", None),
                     "subscriptions": ("expect_column_values_to_be_between", "monthly_price", None),
                     "events": ("quarantined_rows", None, "event_time_after_ds"),
                     "accounts": ("expect_column_values_to_be_between", "company_size", None)},
    "renamed_column": {"accounts": ("ingest_rejects", None, "missing_columns")},
    "late_drop": {"accounts": ("partition_landed", None, None)},
    "missing_drop": {"accounts": ("partition_landed", None, None)},
}


@pytest.fixture(scope="module")
def gated(spark, sample_lake: SampleLake) -> Callable[[dt.date], dict[str, dict]]:
    """The silver results of a defect date (each date's affected tables run once, on first use)."""
    done: dict[dt.date, dict[str, dict]] = {}

    def results(day: dt.date) -> dict[str, dict]:
        if day not in done:
            tables = sorted({t for d, sig in SIGNATURES.items() if DEFECT_DATES[d] == day for t in sig})
            spec = sample_lake.spec(day)
            done[day] = {doc["dataset"].split(".")[1]: doc for doc in steps.run_silver(spark, spec, tables)}
        return done[day]

    return results


def assert_committed(doc: dict) -> None:
    part = path(doc["partition_uri"])
    assert (part / "_SUCCESS").is_file() and list(part.glob("*.parquet"))
    assert doc["quarantine_uri"] is None


def assert_quarantined(spark, doc: dict, out: dict) -> None:
    """Failed: the partition is in quarantine with its result.json, nothing at the layer's path, nothing lost."""
    assert doc["partition_uri"] == doc["quarantine_uri"] == out["quarantine"]
    assert not path(out["partition"]).exists()
    q = path(out["quarantine"])
    assert read_json(out["quarantine"] + "/result.json") == doc
    assert (q / "_SUCCESS").is_file()
    assert spark.read.parquet(*[str(f) for f in q.glob("*.parquet")]).count() == doc["rows"]
    rec = doc["reconciliation"]
    assert rec["rows_in"] == rec["rows_out"] + rec["rows_quarantined"]
    if rec["rows_quarantined"]:
        assert parquet_rows(spark, out["quarantine_rows"]) == rec["rows_quarantined"]
    assert read_json(out["result"]) == doc and "FAILED" in path(out["report"]).read_text()


def test_clean_sample_passes_every_gate(spark, clean_d1):
    docs = [*clean_d1["silver"].values(), clean_d1["gold"]]
    assert [d["dataset"] for d in docs] == ["silver.customers", "silver.subscriptions", "silver.payments",
                                            "silver.events", "silver.accounts", "gold.customer_features"]
    for doc in docs:
        assert doc["success"], (doc["dataset"], doc["failed"])
        assert tuple(doc) == RESULT_KEYS and doc["failed"] == []
        assert doc["ds"] == "2026-11-01" and doc["rows"] > 0
        assert_committed(doc)
        assert read_json(doc["report_uri"].replace("report.html", "result.json")) == doc
        report = path(doc["report_uri"]).read_text()
        assert "PASSED" in report and doc["dataset"] in report
        rec = doc["reconciliation"]
        assert rec["rows_in"] == rec["rows_out"] + rec["rows_quarantined"] and rec["rows_quarantined"] == 0
        layer, table = doc["dataset"].split(".")
        # this date's quarantine only: other tests gate the defect dates in the same lake
        assert not (path(clean_d1["spec"]["lake_root"]) / "quarantine" / layer / table / f"dt={doc['ds']}").exists()


@pytest.mark.parametrize("defect", list(SIGNATURES))
def test_gate_blocks_each_planted_defect(spark, sample_lake: SampleLake, gated, defect: str):
    day = DEFECT_DATES[defect]
    results = gated(day)
    spec = sample_lake.spec(day)
    for table, (check, column, reason) in SIGNATURES[defect].items():
        doc = results[table]
        assert not doc["success"], f"{defect}: {doc['dataset']} passed"
        assert all(f["severity"] == "fail" for f in doc["failed"])
        hits = [f for f in doc["failed"] if (f["expectation"], f["column"]) == (check, column)]
        assert hits, f"{defect}: {doc['dataset']} did not fail {check}; failed: {doc['failed']}"
        if reason:
            reasons = hits[0]["details"]["reasons"]
            assert any(code.startswith(reason) for code in reasons), (defect, table, reasons)
        out = next(t["outputs"] for t in spec["silver"]["tables"] if t["name"] == table)
        assert_quarantined(spark, doc, out)


def test_failures_say_what_was_observed(gated):
    events = gated(DEFECT_DATES["out_of_range"])["payments"]
    [amount] = [f for f in events["failed"] if f["column"] == "amount"]
    assert amount["observed"]["unexpected_count"] > 0
    assert all(v < 0 for v in amount["details"]["partial_unexpected_list"])


def test_a_late_drop_passes_once_delivered_and_rerun(spark, sample_lake: SampleLake, gated):
    day = DEFECT_DATES["late_drop"]
    assert not gated(day)["accounts"]["success"]
    deliver_late_drop(sample_lake.cfg, day)
    ingest(sample_lake.cfg, day)  # ingestion reruns for that date and lands the drop
    spec = sample_lake.spec(day)
    [passed] = steps.run_silver(spark, spec, ["accounts"])
    out = spec["silver"]["tables"][4]["outputs"]
    assert passed["success"], passed["failed"]
    assert_committed(passed)
    q = path(out["quarantine"])  # the quarantined partition is replaced: only records set aside remain there
    assert not (q / "result.json").exists() and not list(q.glob("*.parquet"))


def test_warn_severity_is_reported_and_passes(spark, clean_d1):
    spec = copy.deepcopy(clean_d1["spec"])
    table = spec["silver"]["tables"][4]
    table["suite"]["expectations"].append({"type": "expect_column_values_to_be_in_set", "severity": "warn",
                                           "kwargs": {"column": "industry", "value_set": ["software"]}})
    [doc] = steps.run_silver(spark, spec, ["accounts"])
    assert doc["success"] and doc["failed"] == []
    [warning] = doc["warnings"]
    assert warning["expectation"] == "expect_column_values_to_be_in_set" and warning["column"] == "industry"
    assert warning["severity"] == "warn" and warning["observed"]["unexpected_count"] > 0
    assert_committed(doc)
    assert "industry" in path(doc["report_uri"]).read_text()


def test_a_failed_gold_gate_quarantines_the_gold_partition(spark, clean_d1):
    spec = copy.deepcopy(clean_d1["spec"])
    gold = spec["gold"]
    gold["name"], gold["dataset"] = "customer_features_strict", "gold.customer_features_strict"
    gold["outputs"] = {k: v.replace("/customer_features/", "/customer_features_strict/")
                       for k, v in gold["outputs"].items()}
    gold["suite"]["expectations"].append({"type": "expect_column_mean_to_be_between", "severity": "fail",
                                          "kwargs": {"column": "churned", "min_value": 0.9, "max_value": 1.0}})
    [doc] = steps.run_gold(spark, spec)
    assert not doc["success"] and doc["dataset"] == "gold.customer_features_strict"
    assert {(f["expectation"], f["column"]) for f in doc["failed"]} == {("expect_column_mean_to_be_between",
                                                                        "churned")}
    assert 0 < doc["failed"][0]["observed"] < 0.9
    assert_quarantined(spark, doc, gold["outputs"])


def test_gx_runs_small_data_as_one_task_and_leaves_adaptive_execution_as_it_was(spark):
    from spark_jobs import quality

    df = spark.range(0, 100, numPartitions=4)
    assert quality.gx_frame(df, 100).rdd.getNumPartitions() == 1
    assert quality.gx_frame(df, quality.SINGLE_TASK_ROWS + 1).rdd.getNumPartitions() == 4
    assert quality.gx_frame(df, None).rdd.getNumPartitions() == 4
    suite = {"expectations": [{"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 101}}]}
    before = spark.conf.get("spark.sql.adaptive.enabled")
    verdict = quality.validate(df, suite, quality.GateContext(ds="2026-11-01", rows=100), "t.small")
    assert not verdict.success and verdict.failed[0].expectation == "expect_table_row_count_to_be_between"
    assert verdict.failed[0].observed == 100
    assert spark.conf.get("spark.sql.adaptive.enabled") == before
