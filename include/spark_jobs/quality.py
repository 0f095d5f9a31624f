"""The quality gate: a dataset's expectation suite run with Great Expectations on the Spark DataFrame.

A suite (include/quality/<layer>/<table>.yaml, embedded in the job spec) lists expectations, each with a
``severity``: ``fail`` blocks the partition, ``warn`` is reported and passes. Entries are

* any Great Expectations expectation: ``{type: expect_..., kwargs: {...}, severity: ...}``, run by GX 1.x
  in an ephemeral context (Spark data source, DataFrame asset) where the data lives: the job's executors;
* ``schema`` ``{columns: {name: type}}``: the exact column set and each column's Spark type (run by GX);
* ``freshness`` ``{column, max_lag_hours}``: the column's maximum is within the lag of the end of ds (GX);
* pipeline checks the job measures itself while building the partition:
  ``reconciliation`` (rows in = rows out + rows quarantined), ``quarantined_rows {max_ratio}`` (records of
  ds set aside while building silver), ``ingest_rejects {max_ratio}`` (records of ds that ingestion
  rejected, from the bronze quarantine), ``partition_landed`` (the source's bronze partition of ds exists).

The verdict: ``success`` is false when any ``fail`` entry fails; ``failed`` and ``warnings`` list the
entries that did not hold as ``{expectation, column, severity, observed, details}``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

SPARK_TYPES = {"string": "StringType", "bigint": "LongType", "int": "IntegerType", "double": "DoubleType",
               "boolean": "BooleanType", "date": "DateType", "timestamp": "TimestampType"}
PIPELINE_CHECKS = ("reconciliation", "quarantined_rows", "ingest_rejects", "partition_landed")
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 5}
# A partition of at most this many rows is validated as one task: GX's metric queries (global aggregates)
# then need no shuffle, which on small data costs more than the aggregation itself.
SINGLE_TASK_ROWS = 1_000_000
RESULT_KEYS = ("success", "dataset", "ds", "partition_uri", "quarantine_uri", "report_uri", "rows", "failed",
               "warnings", "reconciliation")


@dataclass
class Outcome:
    expectation: str
    column: str | None
    severity: str
    success: bool
    observed: Any = None
    details: dict[str, Any] = field(default_factory=dict)

    def issue(self) -> dict[str, Any]:
        return {"expectation": self.expectation, "column": self.column, "severity": self.severity,
                "observed": self.observed, "details": self.details}


@dataclass
class GateContext:
    """What the job measured while building the partition (for the pipeline checks)."""

    ds: str
    reconciliation: dict[str, int] | None = None
    rows: int | None = None
    kind: str | None = None
    quarantined_ds: int = 0
    rows_in_ds: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    quarantine_rows_uri: str | None = None
    landed: bool | None = None
    bronze_partition_uri: str | None = None
    ingest_rejected_ds: int | None = None
    ingest_reasons: dict[str, int] = field(default_factory=dict)
    ingest_quarantine_uri: str | None = None


@dataclass
class Verdict:
    dataset: str
    outcomes: list[Outcome]

    @property
    def success(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "fail"]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "warn"]


# ---------------------------------------------------------------- running a suite


def validate(df: DataFrame, suite: Mapping[str, Any], ctx: GateContext, dataset: str) -> Verdict:
    """Run ``suite`` on ``df`` (GX for data expectations, the context for pipeline checks)."""
    outcomes: list[Outcome | None] = []
    gx_entries: list[tuple[int, str, dict[str, Any], str]] = []
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    for entry in suite["expectations"]:
        severity = entry.get("severity", "fail")
        kind = entry["type"]
        if kind in PIPELINE_CHECKS:
            outcomes.append(_pipeline_check(kind, entry, ctx, severity))
            continue
        for gx_type, kwargs in _expand(entry, ctx, types):
            column = kwargs.get("column")
            if column is not None and column not in df.columns:
                outcomes.append(Outcome(gx_type, column, severity, False, observed="column missing",
                                        details={"kwargs": _jsonable(kwargs), "columns": df.columns}))
                continue
            gx_entries.append((len(outcomes), gx_type, kwargs, severity))
            outcomes.append(None)
    if gx_entries:
        data = gx_frame(df, ctx.rows)
        for (slot, *_), outcome in zip(gx_entries, _run_gx(data, gx_entries, dataset), strict=True):
            outcomes[slot] = outcome
    return Verdict(dataset, [o for o in outcomes if o is not None])


def gx_frame(df: DataFrame, rows: int | None) -> DataFrame:
    """The DataFrame GX validates: one partition when ``rows`` is known and at most SINGLE_TASK_ROWS."""
    return df.coalesce(1) if rows is not None and rows <= SINGLE_TASK_ROWS else df


def _expand(entry: Mapping[str, Any], ctx: GateContext, types: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    kind = entry["type"]
    if kind == "schema":
        cols = dict(entry["columns"])
        return [("expect_table_columns_to_match_set", {"column_set": list(cols), "exact_match": True})] + [
            ("expect_column_values_to_be_of_type", {"column": c, "type_": SPARK_TYPES[t]}) for c, t in cols.items()]
    if kind == "freshness":
        end = dt.datetime.combine(dt.date.fromisoformat(ctx.ds) + dt.timedelta(days=1), dt.time(),
                                  tzinfo=dt.UTC)
        oldest = end - dt.timedelta(hours=float(entry["max_lag_hours"]))
        # Spark hands timestamps to Python as naive local times: compare in the same terms
        bound = dt.datetime.fromtimestamp(oldest.timestamp())
        if types.get(entry["column"]) == "date":
            bound = oldest.date()
        return [("expect_column_max_to_be_between", {"column": entry["column"], "min_value": bound})]
    if not kind.startswith("expect_"):
        raise ValueError(f"suite entry type {kind!r} is neither a Great Expectations expectation (expect_...) nor "
                         f"one of schema, freshness, {', '.join(PIPELINE_CHECKS)}")
    return [(kind, dict(entry.get("kwargs") or {}))]


_GX: dict[str, Any] = {}


def _gx_source() -> Any:
    """One ephemeral GX context and Spark data source per process (creating them costs seconds)."""
    if "source" not in _GX:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        _GX.update(gx=gx, context=context, source=context.data_sources.add_spark(name="spark"))
    return _GX["source"]


def _run_gx(df: DataFrame, entries: Sequence[tuple[int, str, dict[str, Any], str]], dataset: str) -> list[Outcome]:
    """Validate ``entries`` on ``df``: all of them pass/fail only (about half the Spark jobs), then the ones
    that did not hold again with observed values and example rows for the result and the report."""
    outcomes = _validate_gx(df, list(entries), dataset, {"result_format": "BOOLEAN_ONLY"})
    again = [i for i, o in enumerate(outcomes) if not o.success and "error" not in o.details]
    if again:
        detailed = _validate_gx(df, [entries[i] for i in again], dataset, RESULT_FORMAT)
        for i, outcome in zip(again, detailed, strict=True):
            outcomes[i] = outcome
    return outcomes


def _validate_gx(df: DataFrame, entries: list[tuple[int, str, dict[str, Any], str]], dataset: str,
                 result_format: Mapping[str, Any]) -> list[Outcome]:
    source = _gx_source()
    gx = _GX["gx"]
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    asset_name = dataset.replace(".", "__")
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(name=asset_name)
    try:
        batch_def = asset.get_batch_definition("whole")
    except (KeyError, LookupError, ValueError):
        batch_def = asset.add_batch_definition_whole_dataframe("whole")
    # given whole (add_expectation compares each new entry with every earlier one)
    suite = gx.ExpectationSuite(name=dataset, expectations=[
        ExpectationConfiguration(type=gx_type, kwargs=kwargs, meta={"index": i, "severity": severity}).to_domain_obj()
        for i, (_, gx_type, kwargs, severity) in enumerate(entries)])
    with _without_adaptive_execution(df.sparkSession):
        result = batch_def.get_batch(batch_parameters={"dataframe": df}).validate(
            suite, result_format=dict(result_format))
    outcomes: list[Outcome | None] = [None] * len(entries)
    for r in result.results:
        i = int(r.expectation_config.meta["index"])
        _, gx_type, kwargs, severity = entries[i]
        outcomes[i] = _outcome(gx_type, kwargs, severity, r)
    return [o if o is not None else Outcome(e[1], e[2].get("column"), e[3], False, "not evaluated")
            for o, e in zip(outcomes, entries, strict=True)]


@contextmanager
def _without_adaptive_execution(spark: SparkSession) -> Iterator[None]:
    """GX's metric queries are global aggregates over the partition being gated: adaptive execution splits each
    into two Spark jobs (map stage, then result) and gains nothing on them, so it is off while they run."""
    key = "spark.sql.adaptive.enabled"
    before = spark.conf.get(key, "true")
    spark.conf.set(key, "false")
    try:
        yield
    finally:
        spark.conf.set(key, before)


def _outcome(gx_type: str, kwargs: Mapping[str, Any], severity: str, r: Any) -> Outcome:
    res = dict(r.result or {})
    column = kwargs.get("column") or (",".join(kwargs["column_list"]) if kwargs.get("column_list") else None)
    details: dict[str, Any] = {"kwargs": _jsonable(kwargs)}
    error = _exception(r.exception_info)
    if error:
        details["error"] = error
        return Outcome(gx_type, column, severity, False, observed="error", details=details)
    if "observed_value" in res:
        observed = _jsonable(res["observed_value"])
    else:
        observed = {k: _jsonable(res[k]) for k in ("unexpected_count", "unexpected_percent", "element_count")
                    if k in res}
    for k in ("partial_unexpected_list", "missing_count"):
        if res.get(k):
            details[k] = _jsonable(res[k])
    return Outcome(gx_type, column, severity, bool(r.success), observed=observed, details=details)


def _exception(info: Any) -> str | None:
    if not info:
        return None
    if isinstance(info, Mapping) and "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    if isinstance(info, Mapping):  # per-metric map
        msgs = [v.get("exception_message") for v in info.values() if isinstance(v, Mapping)
                and v.get("raised_exception")]
        return "; ".join(m for m in msgs if m) or None
    return None


def _pipeline_check(kind: str, entry: Mapping[str, Any], ctx: GateContext, severity: str) -> Outcome:
    if kind == "reconciliation":
        rec = ctx.reconciliation
        if rec is None:
            return Outcome(kind, None, severity, False, "not measured", {"why": "no reconciliation for this dataset"})
        ok = rec["rows_in"] == rec["rows_out"] + rec["rows_quarantined"]
        details: dict[str, Any] = {"rule": "rows_in == rows_out + rows_quarantined"}
        if ctx.kind == "events" and ctx.rows is not None:
            ok = ok and ctx.rows == rec["rows_out"]
            details["rule"] += " and rows_out == rows in the partition"
            details["rows_in_partition"] = ctx.rows
        return Outcome(kind, None, severity, ok, dict(rec), details)
    if kind == "quarantined_rows":
        limit = float(entry.get("max_ratio", 0.0))
        ratio = ctx.quarantined_ds / ctx.rows_in_ds if ctx.rows_in_ds else 0.0
        return Outcome(kind, None, severity, ratio <= limit, round(ratio, 6),
                       {"max_ratio": limit, "rows_quarantined_ds": ctx.quarantined_ds, "rows_in_ds": ctx.rows_in_ds,
                        "reasons": ctx.reasons, "rows_uri": ctx.quarantine_rows_uri})
    if kind == "ingest_rejects":
        limit = float(entry.get("max_ratio", 0.0))
        if ctx.ingest_rejected_ds is None:
            return Outcome(kind, None, severity, False, "not measured", {"why": "no ingestion quarantine location"})
        total = ctx.ingest_rejected_ds + ctx.rows_in_ds
        ratio = ctx.ingest_rejected_ds / total if total else 0.0
        return Outcome(kind, None, severity, ratio <= limit, round(ratio, 6),
                       {"max_ratio": limit, "rejected_ds": ctx.ingest_rejected_ds, "landed_ds": ctx.rows_in_ds,
                        "reasons": ctx.ingest_reasons, "uri": ctx.ingest_quarantine_uri})
    if kind == "partition_landed":
        return Outcome(kind, None, severity, bool(ctx.landed), bool(ctx.landed),
                       {"bronze_partition": ctx.bronze_partition_uri,
                        "why": None if ctx.landed else "no committed bronze partition for ds: the source did not "
                                                       "deliver (missing or late drop) or ingestion did not run"})
    raise ValueError(kind)


# ---------------------------------------------------------------- the verdict document


def result_document(verdict: Verdict, ctx: GateContext, *, partition_uri: str, quarantine_uri: str | None,
                    report_uri: str, rows: int) -> dict[str, Any]:
    """result.json: exactly the contract's keys."""
    doc = {
        "success": verdict.success,
        "dataset": verdict.dataset,
        "ds": ctx.ds,
        "partition_uri": partition_uri,
        "quarantine_uri": quarantine_uri,
        "report_uri": report_uri,
        "rows": int(rows),
        "failed": [o.issue() for o in verdict.failed],
        "warnings": [o.issue() for o in verdict.warnings],
        "reconciliation": dict(ctx.reconciliation) if ctx.reconciliation is not None else None,
    }
    assert tuple(doc) == RESULT_KEYS
    return doc


def read_result(path_or_json: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A result.json as a dict (from a mapping, JSON text or a local path / file:// URI)."""
    if isinstance(path_or_json, Mapping):
        doc = dict(path_or_json)
    else:
        text = str(path_or_json)
        if not text.lstrip().startswith("{"):
            text = open(text.removeprefix("file://"), encoding="utf-8").read()  # noqa: SIM115
        doc = json.loads(text)
    missing = [k for k in RESULT_KEYS if k not in doc]
    if missing or len(doc) != len(RESULT_KEYS):
        raise ValueError(f"not a quality result: keys {sorted(doc)} (expected {list(RESULT_KEYS)})")
    return doc


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
