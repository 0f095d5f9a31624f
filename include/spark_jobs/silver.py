"""bronze -> silver for one table: classify every record, set the bad ones aside, build the current state.

A record is quarantined (with ``_reason_code`` and ``_reason``) when it is

* ``unparseable``         not a JSON object / not a CSV record of the header's width;
* ``null_key:<col>``      a key column is null or empty;
* ``wrong_type:<col>``    a value does not cast to its declared type;
* ``bad_op``              (DMS) an ``Op`` other than I, U, D;
* ``bad_change_seq``      (DMS) a change sequence neither empty (full-load insert) nor 35 digits;
* ``event_time_after_ds`` (events) its event time is on or after ds + 1 day;
* ``duplicate_key``       another record already has its key (events), key and ordering value (latest
                          records) or key and change sequence (DMS: a replayed change); the first is kept.

Every record read is either accepted or quarantined: rows_in = rows_out + rows_quarantined. Accepted
records then become the table's rows: events as they are, the latest record per key (``order_by``), or
DMS changes applied in commit order (:mod:`spark_jobs.cdc`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs import cdc
from spark_jobs.bronze import CHANGE_SEQ, COMMIT_TS, CORRUPT, OP, RAW, SOURCE_DT, SOURCE_FILE
from spark_jobs.spec import cluster_order

REASON_CODE, REASON = "_reason_code", "_reason"
QUARANTINE_COLUMNS = (REASON_CODE, REASON, SOURCE_DT, SOURCE_FILE, RAW)


@dataclass
class Classified:
    """Records with their verdict (``_reason_code`` null = accepted), cached, and their counts."""

    df: DataFrame
    counts: dict[str, int] = field(default_factory=dict)  # rows_in, rows_out, rows_quarantined (+ for ds)
    reasons: dict[str, int] = field(default_factory=dict)  # reason code -> records

    @property
    def accepted(self) -> DataFrame:
        return self.df.filter(F.col(REASON_CODE).isNull())

    @property
    def quarantined(self) -> DataFrame:
        return self.df.filter(F.col(REASON_CODE).isNotNull()).select(*QUARANTINE_COLUMNS)

    def release(self) -> None:
        self.df.unpersist()


def try_cast(column: str, type_name: str) -> Column:
    """``column`` as ``type_name``, null where the value does not fit: the SQL function ``try_cast`` (Spark 3.2+;
    ``Column.try_cast`` is Spark 4 only), which ignores ``spark.sql.ansi.enabled``, so a bad value is null (and
    its record quarantined) on EMR's Spark 3.5 and on local Spark 4 alike."""
    return F.expr(f"try_cast(`{column.replace('`', '``')}` AS {type_name})")


def _blank(col: Column) -> Column:
    return col.isNull() | (F.trim(col.cast("string")) == "")


def classify(raw: DataFrame, table: Mapping[str, Any], ds: str) -> Classified:
    """Type the declared columns and give each record its verdict; counts per verdict (one pass, cached)."""
    columns = [(c["name"], c["type"]) for c in table["columns"]]
    key, kind = list(table["key"]), table["kind"]
    typed = [try_cast(n, t).alias(n) if t != "string" else F.col(n).cast("string").alias(n) for n, t in columns]
    meta = [OP, COMMIT_TS, CHANGE_SEQ] if table["format"] == "dms" else []
    df = raw.select(*[F.col(n).alias(f"_src_{n}") for n, _ in columns], *typed, *meta, CORRUPT, RAW, SOURCE_DT,
                    SOURCE_FILE)
    checks: list[tuple[Column, str, str]] = [
        (F.col(CORRUPT).isNotNull(), "unparseable", "not a valid record of the file's format (see _raw)"),
    ]
    checks += [(_blank(F.col(f"_src_{k}")), f"null_key:{k}", f"key column '{k}' is null or empty") for k in key]
    checks += [(F.col(f"_src_{n}").isNotNull() & ~_blank(F.col(f"_src_{n}")) & F.col(n).isNull(),
                f"wrong_type:{n}", f"column '{n}': the value does not fit type {t}")
               for n, t in columns if t != "string"]
    if table["format"] == "dms":
        checks += cdc.checks()
    if kind == "events" and table.get("event_time"):
        end = dt.datetime.combine(dt.date.fromisoformat(ds) + dt.timedelta(days=1), dt.time())
        checks.append((F.col(table["event_time"]) >= F.lit(end), "event_time_after_ds",
                       f"'{table['event_time']}' is on or after {end.isoformat()} (after the logical date {ds})"))
    code = F.lit(None).cast("string")
    text = F.lit(None).cast("string")
    for cond, c, t in reversed(checks):
        code = F.when(cond, F.lit(c)).otherwise(code)
        text = F.when(cond, F.lit(t)).otherwise(text)
    df = df.withColumn(REASON_CODE, code).withColumn(REASON, text)
    # duplicates among the otherwise good records: the first one (oldest partition, file, content) is kept
    dedupe = key + {"events": [], "latest": list(table.get("order_by") or []), "cdc": [CHANGE_SEQ]}[kind]
    first = Window.partitionBy(F.col(REASON_CODE).isNull(), *dedupe).orderBy(SOURCE_DT, SOURCE_FILE, RAW)
    dup = F.col(REASON_CODE).isNull() & (F.row_number().over(first) > 1)
    what = {"events": "key", "latest": f"key and {table.get('order_by')}", "cdc": "key and change sequence"}[kind]
    df = (df.withColumn(REASON, F.when(dup, F.lit(f"another record has the same {what} {dedupe}; the first one "
                                                  "read is kept")).otherwise(F.col(REASON)))
          .withColumn(REASON_CODE, F.when(dup, F.lit("duplicate_key")).otherwise(F.col(REASON_CODE))))
    df = df.drop(*[f"_src_{n}" for n, _ in columns]).persist(StorageLevel.MEMORY_AND_DISK)
    rows = df.groupBy((F.col(SOURCE_DT) == ds).alias("is_ds"), REASON_CODE).count().collect()
    counts = {"rows_in": 0, "rows_out": 0, "rows_quarantined": 0, "rows_in_ds": 0, "rows_quarantined_ds": 0}
    reasons: dict[str, int] = {}
    for r in rows:
        n = int(r["count"])
        counts["rows_in"] += n
        counts["rows_in_ds"] += n if r["is_ds"] else 0
        if r[REASON_CODE] is None:
            counts["rows_out"] += n
        else:
            counts["rows_quarantined"] += n
            counts["rows_quarantined_ds"] += n if r["is_ds"] else 0
            reasons[r[REASON_CODE]] = reasons.get(r[REASON_CODE], 0) + n
    return Classified(df=df, counts=counts, reasons=dict(sorted(reasons.items())))


def build(classified: Classified, table: Mapping[str, Any]) -> DataFrame:
    """The silver rows from the accepted records (declared columns, in order)."""
    columns = [c["name"] for c in table["columns"]]
    good = classified.accepted
    kind = table["kind"]
    if kind == "events":
        return good.select(*columns)
    if kind == "latest":
        order = [F.col(c).desc_nulls_last() for c in table["order_by"]]
        w = Window.partitionBy(*table["key"]).orderBy(*order, F.col(SOURCE_DT).desc(), F.col(SOURCE_FILE).desc())
        return good.withColumn("_rank", F.row_number().over(w)).filter(F.col("_rank") == 1).select(*columns)
    if kind == "cdc":
        return cdc.apply_changes(good, table["key"], columns)
    raise ValueError(f"silver table {table['name']}: unknown kind {kind!r} (cdc, latest or events)")


def clustered(df: DataFrame, table: Mapping[str, Any]) -> DataFrame:
    """The rows laid out for the gold job: hash-partitioned by ``cluster_by`` (the entity key) and sorted by it
    and the event time in each file, so a per-entity aggregation meets few entities per task (small hash
    tables, a small shuffle) and the key column encodes as runs. Unchanged when the table has no ``cluster_by``."""
    order = cluster_order(table)
    if not order:
        return df
    return df.repartition(*table["cluster_by"]).sortWithinPartitions(*order)
