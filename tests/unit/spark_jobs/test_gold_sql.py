"""The gold SQL: the checked-in file is what the sample's features section renders, the as-of dates match the
snapshot offsets, and DuckDB runs the same SQL (dialect shim) to the same rows as Spark."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
from features_helpers import D1
from mlpipe.config import load_config
from mlpipe.tasks.feature_spec import job_spec
from spark_jobs import gold_sql
from spark_jobs.spec import as_of_dates

from bench.bench_features import duckdb_gold, same_rows

ROOT = Path(__file__).resolve().parents[3]


def sample_gold() -> dict:
    return job_spec(load_config("local", environ={}), D1)["gold"]


def test_checked_in_sql_is_the_sample_rendering():
    """include/sql/gold/customer_features.sql shows exactly what runs (regenerate: python -m spark_jobs.gold_sql)."""
    assert (ROOT / "include/sql/gold/customer_features.sql").read_text() == gold_sql.render(sample_gold(), "spark")


def test_the_sql_does_not_depend_on_the_date():
    a = job_spec(load_config("local", environ={}), "2026-11-01")["gold"]
    b = job_spec(load_config("local", environ={}), "2027-03-15")["gold"]
    assert gold_sql.render(a, "spark") == gold_sql.render(b, "spark")
    assert "2026" not in gold_sql.render(a, "duckdb")


def test_as_of_dates_follow_the_snapshot_offsets():
    spec = {"ds": "2026-11-10", "gold": sample_gold()}
    assert gold_sql.offsets(spec["gold"]) == [0, 30, 37, 44, 51, 58, 65, 72, 79]
    dates = as_of_dates(spec)
    assert dates[0] == (dt.date(2026, 11, 10), "score")
    assert [d for d, _ in dates[1:]] == [dt.date(2026, 11, 10) - dt.timedelta(days=o) for o in (30, 37, 44, 51, 58,
                                                                                                  65, 72, 79)]


def test_duckdb_runs_the_same_sql_to_the_same_rows(clean_d1, tmp_path: Path):
    spec = clean_d1["spec"]
    silver = {name: doc["partition_uri"].removeprefix("file://") for name, doc in
              ((d.split(".")[1], v) for d, v in clean_d1["silver"].items())}
    out = tmp_path / "gold-duckdb.parquet"
    duckdb_gold(spec, silver, out, threads=2)
    spark_rows = pq.read_table(clean_d1["gold"]["partition_uri"].removeprefix("file://"))
    assert spark_rows.num_rows > 0
    assert same_rows(spark_rows, pq.read_table(out).cast(spark_rows.schema), "customer_id") is None
