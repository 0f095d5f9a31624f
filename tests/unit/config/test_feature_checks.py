"""The features section's cross-checks (mlpipe.config.feature_checks): references between tables and columns, the
fit to the configured sources; each error names the key, the value and what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from features_section import LOCAL, changed, error_of, load
from mlpipe.config import ConfigError, load_config
from mlpipe.config.feature_checks import check_sources, reference_problems, source_problems
from mlpipe.config.features import FeaturesConfig


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("silver.0.source", "nope", "features.silver.0.source: 'nope' is not a configured source; choose one of "
                                    "['clickstream', 'oltp', 'partner'] (got 'nope')"),
        ("silver.1.table", "orders", "features.silver.1.table: 'orders' is not a table of source 'oltp'; choose one "
                                     "of ['customers', 'subscriptions', 'payments'] (got 'orders')"),
        ("silver.4.key", KeyError, "features.silver.4.key: file source 'partner' has no primary key"),
        ("silver.3.event_time", "page", "features.silver.3.event_time: column 'page' is string; it must be one of "
                                        "['date', 'timestamp'] (got 'page')"),
        ("silver.3.key", ["id"], "features.silver.3.key: ['id'] must be among the declared columns"),
        ("silver.1.name", "customers", "features.silver.1.name: the name is used by another silver table"),
        ("silver.1.order_by", ["updated_at"], "features.silver.1.order_by: database tables are applied in DMS "
                                              "commit order; remove order_by"),
        ("gold.features.4.table", "evnts", "features.gold.features.4.table: 'evnts' is not a silver table; choose "
                                           "one of ['customers', 'subscriptions', 'payments', 'events', 'accounts'] "
                                           "(got 'evnts')"),
        ("gold.features.10.column", "currency", "features.gold.features.10.column: column 'payments.currency' is "
                                                "string; it must be one of ['bigint', 'double', 'int'] (got 'currency')"),
        ("gold.features.4.time", "event_time", "features.gold.features.4.time: column 'event_time' is not in silver "
                                               "table 'events'"),
        ("gold.features.5.where", "1 = 1; drop table x", "features.gold.features.5.where: must be a row filter"),
        ("gold.features.5.where", "customer_id in (select 1)", "features.gold.features.5.where: must be a row filter"),
        ("gold.features.5.name", "events", "features.gold.features.5.name: the output column 'events_30d' is already "
                                           "produced"),
        ("gold.features.10.column", KeyError, "features.gold.features.10.aggregate.column: agg 'sum' needs a column to "
                                              "aggregate"),
        ("gold.entity.table", "events", "features.gold.entity.key: silver table 'events' has the key ['event_id']; "
                                        "the entity table needs one row per entity key (got 'customer_id')"),
        ("gold.entity.key", "email", "features.gold.features.14.table: silver table 'accounts' has no column 'email' "
                                     "(the entity key) to join on (got 'accounts')"),
        ("gold.label.time", "status", "features.gold.label.time: column 'subscriptions.status' is string"),
    ],
)
def test_invalid_references_name_key_value_and_what_is_allowed(tmp_path: Path, path: str, value, expected: str):
    assert expected in error_of(tmp_path, changed(path, value))


def test_a_column_label_cannot_have_snapshots(tmp_path: Path):
    doc = changed("gold.label", {"kind": "column", "name": "churned", "table": "customers",
                                 "column": "marketing_opt_in"})
    assert ("features.gold.as_of.snapshots: a 'column' label has no history to snapshot; set it to 0 (got 8)"
            in error_of(tmp_path, doc))


def test_source_names_reserved_for_lake_layers(tmp_path: Path):
    doc = copy.deepcopy(LOCAL)
    doc["sources"][1]["name"] = "silver"
    doc["features"]["silver"][3]["source"] = "silver"
    assert "features.silver.3.source: a source named 'silver' would share the lake folder" in error_of(tmp_path, doc)


def test_the_sample_section_has_no_problem_with_the_sample_sources():
    cfg = load_config("local", environ={})
    assert reference_problems(FeaturesConfig.sample()) == []
    assert source_problems(FeaturesConfig.sample(), cfg.sources) == []
    check_sources(cfg)


def test_check_sources_raises_one_config_error_listing_every_misfit(tmp_path: Path):
    """A section left at its default is not checked at load time: check_sources says what does not fit."""
    doc = copy.deepcopy(LOCAL)
    del doc["features"]
    doc["sources"] = [doc["sources"][2]]
    cfg = load(tmp_path, doc)
    with pytest.raises(ConfigError) as info:
        check_sources(cfg)
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid features section for the configured sources:"
    assert lines[1] == ("  features.silver.0.source: 'oltp' is not a configured source; choose one of ['partner'] "
                        "(got 'oltp')")
    assert len(lines) == 1 + 4  # customers, subscriptions, payments (oltp) and events (clickstream)
