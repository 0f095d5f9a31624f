"""silver -> gold: as-of dates, point-in-time correctness and label maturity (on the clean first date)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from features_helpers import D1
from pyspark.sql import functions as F
from spark_jobs import gold
from spark_jobs.spec import as_of_dates

HORIZON = 30


@pytest.fixture(scope="module")
def inputs(spark, clean_d1) -> dict:
    spec = clean_d1["spec"]
    return {t: spark.read.parquet(clean_d1["silver"][f"silver.{t}"]["partition_uri"]) for t in spec["gold"]["inputs"]}


def rows_by_key(df, key: str = "customer_id") -> dict[tuple, dict]:
    return {(r[key], r["as_of"]): r.asDict() for r in df.collect()}


def same(a: dict, b: dict) -> bool:
    """Equal rows, doubles within rounding (sums may add up in another order)."""
    return a.keys() == b.keys() and all(
        math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-9) if isinstance(a[k], float) and b[k] is not None
        else a[k] == b[k] for k in a)


def test_as_of_dates_score_ds_and_train_only_where_the_label_matured(clean_d1):
    spec = clean_d1["spec"]
    dates = as_of_dates(spec)
    assert dates[0] == (D1, "score")
    train = [d for d, s in dates if s == "train"]
    assert len(train) == spec["gold"]["as_of"]["snapshots"] == 8
    assert train[0] == D1 - dt.timedelta(days=HORIZON) and train[1] == train[0] - dt.timedelta(days=7)
    assert all(d + dt.timedelta(days=HORIZON) <= D1 for d in train)


def test_gold_rows_train_with_matured_labels_score_without(spark, clean_d1):
    df = spark.read.parquet(clean_d1["gold"]["partition_uri"])
    by_split = {r["split"]: r for r in df.groupBy("split").agg(
        F.count("*").alias("n"), F.count("churned").alias("labelled"), F.max("as_of").alias("newest"),
        F.avg("churned").alias("rate")).collect()}
    assert by_split["score"]["labelled"] == 0 and by_split["score"]["newest"] == D1
    assert by_split["train"]["labelled"] == by_split["train"]["n"] > 0
    assert by_split["train"]["newest"] + dt.timedelta(days=HORIZON) <= D1
    assert 0 < by_split["train"]["rate"] < 0.5
    assert df.select("customer_id", "as_of").distinct().count() == df.count()


@pytest.fixture(scope="module")
def planted(spark, clean_d1, inputs) -> dict:
    """One gold build over silver with rows planted after an as-of date, at its last second, and label events."""
    base = rows_by_key(spark.read.parquet(clean_d1["gold"]["partition_uri"]))
    as_of = D1 - dt.timedelta(days=HORIZON)  # the newest training snapshot
    eligible = sorted(k for (k, a), r in base.items() if a == as_of and (k, D1) in base and r["churned"] == 0)
    who, edge_who, inside, outside = eligible[:4]
    after = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(0, 0, 1))
    edge = dt.datetime.combine(as_of, dt.time(23, 59, 59))

    def event(customer: int, at: dt.datetime, n: int):
        return inputs["events"].limit(1).select(
            F.lit(f"ev-planted-{n}").alias("event_id"), F.lit(customer).cast("bigint").alias("customer_id"),
            F.lit("s-planted").alias("session_id"), F.lit("support_contact").alias("event_type"),
            F.lit("/help").alias("page"), F.lit("web").alias("device"), F.lit(at).alias("event_ts"))

    events = inputs["events"].unionByName(event(who, after, 1)).unionByName(event(edge_who, edge, 2))
    payments = inputs["payments"].unionByName(inputs["payments"].limit(1).select(
        F.lit(10**9).cast("bigint").alias("payment_id"), F.lit(who).cast("bigint").alias("customer_id"),
        F.lit(0).cast("bigint").alias("subscription_id"), F.lit(-500.0).alias("amount"),
        F.lit("USD").alias("currency"), F.lit("failed").alias("status"), F.lit(after).alias("paid_at"),
        F.lit(after).alias("updated_at")))
    cancelled_at = F.col("cancelled_at")
    for customer, day in ((inside, as_of + dt.timedelta(days=HORIZON)), (outside, as_of + dt.timedelta(days=HORIZON + 1))):
        cancelled_at = F.when(F.col("customer_id") == customer, F.lit(dt.datetime.combine(day, dt.time(12)))
                              ).otherwise(cancelled_at)
    subscriptions = inputs["subscriptions"].withColumn("cancelled_at", cancelled_at)
    built = gold.build(spark, clean_d1["spec"], {**inputs, "events": events, "payments": payments,
                                                 "subscriptions": subscriptions})
    return {"base": base, "changed": rows_by_key(built), "as_of": as_of, "who": who, "edge_who": edge_who,
            "inside": inside, "outside": outside}


def test_a_planted_future_event_does_not_change_an_earlier_as_of(planted):
    base, changed, as_of, who = planted["base"], planted["changed"], planted["as_of"], planted["who"]
    assert same(changed[(who, as_of)], base[(who, as_of)])  # every feature of the earlier snapshot, unchanged
    score, before = changed[(who, D1)], base[(who, D1)]  # the snapshot of ds sees both planted rows
    assert score["events_30d"] == before["events_30d"] + 1
    assert score["support_events_30d"] == before["support_events_30d"] + 1
    assert score["payment_failures_30d"] == before["payment_failures_30d"] + 1
    assert math.isclose(score["monetary_90d"], before["monetary_90d"])  # a failed payment is not revenue


def test_an_event_at_the_last_second_of_the_as_of_day_counts(planted):
    key = (planted["edge_who"], planted["as_of"])
    assert planted["changed"][key]["events_7d"] == planted["base"][key]["events_7d"] + 1
    assert planted["changed"][key]["days_since_last_event"] == 0


def test_label_is_a_cancellation_within_the_horizon_after_as_of(planted):
    changed, as_of = planted["changed"], planted["as_of"]
    assert changed[(planted["inside"], as_of)]["churned"] == 1  # cancelled on as_of + horizon: in (as_of, as_of + H]
    assert changed[(planted["outside"], as_of)]["churned"] == 0  # a day later: outside the window
    assert changed[(planted["outside"], D1)]["churned"] is None  # scoring rows never carry a label
    assert (planted["inside"], D1) not in changed  # cancelled on ds: no longer in the population to score


def test_read_inputs_declares_the_schema_silver_wrote(spark, clean_d1):
    from spark_jobs.fs import LakeFS

    spec = clean_d1["spec"]
    tables = gold.read_inputs(spark, LakeFS(spark), spec)
    for name, df in tables.items():
        written = spark.read.parquet(clean_d1["silver"][f"silver.{name}"]["partition_uri"])
        assert df.schema == written.schema, name
        assert df.count() == written.count()


def test_write_returns_the_rows_written_each_file_ordered_by_as_of_and_key(spark, clean_d1, inputs, tmp_path):
    built = gold.build(spark, clean_d1["spec"], dict(inputs))
    rows = gold.write(built, clean_d1["spec"], str(tmp_path / "gold"))
    back = spark.read.parquet(str(tmp_path / "gold"))
    assert rows == back.count() == built.count() > 0
    for path in sorted((tmp_path / "gold").glob("*.parquet")):
        keys = [(r["as_of"], r["customer_id"]) for r in spark.read.parquet(str(path)).collect()]
        assert keys == sorted(keys)
