"""silver -> gold: the feature table of one logical date, point in time (see :mod:`spark_jobs.gold_sql`).

:func:`build` takes the silver tables as DataFrames (tests plant rows in them); :func:`read_inputs` loads
the committed silver partitions of ds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from spark_jobs import gold_sql
from spark_jobs.fs import LakeFS
from spark_jobs.spec import as_of_dates, ds_day, outputs, quarantined_result


class MissingInput(RuntimeError):
    """A silver partition the gold table needs is not committed for ds (its gate failed, or it never ran)."""


def read_inputs(spark: SparkSession, fs: LakeFS, spec: Mapping[str, Any]) -> dict[str, DataFrame]:
    tables = {}
    for name in spec["gold"]["inputs"]:
        out = outputs(spec, "silver", name)
        if not fs.is_committed(out["partition"]):
            where = (f"it was quarantined ({out['quarantine']}); see {out['report']}"
                     if fs.exists(quarantined_result(out)) else "run the silver step first")
            raise MissingInput(f"gold.{spec['gold']['name']} needs silver.{name} for {spec['ds']}, but "
                               f"{out['partition']} is not committed: {where}")
        reader = spark.read
        columns = (spec["gold"].get("input_columns") or {}).get(name)
        if columns:  # the silver step writes exactly the declared columns: no footers to read for the schema
            reader = reader.schema(", ".join(f"`{c}` {t}" for c, t in columns.items()))
        tables[name] = reader.parquet(out["partition"])
    return tables


def as_of_frame(spark: SparkSession, spec: Mapping[str, Any]) -> DataFrame:
    """as_of_dates(i, as_of, split) as an inline table: joins broadcast it without running a Spark job."""
    rows = ", ".join(f"({i}, DATE'{d.isoformat()}', '{split}')" for i, (d, split) in enumerate(as_of_dates(spec)))
    return spark.sql(f"SELECT * FROM VALUES {rows} AS t(i, as_of, split)")


def params_frame(spark: SparkSession, spec: Mapping[str, Any]) -> DataFrame:
    """run_params(ds_day) as an inline table (its scalar subquery is read without a Spark job)."""
    return spark.sql(f"SELECT * FROM VALUES ({ds_day(spec)}) AS t(ds_day)")


def build(spark: SparkSession, spec: Mapping[str, Any], tables: Mapping[str, DataFrame]) -> DataFrame:
    """The gold rows for ds: one per entity and as-of date, typed as the spec's gold.columns."""
    gold = spec["gold"]
    missing = sorted(set(gold["inputs"]) - set(tables))
    if missing:
        raise MissingInput(f"gold.{gold['name']}: no DataFrame for silver tables {missing}")
    for name in gold["inputs"]:
        tables[name].createOrReplaceTempView(name)
    as_of_frame(spark, spec).createOrReplaceTempView("as_of_dates")
    params_frame(spark, spec).createOrReplaceTempView("run_params")
    # each step is a view: Spark inlines them into one plan (a step read twice shares its shuffle)
    ctes, final = gold_sql.parts(gold, "spark")
    for name, body in ctes:
        spark.sql(body).createOrReplaceTempView(name)
    df = spark.sql(final)
    expected = [c["name"] for c in gold["columns"]]
    if df.columns != expected:
        raise RuntimeError(f"gold SQL produced columns {df.columns}, the spec declares {expected}")
    return df


def write(df: DataFrame, spec: Mapping[str, Any], path: str) -> int:
    """Write the gold rows to ``path`` (ordered by as_of and key inside each file: smaller files, fast reads of
    one snapshot); returns the rows written, counted as they pass (an observation, not another Spark job)."""
    key = spec["gold"]["entity"]["key"]
    written = Observation("gold_rows")
    (df.observe(written, F.count(F.lit(1)).alias("rows"))
       .sortWithinPartitions(F.col("as_of"), F.col(key))
       .write.mode("overwrite").parquet(path))
    return int(written.get["rows"])
