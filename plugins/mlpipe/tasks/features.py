"""ml_features' stack-agnostic task bodies: the job spec, and the quality gates after each Spark step.

The lake paths this DAG reads and writes (the same on both stacks)::

    _specs/ml_features/dt=<ds>/spec.json                 the job spec the Spark steps read
    quality/<layer>/<table>/dt=<ds>/result.json          a step's verdict per dataset (written by main.py)
    gold/<name>/dt=<ds>/                                 the gold feature table

``main.py`` exits 0 whenever a step ran, whatever the verdict; the verdict is in ``result.json`` and the gate
task turns a failed verdict into a failed task (so the gold step never runs on bad silver data and the
gold Asset event is never emitted for a failed gold gate).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from mlpipe.config import PipelineConfig, load_config
from mlpipe.dagkit import lake
from mlpipe.errors import DataQualityError, MlPipeError
from mlpipe.lake import LakeLayout
from mlpipe.stacks import get_stack

log = logging.getLogger(__name__)

DAG_ID = "ml_features"
SPEC_TASK_ID = "write_spec"
STEPS = ("silver", "gold")
# The spec task's outputs, for operator templates (Jinja, rendered when the task runs).
SPEC_DS = "{{ ti.xcom_pull(task_ids='%s', key='ds') }}" % SPEC_TASK_ID
SPEC_URI = "{{ ti.xcom_pull(task_ids='%s', key='spec_uri') }}" % SPEC_TASK_ID


def spec_uri(layout: LakeLayout, ds: str) -> str:
    return f"{layout.root}/_specs/{DAG_ID}/dt={ds}/spec.json"


def quality_result_uri(layout: LakeLayout, layer: str, table: str, ds: str) -> str:
    return f"{layout.root}/quality/{layer}/{table}/dt={ds}/result.json"


def step_datasets(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """The tables each step produces, from the job spec: {'silver': [...], 'gold': [name]}."""
    silver = spec["silver"]["tables"]
    silver_names = [t["name"] if isinstance(t, Mapping) else str(t) for t in silver]
    return {"silver": silver_names, "gold": [spec["gold"]["name"]]}


# ---- write_spec ---------------------------------------------------------------------------------------------


def resolve_ds(ds: str | None, triggering_asset_events: Any) -> str:
    """The date to build: the run's logical date, else the latest date every triggering bronze event carries.

    Asset-triggered runs have no logical date in Airflow 3; ml_ingest puts the partition's date in each
    bronze event's ``extra['ds']``.
    """
    if ds:
        return ds
    per_asset: list[set[str]] = []
    for _asset, events in dict(triggering_asset_events or {}).items():
        dates = {str(e.extra["ds"]) for e in events if (e.extra or {}).get("ds")}
        if dates:
            per_asset.append(dates)
    if not per_asset:
        raise MlPipeError(
            "this run has neither a logical date nor triggering bronze events with a 'ds': trigger it with a "
            "logical date (airflow dags trigger ml_features --logical-date 2026-11-01, or airflow dags test "
            "ml_features 2026-11-01) or let ml_ingest's bronze events schedule it"
        )
    common = set.intersection(*per_asset)
    if not common:
        raise MlPipeError(
            f"the triggering bronze events do not share a date ({sorted(set.union(*per_asset))}); run "
            "ml_features for each date with a logical date (make dag DAG=ml_features DATE=...)"
        )
    chosen = max(common)
    others = sorted(common - {chosen})
    if others:
        log.warning("bronze events also cover %s; this run builds %s only: run the others with a logical date",
                    others, chosen)
    return chosen


def write_spec(ds: str | None = None, triggering_asset_events: Any = None) -> dict[str, Any]:
    """Task body: build the job spec for the date and write it to ``_specs/ml_features/dt=<ds>/spec.json``."""
    from mlpipe.config.features import job_spec

    cfg = load_config()
    day = resolve_ds(ds, triggering_asset_events)
    spec = job_spec(cfg, day)
    uri = spec_uri(lake(cfg), day)
    get_stack(cfg).storage().write_json(uri, spec)
    datasets = step_datasets(spec)
    log.info("job spec for %s: %s (silver: %s; gold: %s)", day, uri, ", ".join(datasets["silver"]),
             ", ".join(datasets["gold"]))
    return {"ds": day, "spec_uri": uri, "datasets": datasets}


# ---- quality gates ------------------------------------------------------------------------------------------


def _issue_line(dataset: str, issue: Mapping[str, Any]) -> str:
    column = issue.get("column")
    where = f" on column {column}" if column else ""
    details = issue.get("details")
    return (f"{dataset}: {issue.get('expectation')}{where} (severity {issue.get('severity', 'error')}): "
            f"observed {issue.get('observed')!r}" + (f"; {details}" if details else ""))


def read_verdicts(storage: Any, layout: LakeLayout, layer: str, tables: Iterable[str],
                  ds: str) -> list[dict[str, Any]]:
    """Each table's ``result.json`` for the step; a missing one fails (the step did not write a verdict)."""
    verdicts = []
    for table in tables:
        uri = quality_result_uri(layout, layer, table, ds)
        if not storage.exists(uri):
            raise MlPipeError(
                f"no quality verdict at {uri}: the {layer} step did not finish writing {table} for {ds}; "
                f"see the {layer} step's log, then clear the {layer} task group to run it again"
            )
        verdicts.append({**storage.read_json(uri), "result_uri": uri})
    return verdicts


def evaluate(layer: str, ds: str, verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """Log warnings and report paths; raise DataQualityError naming every failed expectation."""
    failed = [v for v in verdicts if not v.get("success")]
    for v in verdicts:
        dataset = v.get("dataset", "?")
        for warning in v.get("warnings") or []:
            log.warning("quality warning (passes) %s", _issue_line(dataset, warning))
        log.info("%s %s dt=%s: %s, %s rows; report %s", layer, dataset, ds, "passed" if v.get("success") else
                 "FAILED", v.get("rows"), v.get("report_uri"))
    if failed:
        lines = [f"{layer} quality gate failed for dt={ds}: {len(failed)} of {len(verdicts)} datasets"]
        for v in failed:
            dataset = v.get("dataset", "?")
            issues = v.get("failed") or [{"expectation": "(no failed expectation listed)", "observed": None}]
            lines.extend(f"  {_issue_line(dataset, issue)}" for issue in issues)
            lines.append(f"  {dataset}: quarantined rows in {v.get('quarantine_uri')}")
            lines.append(f"  {dataset}: report {v.get('report_uri')}")
        lines.append("Fix the source data (or the suite, if the expectation is wrong), then clear this run's "
                     f"{layer} task group; nothing downstream ran for this date.")
        raise DataQualityError("\n".join(lines))
    return {
        "layer": layer, "ds": ds, "success": True,
        "datasets": [{k: v.get(k) for k in ("dataset", "rows", "partition_uri", "report_uri", "quarantine_uri")}
                     | {"warnings": len(v.get("warnings") or [])} for v in verdicts],
    }


def gate(layer: str, spec: Mapping[str, Any], outlets: Any = None, outlet_events: Any = None,
         cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``gate_<layer>``: read the step's verdicts through the stack's storage and pass or fail.

    On success, every Asset in the task's ``outlets`` (the gold Asset on ``gate_gold``) gets an event whose
    extra carries the date, the partition and the rows.
    """
    cfg = cfg or load_config()
    ds = spec["ds"]
    verdicts = read_verdicts(get_stack(cfg).storage(), lake(cfg), layer, spec["datasets"][layer], ds)
    summary = evaluate(layer, ds, verdicts)
    for asset in outlets or []:
        match = next((d for d in summary["datasets"] if asset.name == f"{layer}.{d['dataset']}"), None)
        outlet_events[asset].extra = {"ds": ds, **({"partition": match["partition_uri"], "rows": match["rows"]}
                                                    if match else {})}
    return summary
