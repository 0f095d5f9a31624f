"""The features section's schema (mlpipe.config.features): types, ranges, field checks, unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from features_section import changed, error_of
from mlpipe.config.feature_sample import SAMPLE_FEATURES
from mlpipe.config.features import AggregateFeature, FeaturesConfig, SparkSettings


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("silver.0.columns.email", "varchar", "features.silver.0.columns.email: Input should be 'string', 'bigint', "
                                              "'int', 'double', 'boolean', 'date' or 'timestamp' (got 'varchar')"),
        ("gold.features.4.windows", [7, 7], "features.gold.features.4.aggregate.windows: a window is listed twice"),
        ("gold.features.4.windows", [0], "features.gold.features.4.aggregate.windows: each window must be 1..3660"),
        ("gold.features.4.agg", "median", "features.gold.features.4.aggregate.agg: Input should be 'count', 'sum', "
                                          "'avg', 'min' or 'max' (got 'median')"),
        ("gold.features.4.kind", "rolling", "features.gold.features.4: Input tag 'rolling' found using 'kind' does "
                                            "not match any of the expected tags"),
        ("gold.label.horizon_days", 0, "features.gold.label.event.horizon_days: Input should be greater than or "
                                       "equal to 1 (got 0)"),
        ("gold.as_of.snapshots", -1, "features.gold.as_of.snapshots: Input should be greater than or equal to 0"),
        ("gold.labl", 1, "features.gold.labl: unknown key; remove it or fix its spelling"),
        ("spark.driver_memory", "lots", "features.spark.driver_memory: must be a Spark memory size like 512m or 2g "
                                        "(got 'lots')"),
        ("spark.conf", {"sql.shuffle": "1"}, "features.spark.conf: keys must be Spark settings starting with 'spark.'"),
        ("gold.features", [], "features.gold.features: List should have at least 1 item"),
    ],
)
def test_invalid_features_name_key_value_and_what_is_allowed(tmp_path: Path, path: str, value, expected: str):
    assert expected in error_of(tmp_path, changed(path, value))


def test_windows_name_the_output_columns():
    feat = AggregateFeature(kind="aggregate", name="events", table="events", time="event_ts", agg="count",
                            windows=[7, None])
    assert feat.output_names() == ["events_7d", "events"]
    with pytest.raises(ValueError, match=r"each window must be 1..3660 days, or null for all history"):
        AggregateFeature(kind="aggregate", name="e", table="events", time="event_ts", agg="count", windows=[])


def test_spark_settings_render_every_spark_conf_key():
    conf = SparkSettings(broadcast_threshold_mb=-1, adaptive=False, conf={"spark.x": "1"}).spark_conf()
    assert conf["spark.sql.autoBroadcastJoinThreshold"] == "-1"
    assert conf["spark.sql.adaptive.enabled"] == conf["spark.sql.adaptive.coalescePartitions.enabled"] == "false"
    assert conf["spark.sql.session.timeZone"] == "UTC" and conf["spark.x"] == "1"
    assert SparkSettings().spark_conf()["spark.sql.autoBroadcastJoinThreshold"] == "64m"


def test_the_section_is_checked_on_its_own_too():
    """FeaturesConfig validates its cross-checks without a PipelineConfig around it (the models' validators)."""
    doc = {**SAMPLE_FEATURES, "gold": {**SAMPLE_FEATURES["gold"], "entity": {"table": "nope", "key": "customer_id"}}}
    with pytest.raises(ValueError, match=r"gold.entity.table\n.*'nope' is not a silver table"):
        FeaturesConfig.model_validate(doc)


def test_suite_paths_default_to_the_dataset_name():
    f = FeaturesConfig.sample()
    assert f.table("events").suite_path == "quality/silver/events.yaml"
    assert f.gold.suite_path == "quality/gold/customer_features.yaml"
    with pytest.raises(KeyError):
        f.table("nope")
