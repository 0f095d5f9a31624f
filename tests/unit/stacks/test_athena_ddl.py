"""The Athena DDL rendered from the features section (mlpipe.stacks.aws.athena_ddl) and the shipped files."""

from __future__ import annotations

from pathlib import Path

from mlpipe.config.features import FeaturesConfig
from mlpipe.stacks.aws.athena_ddl import athena_ddl

ROOT = Path(__file__).resolve().parents[3]


def test_athena_ddl_files_are_the_sample_rendering():
    """include/sql/athena/<layer>_<table>.sql: one CREATE EXTERNAL TABLE per dataset, partitioned by dt."""
    rendered = athena_ddl(FeaturesConfig.sample())
    on_disk = {p.name: p.read_text() for p in (ROOT / "include/sql/athena").glob("*.sql")}
    assert on_disk == rendered
    ddl = rendered["gold_customer_features.sql"]
    assert ddl.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS gold_customer_features (\n  `customer_id` bigint,")
    assert "PARTITIONED BY (dt string)" in ddl and "STORED AS PARQUET" in ddl
    assert "LOCATION '{{ params.lake_root }}/gold/customer_features/'" in ddl


def test_every_silver_table_gets_its_declared_columns_in_order():
    f = FeaturesConfig.sample()
    ddl = athena_ddl(f)["silver_events.sql"]
    declared = [f"  `{c}` {t}" for c, t in f.table("events").columns.items()]
    assert ddl.split("(\n", 1)[1].split("\n)", 1)[0].split(",\n") == declared
    assert "LOCATION '{{ params.lake_root }}/silver/events/'" in ddl
