"""Read a source's committed bronze partitions (dt <= ds) as raw records, one row per record.

Every format yields the same columns: the declared columns (strings for text formats, Parquet's own types
for DMS files), ``_corrupt`` (the raw text when a record could not be parsed), ``_raw`` (the record as
received, for quarantine), ``_source_dt`` and ``_source_file``; DMS files add ``Op``, ``_dms_commit_ts`` and
``_dms_change_seq`` (a string, as DMS writes ``$AR_H_CHANGE_SEQ``: 35 digits, empty for full-load rows; see
:mod:`spark_jobs.cdc`). Blank lines are not records. A declared column the files lack reads as null.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.fs import LakeFS

OP, COMMIT_TS, CHANGE_SEQ = "Op", "_dms_commit_ts", "_dms_change_seq"
DMS_META = (OP, COMMIT_TS, CHANGE_SEQ)
CORRUPT, RAW, SOURCE_DT, SOURCE_FILE = "_corrupt", "_raw", "_source_dt", "_source_file"
_DT = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_DT_IN_PATH = r".*/dt=(\d{4}-\d{2}-\d{2})/"


@dataclass
class Bronze:
    """The raw records of one table up to ds, and which partitions they came from."""

    df: DataFrame
    partitions: list[str] = field(default_factory=list)  # committed dt values read, oldest first
    landed: bool = False  # whether the partition of ds itself is committed
    files: int = 0


def committed_partitions(fs: LakeFS, table_uri: str, ds: str) -> list[tuple[str, str]]:
    """(dt, uri) of the table's complete partitions with dt <= ds, oldest first."""
    out = []
    for entry in fs.list(table_uri):
        m = _DT.match(entry.name)
        if entry.is_dir and m and m.group(1) <= ds and fs.is_committed(entry.uri):
            out.append((m.group(1), entry.uri))
    return out


def read(spark: SparkSession, fs: LakeFS, table: Mapping[str, Any], ds: str) -> Bronze:
    parts = committed_partitions(fs, table["bronze_uri"], ds)
    uris = [uri for _, uri in parts]
    columns = [c["name"] for c in table["columns"]]
    files = [f for uri in uris for f in fs.files(uri)]
    reader = {"dms": _read_dms, "jsonl": _read_jsonl, "csv": _read_csv}.get(table["format"])
    if reader is None:
        raise ValueError(f"silver table {table['name']}: unknown bronze format {table['format']!r}")
    df = reader(spark, fs, files, columns, table) if files else _empty(spark, columns, table)
    return Bronze(df=df, partitions=[d for d, _ in parts], landed=bool(parts) and parts[-1][0] == ds,
                  files=len(files))


def _source_cols() -> list[Column]:
    path = F.col("_metadata.file_path")
    return [F.regexp_extract(path, _DT_IN_PATH, 1).alias(SOURCE_DT), path.alias(SOURCE_FILE)]


def _empty(spark: SparkSession, columns: Sequence[str], table: Mapping[str, Any]) -> DataFrame:
    cols = [F.lit(None).cast("string").alias(c) for c in columns]
    if table["format"] == "dms":
        cols += [F.lit(None).cast("string").alias(OP), F.lit(None).cast("timestamp").alias(COMMIT_TS),
                 F.lit(None).cast("string").alias(CHANGE_SEQ)]
    cols += [F.lit(None).cast("string").alias(n) for n in (CORRUPT, RAW, SOURCE_DT, SOURCE_FILE)]
    return spark.range(0).select(*cols)


def _pick(df: DataFrame, names: Sequence[str]) -> list[Column]:
    have = set(df.columns)
    return [F.col(n) if n in have else F.lit(None).cast("string").alias(n) for n in names]


def _read_dms(spark: SparkSession, fs: LakeFS, files: list[str], columns: Sequence[str],
              table: Mapping[str, Any]) -> DataFrame:
    df = spark.read.option("mergeSchema", "true").parquet(*files)
    missing = [m for m in DMS_META if m not in df.columns]
    if missing:
        raise ValueError(f"silver table {table['name']}: bronze files under {table['bronze_uri']} lack the DMS "
                         f"columns {missing}; they are not in DMS's S3 target layout")
    data = [c for c in df.columns if c not in DMS_META]
    raw = F.to_json(F.struct(*[F.col(c) for c in (*DMS_META, *data)]))
    return df.select(*_pick(df, columns), F.col(OP), F.col(COMMIT_TS).cast("timestamp").alias(COMMIT_TS),
                     F.col(CHANGE_SEQ).cast("string").alias(CHANGE_SEQ),  # never a number: see spark_jobs.cdc
                     F.lit(None).cast("string").alias(CORRUPT), raw.alias(RAW), *_source_cols())


def _read_jsonl(spark: SparkSession, fs: LakeFS, files: list[str], columns: Sequence[str],
                table: Mapping[str, Any]) -> DataFrame:
    schema = T.StructType([T.StructField(c, T.StringType()) for c in columns]
                          + [T.StructField(CORRUPT, T.StringType())])
    text = spark.read.text(files).select(F.col("value"), *_source_cols())
    text = text.filter(F.trim(F.col("value")) != "")
    parsed = F.from_json(F.col("value"), schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT})
    return text.select(parsed.alias("j"), F.col("value").alias(RAW), SOURCE_DT, SOURCE_FILE).select(
        *[F.col(f"j.{c}").alias(c) for c in columns], F.col(f"j.{CORRUPT}").alias(CORRUPT), RAW, SOURCE_DT,
        SOURCE_FILE)


def _read_csv(spark: SparkSession, fs: LakeFS, files: list[str], columns: Sequence[str],
              table: Mapping[str, Any]) -> DataFrame:
    """Files grouped by header, each group read with its own header's columns, then selected by name."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for f in files:
        header = next(csv.reader(io.StringIO(fs.first_line(f))), [])
        groups.setdefault(tuple(h.strip() for h in header), []).append(f)
    frames = []
    for header, group in groups.items():
        if not header or len(set(header)) != len(header):
            raise ValueError(f"silver table {table['name']}: CSV files {group[:3]} have an empty or repeated "
                             f"header {list(header)}")
        schema = T.StructType([T.StructField(f"_h{i}", T.StringType()) for i in range(len(header))]
                              + [T.StructField(CORRUPT, T.StringType())])
        df = (spark.read.schema(schema).option("header", "true").option("mode", "PERMISSIVE")
              .option("columnNameOfCorruptRecord", CORRUPT).option("multiLine", "false").csv(group))
        df = df.select(*[F.col(f"_h{i}").alias(h) for i, h in enumerate(header)], CORRUPT, *_source_cols())
        raw = F.coalesce(F.col(CORRUPT), F.to_json(F.struct(*[F.col(h) for h in header])))
        frames.append(df.select(*_pick(df, columns), F.col(CORRUPT), raw.alias(RAW), SOURCE_DT, SOURCE_FILE))
    out = frames[0]
    for other in frames[1:]:
        out = out.unionByName(other)
    return out
