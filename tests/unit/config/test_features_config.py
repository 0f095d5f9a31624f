"""The features section: shipped configs, the rendered job spec, and precise errors for every wrong value."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from mlpipe.config import load_config
from mlpipe.config.features import FeaturesConfig, gold_columns, job_spec, load_suite
from mlpipe.errors import ConfigError
from mlpipe.sample.targets import standalone_config

ROOT = Path(__file__).resolve().parents[3]
LOCAL = yaml.safe_load((ROOT / "include/config/local.yaml").read_text())


def load(tmp_path: Path, doc: dict, name: str = "t", env: dict[str, str] | None = None):
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_config(name, environ={"MLPIPE_CONFIG_DIR": str(tmp_path), **(env or {})})


def error_of(tmp_path: Path, doc: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, doc)
    return str(info.value)


def changed(path: str, value) -> dict:
    """local.yaml with one key of its features section set (or removed, with KeyError)."""
    doc = copy.deepcopy(LOCAL)
    node = doc["features"]
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key = int(last) if last.isdigit() else last
    if value is KeyError:
        del node[key]
    else:
        node[key] = value
    return doc


def test_shipped_configs_have_the_sample_features():
    local, aws = load_config("local", environ={}), load_config("aws-dev", environ={})
    sample = FeaturesConfig.sample()
    assert local.features.silver == sample.silver and local.features.gold == sample.gold
    assert aws.features.silver == sample.silver and aws.features.gold == sample.gold
    assert (local.features.spark.shuffle_partitions, aws.features.spark.shuffle_partitions) == (4, 64)


def test_a_config_without_the_section_gets_the_sample_features(tmp_path: Path):
    cfg = standalone_config(tmp_path)
    assert cfg.features == FeaturesConfig.sample()
    assert json.loads(json.dumps(job_spec(cfg, "2026-11-01")))["gold"]["name"] == "customer_features"


def test_job_spec_is_json_with_everything_the_job_needs(tmp_path: Path):
    cfg = load(tmp_path, {**LOCAL, "lake": {"root": f"file://{tmp_path}/lake"}})
    spec = json.loads(json.dumps(job_spec(cfg, dt.date(2026, 11, 3))))
    assert spec["spec_version"] == 1 and spec["job"] == "ml_features" and spec["ds"] == "2026-11-03"
    assert spec["lake_root"] == f"file://{tmp_path}/lake"
    assert spec["spark"]["driver_memory"] == "2g" and spec["spark"]["shuffle_partitions"] == 4
    assert spec["spark"]["conf"]["spark.sql.shuffle.partitions"] == "4"
    assert spec["spark"]["conf"]["spark.sql.adaptive.enabled"] == "true"
    tables = {t["name"]: t for t in spec["silver"]["tables"]}
    assert list(tables) == ["customers", "subscriptions", "payments", "events", "accounts"]
    assert tables["payments"]["kind"] == "cdc" and tables["payments"]["format"] == "dms"
    assert tables["payments"]["key"] == ["payment_id"]  # from the database source's primary key
    assert tables["events"]["kind"] == "events" and tables["events"]["format"] == "jsonl"
    assert tables["accounts"]["kind"] == "latest" and tables["accounts"]["order_by"] == ["updated_date"]
    assert tables["accounts"]["bronze_uri"] == f"file://{tmp_path}/lake/bronze/partner/accounts"
    assert tables["events"]["columns"][-1] == {"name": "event_ts", "type": "timestamp"}
    # what the gold job aggregates per customer is written clustered by customer; tables keyed by it are not
    assert {n: t.get("cluster_by") for n, t in tables.items()} == {
        "customers": None, "subscriptions": ["customer_id"], "payments": ["customer_id"], "events": ["customer_id"],
        "accounts": None}
    assert tables["events"]["outputs"] == {
        "partition": f"file://{tmp_path}/lake/silver/events/dt=2026-11-03",
        "quarantine": f"file://{tmp_path}/lake/quarantine/silver/events/dt=2026-11-03",
        "quarantine_rows": f"file://{tmp_path}/lake/quarantine/silver/events/dt=2026-11-03/rows",
        "result": f"file://{tmp_path}/lake/quality/silver/events/dt=2026-11-03/result.json",
        "report": f"file://{tmp_path}/lake/quality/silver/events/dt=2026-11-03/report.html",
    }
    suite = tables["events"]["suite"]
    assert suite["path"] == "quality/silver/events.yaml" and suite["expectations"]
    assert all(e["severity"] in ("fail", "warn") for t in tables.values() for e in t["suite"]["expectations"])
    gold = spec["gold"]
    assert gold["name"] == "customer_features" and gold["label"]["horizon_days"] == 30
    assert gold["inputs"] == ["accounts", "customers", "events", "payments", "subscriptions"]
    assert [c["name"] for c in gold["columns"]][:3] == ["customer_id", "as_of", "split"]
    assert gold["columns"][-1] == {"name": "churned", "type": "int"}


def test_gold_suite_schema_matches_the_rendered_columns():
    """The shipped gold suite checks exactly the columns the features section produces."""
    suite = load_suite("quality/gold/customer_features.yaml", "gold.customer_features")
    schema = next(e for e in suite["expectations"] if e["type"] == "schema")
    assert schema["columns"] == {c["name"]: c["type"] for c in gold_columns(FeaturesConfig.sample())}


def test_silver_suites_schema_match_the_declared_columns():
    for table in FeaturesConfig.sample().silver:
        suite = load_suite(table.suite_path, f"silver.{table.name}")
        schema = next(e for e in suite["expectations"] if e["type"] == "schema")
        assert schema["columns"] == dict(table.columns), table.name


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("silver.0.source", "nope", "features.silver.0.source: 'nope' is not a configured source; choose one of "
                                    "['clickstream', 'oltp', 'partner'] (got 'nope')"),
        ("silver.1.table", "orders", "features.silver.1.table: 'orders' is not a table of source 'oltp'; choose one "
                                     "of ['customers', 'subscriptions', 'payments'] (got 'orders')"),
        ("silver.4.key", KeyError, "features.silver.4.key: file source 'partner' has no primary key"),
        ("silver.0.columns.email", "varchar", "features.silver.0.columns.email: Input should be 'string', 'bigint', "
                                              "'int', 'double', 'boolean', 'date' or 'timestamp' (got 'varchar')"),
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
        ("gold.features.4.windows", [7, 7], "features.gold.features.4.aggregate.windows: a window is listed twice"),
        ("gold.features.4.windows", [0], "features.gold.features.4.aggregate.windows: each window must be 1..3660"),
        ("gold.features.4.agg", "median", "features.gold.features.4.aggregate.agg: Input should be 'count', 'sum', "
                                          "'avg', 'min' or 'max' (got 'median')"),
        ("gold.features.4.kind", "rolling", "features.gold.features.4: Input tag 'rolling' found using 'kind' does "
                                            "not match any of the expected tags"),
        ("gold.entity.table", "events", "features.gold.entity.key: silver table 'events' has the key ['event_id']; "
                                        "the entity table needs one row per entity key (got 'customer_id')"),
        ("gold.entity.key", "email", "features.gold.features.14.table: silver table 'accounts' has no column 'email' "
                                     "(the entity key) to join on (got 'accounts')"),
        ("gold.label.horizon_days", 0, "features.gold.label.event.horizon_days: Input should be greater than or "
                                       "equal to 1 (got 0)"),
        ("gold.label.time", "status", "features.gold.label.time: column 'subscriptions.status' is string"),
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


def test_job_spec_rejects_a_bad_date_and_a_missing_suite(tmp_path: Path):
    cfg = load_config("local", environ={})
    with pytest.raises(ConfigError, match=r"ds: '2026-13-01' is not a logical date; expected YYYY-MM-DD"):
        job_spec(cfg, "2026-13-01")
    with pytest.raises(ConfigError, match=r"silver.customers: expectation suite .*quality/silver/customers.yaml "
                                          r"does not exist"):
        job_spec(cfg, "2026-11-01", include_dir=tmp_path)


def test_suite_entries_need_a_severity(tmp_path: Path):
    (tmp_path / "quality").mkdir()
    (tmp_path / "quality/s.yaml").write_text("expectations:\n  - {type: expect_column_values_to_not_be_null, "
                                             "kwargs: {column: a}, severity: fatal}\n")
    with pytest.raises(ConfigError, match=r"expectations\[0\] \(expect_column_values_to_not_be_null\).severity: must "
                                          r"be 'fail' or 'warn' \(got 'fatal'\)"):
        load_suite("quality/s.yaml", "silver.s", include_dir=tmp_path)


def test_job_spec_checks_a_default_section_against_the_sources(tmp_path: Path):
    """A config whose sources differ from the sample's and that has no features section fails at job_spec."""
    doc = copy.deepcopy(LOCAL)
    del doc["features"]
    doc["sources"] = [doc["sources"][2]]
    cfg = load(tmp_path, doc)
    with pytest.raises(ConfigError, match=r"features.silver.0.source: 'oltp' is not a configured source; choose one "
                                          r"of \['partner'\]"):
        job_spec(cfg, "2026-11-01")


def test_csv_dataset_config_is_valid():
    cfg = load_config("local-csv", environ={})
    spec = job_spec(cfg, "2026-11-02")
    assert [t["name"] for t in spec["silver"]["tables"]] == ["crm_customers"]
    assert spec["gold"]["label"]["kind"] == "column"


def test_athena_ddl_files_are_the_sample_rendering():
    """include/sql/athena/<layer>_<table>.sql: one CREATE EXTERNAL TABLE per dataset, partitioned by dt."""
    from mlpipe.config.features import athena_ddl

    rendered = athena_ddl(FeaturesConfig.sample())
    on_disk = {p.name: p.read_text() for p in (ROOT / "include/sql/athena").glob("*.sql")}
    assert on_disk == rendered
    ddl = rendered["gold_customer_features.sql"]
    assert ddl.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS gold_customer_features (\n  `customer_id` bigint,")
    assert "PARTITIONED BY (dt string)" in ddl and "STORED AS PARQUET" in ddl
    assert "LOCATION '{{ params.lake_root }}/gold/customer_features/'" in ddl
