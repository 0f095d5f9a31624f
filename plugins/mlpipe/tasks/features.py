"""ml_features' stack-agnostic task bodies: the job spec, and the quality gates after each Spark step.

Paths come from :class:`mlpipe.lake.LakeLayout` (the job spec names each dataset's outputs); storage from
:func:`mlpipe.services.storage_for`. ``main.py`` exits 0 whenever a step ran, whatever the verdict; the
verdict is in each dataset's ``result.json`` and :func:`quality_gate` turns a failed verdict into a failed
task (so the gold step never runs on bad silver data and the gold Asset event is never emitted for a failed
gold gate). The Jinja strings here are what the stacks' operators pull from ``write_spec`` when they run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mlpipe.config import PipelineConfig, load_config
from mlpipe.errors import DataQualityError, MlPipeError
from mlpipe.lake import LakeLayout
from mlpipe.services import storage_for
from mlpipe.services.storage import Storage

log = logging.getLogger(__name__)

DAG_ID = "ml_features"
SPEC_TASK_ID = "write_spec"


def xcom_template(task_id: str, key: str | None = None, then: str = "") -> str:
    """Jinja pulling an XCom when the task runs: ``{{ ti.xcom_pull(task_ids='<id>'[, key='<key>'])<then> }}``."""
    key_arg = f", key='{key}'" if key else ""
    return "{{ ti.xcom_pull(task_ids='" + task_id + "'" + key_arg + ")" + then + " }}"


# The spec task's outputs, for operator templates (asset-triggered runs have no logical date: the spec has it).
SPEC_DS = xcom_template(SPEC_TASK_ID, "ds")
SPEC_URI = xcom_template(SPEC_TASK_ID, "spec_uri")


def step_outputs(spec: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Per step, the datasets it produces and where their verdicts land, from the job spec's ``outputs``.

    ``{"silver": [{"name", "dataset", "result"}, ...], "gold": [{...}]}``
    """
    def entry(table: Mapping[str, Any]) -> dict[str, str]:
        outputs = table.get("outputs") or {}
        if "result" not in outputs:
            raise MlPipeError(f"the job spec's dataset {table.get('dataset') or table.get('name')!r} has no "
                              "outputs.result: render the spec with mlpipe.tasks.feature_spec.job_spec")
        return {"name": table["name"], "dataset": table["dataset"], "result": outputs["result"]}

    return {"silver": [entry(t) for t in spec["silver"]["tables"]], "gold": [entry(spec["gold"])]}


def declared_datasets(cfg: PipelineConfig) -> dict[str, list[str]]:
    """At DAG parse time (no I/O): the table names each step produces, from the ``features`` section."""
    return {"silver": [t.name for t in cfg.features.silver], "gold": [cfg.features.gold.name]}


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


def write_spec(ds: str | None = None, triggering_asset_events: Any = None,
               cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``write_spec``: build the job spec for the date and write it to ``LakeLayout.spec``.

    Returns the date, the spec's URI and each step's datasets with their verdicts' URIs.
    """
    from mlpipe.tasks.feature_spec import job_spec

    cfg = cfg or load_config()
    day = resolve_ds(ds, triggering_asset_events)
    spec = job_spec(cfg, day)
    uri = LakeLayout.from_config(cfg).spec(DAG_ID, day)
    storage_for(cfg).write_json(uri, spec)
    outputs = step_outputs(spec)
    for step, entries in outputs.items():
        log.info("%s step: %s", step, ", ".join(e["dataset"] for e in entries))
    log.info("job spec for %s: %s", day, uri)
    return {"ds": day, "spec_uri": uri, "outputs": outputs}


# ---- quality gates ------------------------------------------------------------------------------------------


def _issue_line(dataset: str, issue: Mapping[str, Any]) -> str:
    column = issue.get("column")
    where = f" on column {column}" if column else ""
    details = issue.get("details")
    return (f"{dataset}: {issue.get('expectation')}{where} (severity {issue.get('severity', 'error')}): "
            f"observed {issue.get('observed')!r}" + (f"; {details}" if details else ""))


def read_verdicts(storage: Storage, layer: str, entries: list[Mapping[str, str]], ds: str) -> list[dict[str, Any]]:
    """Each dataset's ``result.json`` for the step; a missing one fails (the step did not write a verdict)."""
    verdicts = []
    for entry in entries:
        uri = entry["result"]
        if not storage.exists(uri):
            raise MlPipeError(
                f"no quality verdict at {uri}: the {layer} step did not finish {entry['dataset']} for {ds}; "
                f"see the {layer} step's log, then clear the {layer} task group to run it again"
            )
        verdict = storage.read_json(uri)
        verdicts.append({"dataset": entry["dataset"], **verdict, "name": entry["name"], "result_uri": uri})
    return verdicts


def quality_verdict(layer: str, ds: str, verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """The step's verdict over its datasets: log warnings and report paths; raise DataQualityError naming every
    failed expectation, else return the summary (``partitions`` per table, ``datasets``)."""
    for v in verdicts:
        for warning in v.get("warnings") or []:
            log.warning("quality warning (passes) %s", _issue_line(v["dataset"], warning))
        log.info("%s dt=%s: %s, %s rows; report %s", v["dataset"], ds, "passed" if v.get("success") else "FAILED",
                 v.get("rows"), v.get("report_uri"))
    failed = [v for v in verdicts if v.get("success") is not True]
    if failed:
        lines = [f"{layer} quality gate failed for dt={ds}: {len(failed)} of {len(verdicts)} datasets"]
        for v in failed:
            issues = v.get("failed") or [{"expectation": "(the verdict lists no failed expectation)"}]
            lines.extend(f"  {_issue_line(v['dataset'], issue)}" for issue in issues)
            lines.append(f"  {v['dataset']}: quarantine {v.get('quarantine_uri')}")
            lines.append(f"  {v['dataset']}: report {v.get('report_uri')}")
        lines.append("Fix the source data (or the suite, if an expectation is wrong), then rerun the date; "
                     "nothing downstream ran for it.")
        raise DataQualityError("\n".join(lines))
    return {
        "layer": layer, "ds": ds, "success": True,
        "partitions": {v["name"]: v.get("partition_uri") for v in verdicts},
        "datasets": [{"dataset": v["dataset"], "rows": v.get("rows"), "partition_uri": v.get("partition_uri"),
                      "report_uri": v.get("report_uri"), "warnings": len(v.get("warnings") or [])}
                     for v in verdicts],
    }


def quality_gate(layer: str, spec: Mapping[str, Any], outlets: Any = None, outlet_events: Any = None,
                 cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``gate_<layer>``: read the step's verdicts from the lake and pass or fail.

    On success, every Asset in the task's ``outlets`` (the gold Asset on ``gate_gold``) named like one of the
    step's datasets gets an event whose extra carries the date, the partition and the rows.
    """
    cfg = cfg or load_config()
    ds = spec["ds"]
    verdicts = read_verdicts(storage_for(cfg), layer, spec["outputs"][layer], ds)
    summary = quality_verdict(layer, ds, verdicts)
    by_dataset = {d["dataset"]: d for d in summary["datasets"]}
    for asset in outlets or []:
        match = by_dataset.get(asset.name)
        outlet_events[asset].extra = {"ds": ds, **({"partition": match["partition_uri"], "rows": match["rows"]}
                                                   if match else {})}
    return summary
