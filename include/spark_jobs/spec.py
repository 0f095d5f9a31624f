"""The job spec: one JSON document with everything a run needs (see mlpipe.tasks.feature_spec.job_spec).

Every lake path the job writes comes from the spec: each dataset's ``outputs`` (``partition``,
``quarantine``, ``quarantine_rows``, ``result``, ``report``), rendered by the pipeline's lake layout. The job
never builds one from ``lake_root`` itself.
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
        outputs(spec, "silver", table["name"])
    if "name" not in spec["gold"]:
        raise SpecError(f"{origin}: gold misses 'name'")
    outputs(spec, "gold", spec["gold"]["name"])


def ds_date(spec: Mapping[str, Any]) -> dt.date:
    try:
        return dt.date.fromisoformat(str(spec["ds"]))
    except ValueError:
        raise SpecError(f"ds: {spec['ds']!r} is not a date (YYYY-MM-DD)") from None


def ds_end(spec: Mapping[str, Any]) -> dt.datetime:
    """The first instant after the logical date (rows with an event time before it belong to ds)."""
    return dt.datetime.combine(ds_date(spec) + dt.timedelta(days=1), dt.time())


OUTPUT_KEYS = ("partition", "quarantine", "quarantine_rows", "result", "report")


def outputs(spec: Mapping[str, Any], layer: str, table: str) -> dict[str, str]:
    """The URIs one dataset of this run writes: its ``outputs`` in the spec (SpecError when they are missing)."""
    items = spec["silver"]["tables"] if layer == "silver" else [spec["gold"]]
    item = next((i for i in items if i.get("name") == table), None)
    if item is None:
        raise SpecError(f"no {layer} dataset '{table}' in the spec")
    out = item.get("outputs") or {}
    missing = [k for k in OUTPUT_KEYS if not out.get(k)]
    if missing:
        raise SpecError(f"{layer}.{table}: outputs misses {missing}; render the spec with the pipeline's job_spec "
                        "(it names every path the job writes)")
    return {k: out[k] for k in OUTPUT_KEYS}


def quarantine_rows_dir(out: Mapping[str, str], quarantine_dir: str) -> str:
    """Where ``quarantine_rows`` lies inside a quarantine directory built aside (``quarantine_dir``), at the
    place the spec puts it inside ``quarantine``."""
    inner = out["quarantine_rows"].removeprefix(out["quarantine"].rstrip("/") + "/")
    if inner == out["quarantine_rows"]:
        raise SpecError(f"outputs.quarantine_rows ({out['quarantine_rows']}) must lie inside outputs.quarantine "
                        f"({out['quarantine']}): the partition and its quarantined rows are swapped in together")
    return f"{quarantine_dir.rstrip('/')}/{inner}"


def quarantined_result(out: Mapping[str, str], quarantine_dir: str | None = None) -> str:
    """The copy of the verdict a quarantined partition carries: ``result``'s file name in ``quarantine`` (or in
    ``quarantine_dir``, the quarantine directory built aside)."""
    return f"{(quarantine_dir or out['quarantine']).rstrip('/')}/{out['result'].rsplit('/', 1)[1]}"


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
