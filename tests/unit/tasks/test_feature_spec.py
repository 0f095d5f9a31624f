"""The job spec of ml_features (mlpipe.tasks.feature_spec): what the Spark jobs read, its suites, its errors."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from mlpipe.config import ConfigError, PipelineConfig, load_config
from mlpipe.config.features import FeaturesConfig
from mlpipe.lake import LakeLayout
from mlpipe.sample.targets import standalone_config
from mlpipe.tasks.feature_spec import gold_columns, job_spec, load_suite

ROOT = Path(__file__).resolve().parents[3]
LOCAL = yaml.safe_load((ROOT / "include/config/local.yaml").read_text())


def load(tmp_path: Path, doc: dict) -> PipelineConfig:
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_config("t", environ={"MLPIPE_CONFIG_DIR": str(tmp_path)})


def test_a_config_without_the_section_renders_the_sample_spec(tmp_path: Path):
    cfg = standalone_config(tmp_path)
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


def test_the_aws_spec_points_at_the_s3_lake():
    cfg = load_config("aws-dev", environ={})
    spec = job_spec(cfg, "2026-11-01")
    root = cfg.lake.root
    assert root.startswith("s3://") and spec["lake_root"] == root and spec["stack"] == "aws"
    assert spec["gold"]["outputs"] == {
        "partition": f"{root}/gold/customer_features/dt=2026-11-01",
        "quarantine": f"{root}/quarantine/gold/customer_features/dt=2026-11-01",
        "quarantine_rows": f"{root}/quarantine/gold/customer_features/dt=2026-11-01/rows",
        "result": f"{root}/quality/gold/customer_features/dt=2026-11-01/result.json",
        "report": f"{root}/quality/gold/customer_features/dt=2026-11-01/report.html",
    }
    lake = LakeLayout.from_config(cfg)
    for t in spec["silver"]["tables"]:
        assert t["outputs"] == lake.dataset_outputs("silver", t["name"], "2026-11-01")
        assert t["ingest_quarantine_uri"] == f"{root}/quarantine/{t['source']}/{t['source_table']}"


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


def test_job_spec_rejects_a_bad_date_and_a_missing_suite(tmp_path: Path):
    cfg = load_config("local", environ={})
    with pytest.raises(ConfigError, match=r"ds: '2026-13-01' is not a logical date; expected YYYY-MM-DD"):
        job_spec(cfg, "2026-13-01")
    with pytest.raises(ConfigError, match=r"ds: '20261101' is not a logical date"):
        job_spec(cfg, "20261101")
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


def test_a_suite_must_be_a_mapping_with_typed_expectations(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("- 1\n")
    (tmp_path / "b.yaml").write_text("expectations:\n  - {kwargs: {}}\n")
    with pytest.raises(ConfigError, match=r"a.yaml: must be a mapping with an 'expectations' list"):
        load_suite("a.yaml", "silver.a", include_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"b.yaml: expectations\[0\] needs a 'type'"):
        load_suite("b.yaml", "silver.b", include_dir=tmp_path)


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
