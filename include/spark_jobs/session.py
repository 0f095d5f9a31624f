"""The SparkSession: settings from the spec, UTC, Parquet timestamps that every engine reads alike."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from pyspark.sql import SparkSession

# Always on, whatever the spec says: the lake's times are UTC and Parquet timestamps portable (Athena, DuckDB);
# ANSI SQL semantics explicitly, on EMR's Spark 3.5 (default off) as on local Spark 4 (default on), so an invalid
# cast or an overflow fails the step on both instead of turning into null or a wrapped number on one of them
# (values of the source's records are cast with try_cast: a bad one is quarantined on both).
FIXED = {
    "spark.sql.ansi.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionOverwriteMode": "static",
}
# Settings that only take effect when the JVM starts (spark-submit --conf / the builder), not at runtime.
STARTUP_ONLY = ("spark.driver.", "spark.executor.", "spark.ui.", "spark.master", "spark.local.dir",
                "spark.serializer", "spark.jars")


def spark_conf(spec: Mapping[str, Any] | None) -> dict[str, str]:
    conf = dict(((spec or {}).get("spark") or {}).get("conf") or {})
    conf.update(FIXED)
    return {k: str(v) for k, v in conf.items()}


def build(conf: Mapping[str, str], master: str | None = None, app_name: str = "ml_features") -> SparkSession:
    """A new (or the running) session with ``conf``; Python workers use this interpreter."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for key, value in {**conf, **FIXED}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    apply_runtime(spark, conf)
    return spark


def apply_runtime(spark: SparkSession, conf: Mapping[str, str]) -> None:
    """Set the spec's runtime (spark.sql.*) settings on a running session (spark-submit set the rest)."""
    for key, value in {**conf, **FIXED}.items():
        # static SQL settings (the warehouse, the codegen cache) only take effect at startup
        if key.startswith("spark.sql.") and spark.conf.isModifiable(key):
            spark.conf.set(key, value)
