"""The job spec: one JSON document with everything a run needs (see mlpipe.config.features.job_spec).

Also the contract's lake layout, so that a caller without the spec's ``outputs`` gets the same paths::

    <lake>/<layer>/<table>/dt=<ds>/                      the partition (Parquet + _SUCCESS)
    <lake>/quarantine/<layer>/<table>/dt=<ds>/           a partition the gate rejected (+ result.json)
    <lake>/quarantine/<layer>/<table>/dt=<ds>/rows/      records rejected while building silver (+ _reason)
    <lake>/quality/<layer>/<table>/dt=<ds>/result.json   the verdict; report.html next to it
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

SUPPORTED_VERSIONS = (1,)
TYPES = ("string", "bigint", "int", "double", "boolean", "date", "timestamp")


class SpecError(ValueError):
    """The job spec is missing something or has a value the job cannot use."""


def parse(text: str, origin: str = "spec") -> dict[str, Any]:
    """The spec from its JSON text, checked (SpecError names what is wrong)."""
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise SpecError(f"{origin}: not valid JSON ({exc})") from None
    check(spec, origin)
    return spec


def check(spec: Any, origin: str = "spec") -> None:
    if not isinstance(spec, Mapping):
        raise SpecError(f"{origin}: must be a JSON object")
    version = spec.get("spec_version")
    if version not in SUPPORTED_VERSIONS:
        raise SpecError(f"{origin}: spec_version {version!r} is not supported by this job (supports "
                        f"{list(SUPPORTED_VERSIONS)}); deploy the matching include/spark_jobs")
    for key in ("ds", "lake_root", "silver", "gold"):
        if key not in spec:
            raise SpecError(f"{origin}: missing '{key}'")
    ds_date(spec)
    root = spec["lake_root"]
    if not isinstance(root, str) or not root.startswith(("file:///", "s3://", "s3a://", "hdfs://")):
        raise SpecError(f"{origin}: lake_root must be file:///<absolute path> or s3://bucket/prefix (got {root!r})")
    for i, table in enumerate(spec["silver"].get("tables", [])):
        for key in ("name", "kind", "format", "bronze_uri", "columns", "key", "suite"):
            if key not in table:
                raise SpecError(f"{origin}: silver.tables[{i}] misses '{key}'")
        for col in table["columns"]:
            if col.get("type") not in TYPES:
                raise SpecError(f"{origin}: silver.tables[{i}] ({table['name']}) column {col.get('name')!r} has "
                                f"type {col.get('type')!r}; allowed: {list(TYPES)}")


def ds_date(spec: Mapping[str, Any]) -> dt.date:
    try:
        return dt.date.fromisoformat(str(spec["ds"]))
    except ValueError:
        raise SpecError(f"ds: {spec['ds']!r} is not a date (YYYY-MM-DD)") from None


def ds_end(spec: Mapping[str, Any]) -> dt.datetime:
    """The first instant after the logical date (rows with an event time before it belong to ds)."""
    return dt.datetime.combine(ds_date(spec) + dt.timedelta(days=1), dt.time())


def outputs(spec: Mapping[str, Any], layer: str, table: str) -> dict[str, str]:
    """The contract's URIs for one dataset of this run (the spec's own ``outputs`` when present)."""
    for item in (spec["silver"]["tables"] if layer == "silver" else [spec["gold"]]):
        if item.get("name") == table and item.get("outputs"):
            return dict(item["outputs"])
    root, ds = spec["lake_root"].rstrip("/"), spec["ds"]
    part = f"{layer}/{table}/dt={ds}"
    return {
        "partition": f"{root}/{part}",
        "quarantine": f"{root}/quarantine/{part}",
        "quarantine_rows": f"{root}/quarantine/{part}/rows",
        "result": f"{root}/quality/{part}/result.json",
        "report": f"{root}/quality/{part}/report.html",
    }


def silver_table(spec: Mapping[str, Any], name: str) -> dict[str, Any]:
    for table in spec["silver"]["tables"]:
        if table["name"] == name:
            return table
    raise SpecError(f"no silver table '{name}' in the spec (it has {[t['name'] for t in spec['silver']['tables']]})")


def as_of_dates(spec: Mapping[str, Any]) -> list[tuple[dt.date, str]]:
    """(as_of, split) of the gold partition, in snapshot order: ds to score, then the training snapshots.

    With an event label of horizon H, training snapshot k is ds - H - k * every_days: as_of + H <= ds, so the
    label window (as_of, as_of + H] lies wholly in the data seen by ds. A column label has no snapshots.
    """
    from spark_jobs.gold_sql import offsets

    ds = ds_date(spec)
    return [(ds - dt.timedelta(days=o), "score" if i == 0 else "train") for i, o in enumerate(offsets(spec["gold"]))]


def ds_day(spec: Mapping[str, Any]) -> int:
    """ds as days since 1970-01-01 (the gold SQL's run_params.ds_day)."""
    return (ds_date(spec) - dt.date(1970, 1, 1)).days


def cluster_order(table: Mapping[str, Any]) -> list[str]:
    """The sort order of a silver table written clustered (its ``cluster_by``, then its event time); empty when
    the table has no ``cluster_by``."""
    keys = list(table.get("cluster_by") or [])
    return keys + [table["event_time"]] if keys and table.get("event_time") else keys
