"""ml_monitoring's task bodies: drift of the logical date against the serving model's training baseline, and
the retraining request. The same code on both stacks: files go through ``storage_for(cfg)`` (file:// or
s3://), paths come from :class:`~mlpipe.lake.LakeLayout`; the serving model is the endpoint's
(``endpoints_for(cfg).serving_arn()``) or else the registry's newest Approved version, its ``model.tar.gz``
(or model directory) fetched through storage into a work directory.

The lake paths (``monitoring.reports_dir``, default ``reports/monitoring``)::

    reports/monitoring/dt=<ds>/drift.json    the summary: every check, the verdict, the retraining decision
    reports/monitoring/dt=<ds>/drift.html    the report, plots embedded
    reports/monitoring/_state.json           the last retraining request (the cool-down survives every process)

``check_drift`` compares, for the logical date:

- ``features.gold``: the gold partition's scoring rows (``split = 'score'``, the live population) with the
  baseline's feature statistics (``include/monitoring/drift.py``);
- ``predictions.gold``: the serving model's scores of those rows with its validation scores;
- ``features.capture`` / ``predictions.capture``: the endpoint's captured requests and responses
  (``monitoring.capture``: the logical date's UTC day, or the newest days captured);
- ``performance``: the model's AUC on the newest ``label_snapshots`` labelled snapshots of gold (labels
  matured), against its test AUC at registration.

``request_retraining`` emits the ``retrain.<group>`` Asset event (ml_training is scheduled on it) when the
verdict is drift/decay (statistical trigger) or the training / feature config hash differs from the serving
model's (deterministic trigger), unless a request was made less than ``cooldown_hours`` of logical time
before (``_state.json``); otherwise it is skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from mlpipe.config import PipelineConfig, config_hash, load_config
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout
from mlpipe.local.model_artifact import model_dir_of
from mlpipe.services import endpoints_for, registry_for, storage_for
from mlpipe.services.endpoints import capture_root

log = logging.getLogger(__name__)

DAG_ID = "ml_monitoring"
CHECK_TASK_ID = "check_drift"
RETRAIN_TASK_ID = "request_retraining"
SPLIT_COLUMN = "split"
SCORE_SPLIT = "score"
STATE_FILE = "_state.json"
HISTORY_KEPT = 50
TUNING_NAME_HASH = re.compile(r"-\d{8}-([0-9a-f]{6,16})(?:-r\d+)?$")


class MonitoringError(MlPipeError):
    """Monitoring cannot run for the date (no gold partition, no serving model, an unreadable baseline)."""


# ---- paths and the workload -------------------------------------------------------------------------------------


def report_uris(cfg: PipelineConfig, ds: str) -> dict[str, str]:
    root = LakeLayout.from_config(cfg).reports(cfg.monitoring.reports_dir, ds)
    return {"json": f"{root}/drift.json", "html": f"{root}/drift.html"}


def state_uri(cfg: PipelineConfig) -> str:
    return f"{LakeLayout.from_config(cfg).reports(cfg.monitoring.reports_dir)}/{STATE_FILE}"


def workload(module: str) -> Any:
    """``include/monitoring/<module>.py`` (the package ``monitoring``; include/ joins sys.path when needed)."""
    from mlpipe.paths import CODE_ROOT

    include = str(CODE_ROOT / "include")
    if include not in sys.path:
        sys.path.append(include)
    return importlib.import_module(f"monitoring.{module}")


def thresholds(cfg: PipelineConfig) -> Any:
    m = cfg.monitoring
    return workload("drift").Thresholds(**m.thresholds.model_dump(), min_rows=m.min_rows,
                                        min_positives=m.min_positives)


# ---- the serving model -------------------------------------------------------------------------------------------


def serving_package(cfg: PipelineConfig) -> tuple[dict[str, Any], str]:
    """The serving version (a :meth:`ModelPackage.to_dict`) and where it was found: the package behind the
    endpoint's traffic, else the newest Approved version (``deployment.mode: batch``, or no endpoint)."""
    group = cfg.training.registry.model_package_group
    registry = registry_for(cfg)
    arn = endpoints_for(cfg).serving_arn() if cfg.deployment.endpoint else None
    if arn is not None:
        return registry.get_by_arn(arn).to_dict(), f"endpoint {cfg.deployment.endpoint_name}"
    found = registry.newest_approved(group)
    if found is None:
        raise MonitoringError(f"no model is serving: endpoint {cfg.deployment.endpoint_name} is not live and model "
                              f"package group '{group}' has no Approved version; run ml_training and ml_deployment "
                              f"first (make run does both locally)")
    return found.to_dict(), f"newest Approved package of {group} (no endpoint)"


def lineage_of(package: dict[str, Any], storage: Any) -> dict[str, Any]:
    """The version's lineage record: the registry's own (local) or the one its ``uri`` names (SageMaker)."""
    lineage = dict(package.get("lineage") or {})
    if lineage.get("uri") and not lineage.get("ds"):
        try:
            lineage = {**storage.read_json(lineage["uri"]), **lineage}
        except Exception as exc:  # noqa: BLE001 - the lineage only adds the feature-config comparison
            log.warning("cannot read the lineage %s: %s", lineage["uri"], exc)
    return lineage


def serving_model(cfg: PipelineConfig, workdir: Path) -> dict[str, Any]:
    """``{"group", "version", "arn", "source", "model_dir", "model_uri", "tuning_job_name", "test_auc",
    "trained_ds", "feature_spec_uri"}`` of the serving version, its model directory under ``workdir``."""
    storage = storage_for(cfg)
    package, source = serving_package(cfg)
    model_dir = model_dir_of(package, storage, workdir / "model")
    lineage = lineage_of(package, storage)
    auc = (package.get("metrics") or {}).get("test_auc")
    return {"group": package["group"], "version": int(package["version"]), "arn": package["arn"], "source": source,
            "model_dir": str(model_dir), "model_uri": package.get("model_uri"),
            "tuning_job_name": package.get("tuning_job_name") or "",
            "test_auc": float(auc) if auc is not None else None,
            "trained_ds": (package.get("metadata") or {}).get("ds") or lineage.get("ds"),
            "feature_spec_uri": lineage.get("feature_job_spec_uri")}


def load_model_files(model_dir: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(feature_schema.json, baseline.json)`` of a model directory."""
    docs = []
    for name in ("feature_schema.json", "baseline.json"):
        path = Path(model_dir) / name
        if not path.is_file():
            raise MonitoringError(f"{path} does not exist: the serving model was not written by include/training/"
                                  f"train.py (it writes {name} beside the model); retrain it")
        docs.append(json.loads(path.read_text()))
    return docs[0], docs[1]


def config_changes(cfg: PipelineConfig, model: dict[str, Any], storage: Any) -> dict[str, Any]:
    """The deterministic trigger: the training config hash in the serving version's tuning job name
    (``<dag>-<yyyymmdd>-<hash>``) and the feature config hash in the job spec it was trained from, against now."""
    from mlpipe.tasks.training import tuning_config_hash

    out: dict[str, Any] = {}
    match = TUNING_NAME_HASH.search(model.get("tuning_job_name") or "")
    current = tuning_config_hash(cfg)
    out["training"] = {"serving": match.group(1) if match else None, "current": current,
                       "changed": bool(match) and match.group(1) != current}
    spec_uri = model.get("feature_spec_uri")
    serving_features = None
    if spec_uri:
        try:
            serving_features = storage.read_json(spec_uri).get("config_hash")
        except Exception as exc:  # noqa: BLE001 - the spec only adds this comparison
            log.warning("cannot read the feature job spec %s of the serving model: %s", spec_uri, exc)
    current_features = config_hash(cfg.features)
    out["features"] = {"serving": serving_features, "current": current_features,
                       "changed": serving_features is not None and serving_features != current_features}
    return out


# ---- reading the live data ----------------------------------------------------------------------------------------


def gold_frame(cfg: PipelineConfig, storage: Any, ds: str) -> Any:
    uri = LakeLayout.from_config(cfg).gold(cfg.features.gold.name, ds)
    files = storage.fingerprints(uri, ".parquet")
    if not files:
        raise MonitoringError(f"no gold Parquet files at {uri}: run ml_features for {ds} first (monitoring compares "
                              f"that partition's scoring rows with the serving model's training baseline)")
    return storage.read_parquet(sorted(files))


def score(model_dir: str, frame: Any) -> Any:
    """The serving model's scores of ``frame`` (training's own encoding and prediction)."""
    from mlpipe.tasks.training import workload as training_workload

    evaluate, data = training_workload("evaluate"), training_workload("data")
    booster, schema, _ = evaluate.load_model(model_dir)
    return evaluate.predict(booster, data.encode(frame, schema))


def matured(cfg: PipelineConfig, gold: Any) -> Any:
    """Rows of the newest ``label_snapshots`` labelled snapshots (``training.time_column``)."""
    t, n = cfg.training, cfg.monitoring.label_snapshots
    if n == 0 or t.label not in gold.columns or t.time_column not in gold.columns:
        return gold.iloc[0:0]
    labelled = gold[gold[t.label].notna()]
    newest = sorted(labelled[t.time_column].dropna().unique())[-n:]
    return labelled[labelled[t.time_column].isin(newest)]


def capture_files(cfg: PipelineConfig, storage: Any, ds: str) -> list[str]:
    """The capture files of the window (``monitoring.capture``), oldest first."""
    c = cfg.monitoring.capture
    base = f"{capture_root(cfg)}/{cfg.deployment.endpoint_name}/{cfg.deployment.variant_name}"
    if c.window == "logical_date":
        # only the window's day folders (the endpoint's whole capture history grows every hour)
        start = dt.date.fromisoformat(ds)
        folders = [f"{base}/{start - dt.timedelta(days=d):%Y/%m/%d}" for d in range(c.days)]
    else:
        folders = [base]
    # <YYYY>/<MM>/<DD>/<HH>/<file>.jsonl under the variant's folder
    all_files = sorted(uri[len(base) + 1:] for folder in folders for uri in storage.list(folder, ".jsonl")
                       if uri[len(base) + 1:].count("/") == 4)
    if c.window == "latest":
        days = sorted({f[:10] for f in all_files})
        if not days:
            return []
        end = dt.datetime.strptime(days[-1], "%Y/%m/%d").date()
    else:
        end = dt.date.fromisoformat(ds)
    hours = set(workload("capture").hour_prefixes(end, c.days))
    return [f"{base}/{f}" for f in all_files if f[:13] in hours]


def read_capture(cfg: PipelineConfig, storage: Any, ds: str, names: list[str]) -> Any:
    cap_mod = workload("capture")
    captured = cap_mod.Captured()
    files = capture_files(cfg, storage, ds)
    for uri in files:
        cap_mod.read_lines(storage.read_text(uri).splitlines(), names, captured)
    return captured, files


# ---- check_drift --------------------------------------------------------------------------------------------------


def _not_available(reason: str) -> dict[str, Any]:
    return {"status": "not_available", "rows": 0, "reasons": [reason]}


def compute(cfg: PipelineConfig, ds: str, storage: Any, model: dict[str, Any]) -> dict[str, Any]:
    """The summary document (``drift.json``) of the date, without the retraining decision."""
    import numpy as np

    drift = workload("drift")
    th = thresholds(cfg)
    m = cfg.monitoring
    schema, baseline = load_model_files(model["model_dir"])
    names = [f["name"] for f in schema.get("features") or []]
    gold = gold_frame(cfg, storage, ds)
    live = gold[gold[SPLIT_COLUMN] == SCORE_SPLIT] if SPLIT_COLUMN in gold.columns else gold
    populations: dict[str, Any] = {}
    predictions: dict[str, Any] = {}
    pop = drift.population_drift(baseline, schema, live, th, m.features or None, m.report_only)
    populations["gold"] = {**pop, "source": f"gold dt={ds}, rows with {SPLIT_COLUMN}='{SCORE_SPLIT}'"}
    base_pred = (baseline.get("predictions") or {}).get("validation")
    try:
        live_scores = score(model["model_dir"], live) if len(live) else np.array([])
        predictions["gold"] = drift.prediction_drift(base_pred, live_scores, th)
    except Exception as exc:  # noqa: BLE001 - a scoring failure is reported, the feature checks still count
        log.exception("scoring the live rows with the serving model failed")
        predictions["gold"] = _not_available(f"scoring with the serving model failed: {exc}")
    rows = matured(cfg, gold)
    if len(rows):
        try:
            y = rows[cfg.training.label].astype(float).to_numpy()
            perf = drift.performance(y, score(model["model_dir"], rows), model.get("test_auc"), th)
        except Exception as exc:  # noqa: BLE001
            log.exception("scoring the matured rows failed")
            perf = _not_available(f"scoring the matured rows failed: {exc}")
        perf["source"] = (f"gold dt={ds}, {cfg.training.time_column} in "
                          f"{sorted(str(v)[:10] for v in rows[cfg.training.time_column].unique())}")
    else:
        perf = drift.performance(None, None, model.get("test_auc"), th)
    capture: dict[str, Any] = {}
    if m.capture.enabled and cfg.deployment.endpoint and cfg.deployment.data_capture.enabled:
        captured, files = read_capture(cfg, storage, ds, names)
        capture = {**captured.summary(), "files": len(files), "window": m.capture.window, "days": m.capture.days}
        if captured.rows:
            frame = captured.frame(names)
            populations["capture"] = {**drift.population_drift(baseline, schema, frame, th, m.features or None,
                                                               m.report_only),
                                      "source": f"{len(files)} capture files ({m.capture.window})"}
        else:
            populations["capture"] = {**_not_available(f"no captured requests in the window ({len(files)} files)"),
                                      "features": {}}
        predictions["capture"] = drift.prediction_drift(base_pred, np.asarray(captured.scores), th) \
            if captured.scores else _not_available("no captured responses in the window")
    checks = {f"features.{k}": v for k, v in populations.items()}
    checks.update({f"predictions.{k}": v for k, v in predictions.items()})
    checks["performance"] = perf
    model_doc = {k: v for k, v in model.items() if k != "model_dir"}
    return {"format": 1, "ds": ds, "environment": cfg.environment, "stack": cfg.stack,
            "computed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model": model_doc, "thresholds": th.to_dict(),
            "features_checked": m.features or names, "report_only": list(m.report_only),
            "populations": populations, "predictions": predictions, "performance": perf, "capture": capture,
            "config_change": config_changes(cfg, model, storage), "verdict": drift.verdict(checks)}


def write_report(cfg: PipelineConfig, storage: Any, summary: dict[str, Any]) -> dict[str, str]:
    uris = report_uris(cfg, summary["ds"])
    storage.write_json(uris["json"], summary)
    storage.write_text(uris["html"], workload("report").render(summary))
    return uris


def check_drift(ds: str | None = None, cfg: PipelineConfig | None = None, *, logical_date: Any = None
                ) -> dict[str, Any]:
    """Task body of ``check_drift``: every check of the date, ``drift.json`` and ``drift.html``; returns the
    verdict, the config-change facts and the report URIs (XCom)."""
    cfg = cfg or load_config()
    day = ds or (logical_date.strftime("%Y-%m-%d") if logical_date is not None else None)
    if not day:
        raise MonitoringError("ml_monitoring needs a logical date: trigger it with one "
                              "(airflow dags test ml_monitoring 2026-11-02)")
    storage = storage_for(cfg)
    with tempfile.TemporaryDirectory(prefix="mlpipe-monitoring-") as work:
        model = serving_model(cfg, Path(work))
        log.info("serving model: %s version %s (%s), trained on dt=%s", model["group"], model["version"],
                 model["source"], model.get("trained_ds"))
        summary = compute(cfg, day, storage, model)
    uris = write_report(cfg, storage, summary)
    v = summary["verdict"]
    log.info("drift verdict for dt=%s: %s (%s)", day, v["status"], ", ".join(f"{k}={s}" for k, s in v["checks"].items()))
    for reason in v["reasons"]:
        log.info("  %s", reason)
    log.info("drift report: %s (summary %s)", uris["html"], uris["json"])
    return {"ds": day, "verdict": v, "config_change": summary["config_change"], "report": uris["html"],
            "summary": uris["json"], "model": summary["model"]}


# ---- request_retraining ---------------------------------------------------------------------------------------------


def triggers(cfg: PipelineConfig, checked: dict[str, Any]) -> list[dict[str, str]]:
    """Why retraining is due: ``[{"kind": "drift"|"config_change", "reason": ...}]`` (empty: it is not)."""
    out = []
    v = checked["verdict"]
    if v["status"] == "drift":
        out += [{"kind": "drift", "reason": r} for r in v["reasons"]] or [{"kind": "drift", "reason": "drift"}]
    if cfg.monitoring.retrain_on_config_change:
        for what, c in (checked.get("config_change") or {}).items():
            if c.get("changed"):
                out.append({"kind": "config_change",
                            "reason": f"the {what} config hash changed: {c['serving']} (serving model) -> {c['current']}"})
    return out


def read_state(cfg: PipelineConfig, storage: Any) -> dict[str, Any]:
    uri = state_uri(cfg)
    return storage.read_json(uri) if storage.exists(uri) else {"format": 1, "history": []}


def cooldown_left(cfg: PipelineConfig, state: dict[str, Any], ds: str) -> tuple[float, dict[str, Any] | None]:
    """Hours of logical time left in the cool-down after the last request (0 when none), and that request."""
    last = state.get("last_request")
    if not last or cfg.monitoring.cooldown_hours == 0:
        return 0.0, last
    elapsed = (dt.date.fromisoformat(ds) - dt.date.fromisoformat(last["ds"])).total_seconds() / 3600
    return max(0.0, cfg.monitoring.cooldown_hours - elapsed), last


def _update_report(cfg: PipelineConfig, storage: Any, checked: dict[str, Any], decision: dict[str, Any]) -> None:
    uri = checked["summary"]
    try:
        summary = storage.read_json(uri)
    except Exception as exc:  # noqa: BLE001 - the decision is logged and in the task's XCom anyway
        log.warning("cannot add the retraining decision to %s: %s", uri, exc)
        return
    summary["retrain"] = decision
    report = workload("report")
    try:
        page = report.add_retrain(storage.read_text(checked["report"]), decision)
    except Exception:  # noqa: BLE001 - no report to amend (removed, or another format): draw it again
        page = report.render(summary)
    storage.write_json(uri, summary)
    storage.write_text(checked["report"], page)


def request_retraining(checked: dict[str, Any], cfg: PipelineConfig | None = None, *, outlets: Any = None,
                       outlet_events: Any = None) -> dict[str, Any]:
    """Task body of ``request_retraining``: emit the retraining Asset event with its reasons, or skip saying why
    (nothing to retrain for, ``monitoring.retrain`` off, or the cool-down)."""
    cfg = cfg or load_config()
    storage = storage_for(cfg)
    ds = checked["ds"]
    found = triggers(cfg, checked)
    reasons = [t["reason"] for t in found]
    decision: dict[str, Any] = {"ds": ds, "triggers": found}
    skip = None
    if not found:
        skip = f"no retraining for dt={ds}: verdict {checked['verdict']['status']}, no config change"
    elif not cfg.monitoring.retrain:
        skip = f"retraining is due for dt={ds} but monitoring.retrain is off: {'; '.join(reasons)}"
    else:
        state = read_state(cfg, storage)
        left, last = cooldown_left(cfg, state, ds)
        if left > 0 and last is not None:
            skip = (f"retraining is due for dt={ds} ({'; '.join(reasons)}) but suppressed by the cool-down: it was "
                    f"requested for dt={last['ds']} ({last.get('requested_at')}), {left:.0f} of "
                    f"monitoring.cooldown_hours={cfg.monitoring.cooldown_hours} hours of logical time are left")
    if skip:
        decision.update(decision="not requested", reasons=[skip])
        _update_report(cfg, storage, checked, decision)
        log.info("%s", skip)
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(skip)
    kinds = sorted({t["kind"] for t in found})
    extra = {"ds": ds, "trigger": "+".join(kinds), "reasons": reasons[:20], "report": checked["report"],
             "model_version": (checked.get("model") or {}).get("version"), "dag_id": DAG_ID}
    for asset in outlets or []:
        outlet_events[asset].extra = extra
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = read_state(cfg, storage)
    entry = {"ds": ds, "requested_at": now, "trigger": extra["trigger"], "reasons": reasons[:20],
             "model_version": extra["model_version"]}
    state["last_request"] = entry
    state["history"] = [*state.get("history", []), entry][-HISTORY_KEPT:]
    storage.write_json(state_uri(cfg), state)
    decision.update(decision="requested", reasons=reasons, extra=extra)
    _update_report(cfg, storage, checked, decision)
    log.info("retraining requested for dt=%s (%s): %s", ds, extra["trigger"], "; ".join(reasons))
    return {"requested": True, **extra}


__all__ = ["CHECK_TASK_ID", "DAG_ID", "RETRAIN_TASK_ID", "MonitoringError", "check_drift", "compute",
           "config_changes", "cooldown_left", "report_uris", "request_retraining", "state_uri", "triggers"]
