"""The two steps of ml_features, wired from the modules: silver (every table) and gold.

Each returns the result documents it wrote (one per dataset); a failed gate is a result, not an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs import bronze, gold, publish, quality, silver
from spark_jobs.fs import LakeFS
from spark_jobs.spec import outputs, quarantine_rows_dir

log = logging.getLogger(__name__)


def run_silver(spark: SparkSession, spec: Mapping[str, Any], tables: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """bronze -> silver for every table of the spec (or the named ones), each with its gate."""
    fs = LakeFS(spark)
    wanted = list(tables) if tables is not None else [t["name"] for t in spec["silver"]["tables"]]
    known = {t["name"]: t for t in spec["silver"]["tables"]}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(f"unknown silver tables {unknown}; the spec has {list(known)}")
    return [silver_table(spark, fs, spec, known[name]) for name in wanted]


def silver_table(spark: SparkSession, fs: LakeFS, spec: Mapping[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    ds, name = spec["ds"], table["name"]
    out = outputs(spec, "silver", name)
    data_tmp, quarantine_tmp = publish.prepare(fs, out)
    rows_tmp = quarantine_rows_dir(out, quarantine_tmp)
    raw = bronze.read(spark, fs, table, ds)
    classified = silver.classify(raw.df, table, ds)
    try:
        quarantined = classified.quarantined
        if classified.counts["rows_quarantined"]:
            quarantined.write.parquet(rows_tmp)
        built = silver.build(classified, table)
        silver.clustered(built, table).write.parquet(data_tmp)
    finally:
        classified.release()
    written_q = (spark.read.schema(quarantined.schema).parquet(rows_tmp).count()
                 if classified.counts["rows_quarantined"] else 0)
    counts = classified.counts
    rejected = ingest_rejects(spark, fs, table, ds)
    data = spark.read.schema(built.schema).parquet(data_tmp).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = data.count()
        ctx = quality.GateContext(
            ds=ds, kind=table["kind"], rows=rows,
            reconciliation={"rows_in": counts["rows_in"], "rows_out": counts["rows_out"], "rows_quarantined": written_q},
            quarantined_ds=counts["rows_quarantined_ds"], rows_in_ds=counts["rows_in_ds"], reasons=classified.reasons,
            quarantine_rows_uri=out["quarantine_rows"] if written_q else None,
            landed=raw.landed, bronze_partition_uri=f"{table['bronze_uri']}/dt={ds}",
            ingest_rejected_ds=rejected[0] if rejected else None, ingest_reasons=rejected[1] if rejected else {},
            ingest_quarantine_uri=f"{table['ingest_quarantine_uri']}/dt={ds}" if table.get("ingest_quarantine_uri")
            else None,
        )
        verdict = quality.validate(data, table["suite"], ctx, table.get("dataset", f"silver.{name}"))
    finally:
        data.unpersist()
    doc = publish.finish(fs, out, data_tmp, quarantine_tmp, verdict, ctx, rows, table["suite"])
    log.info("silver.%s dt=%s: %s, %d rows (%d read from %d bronze partitions, %d quarantined) in %.1f s", name, ds,
             "passed" if doc["success"] else "FAILED", rows, counts["rows_in"], len(raw.partitions), written_q,
             time.monotonic() - started)
    return doc


def ingest_rejects(spark: SparkSession, fs: LakeFS, table: Mapping[str, Any], ds: str) -> tuple[int, dict[str, int]] | None:
    """Records of ds that ingestion rejected (bronze quarantine), and their reason codes; a file rejected whole
    counts its rows."""
    base = table.get("ingest_quarantine_uri")
    if not base:
        return None
    files = [f for f in fs.files(f"{base}/dt={ds}")
             if f.endswith(".rejects.jsonl") or f.rsplit("/", 1)[-1] == "rows.jsonl"]
    if not files:
        return 0, {}
    df = spark.read.json(files)
    n = F.lit(1)
    if {"_scope", "_rows"} <= set(df.columns):
        n = F.when(F.col("_scope") == "file", F.coalesce(F.col("_rows").cast("bigint"), F.lit(0))).otherwise(n)
    code = F.col("_reason_code") if "_reason_code" in df.columns else F.lit("rejected")
    reasons = {r["code"] or "rejected": int(r["n"] or 0)
               for r in df.groupBy(code.alias("code")).agg(F.sum(n).alias("n")).collect()}
    return sum(reasons.values()), dict(sorted(reasons.items()))


def run_gold(spark: SparkSession, spec: Mapping[str, Any], tables: Mapping[str, DataFrame] | None = None) -> list[dict[str, Any]]:
    """silver -> gold for ds, with its gate (``tables`` replaces the silver partitions, for tests)."""
    started = time.monotonic()
    fs = LakeFS(spark)
    g = spec["gold"]
    out = outputs(spec, "gold", g["name"])
    inputs = dict(tables) if tables is not None else gold.read_inputs(spark, fs, spec)
    data_tmp, quarantine_tmp = publish.prepare(fs, out)
    # the rows are cached as the write computes them; the gate then checks exactly those rows, in memory
    data = gold.build(spark, spec, inputs).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = gold.write(data, spec, data_tmp)
        ctx = quality.GateContext(ds=spec["ds"], kind="gold", rows=rows,
                                  reconciliation={"rows_in": rows, "rows_out": rows, "rows_quarantined": 0})
        verdict = quality.validate(data, g["suite"], ctx, g.get("dataset", f"gold.{g['name']}"))
    finally:
        data.unpersist()
    doc = publish.finish(fs, out, data_tmp, quarantine_tmp, verdict, ctx, rows, g["suite"])
    log.info("gold.%s dt=%s: %s, %d rows in %.1f s", g["name"], spec["ds"], "passed" if doc["success"] else "FAILED",
             rows, time.monotonic() - started)
    return [doc]
