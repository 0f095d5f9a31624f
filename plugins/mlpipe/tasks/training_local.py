"""ml_training's task bodies on the local stack: the tuning job's trials as subprocesses
(:mod:`mlpipe.local.tuning`), ``include/training/evaluate.py`` and ``score.py`` as subprocesses, registration in
the local model registry (through :func:`mlpipe.services.registry_for`)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from mlpipe.config import PipelineConfig, load_config
from mlpipe.errors import MlPipeError
from mlpipe.lake import to_path
from mlpipe.paths import CODE_ROOT
from mlpipe.services import registry_for, storage_for
from mlpipe.services.registry import ApprovalStatus
from mlpipe.tasks.training import (
    champion,
    evaluation_uri,
    flat_metrics,
    lineage,
    lineage_uri,
    tuning_job_name,
    write_report,
)

log = logging.getLogger(__name__)

WORKLOAD = CODE_ROOT / "include" / "training"
EVALUATE_SCRIPT = WORKLOAD / "evaluate.py"
SCORE_SCRIPT = WORKLOAD / "score.py"
SUBPROCESS_ERROR_TAIL = 3000


def run_tuning_job(split: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``tune``: run (or resume: finished trials are reused) the local tuning job of the date."""
    from mlpipe.local.tuning.job import tune

    cfg = cfg or load_config()
    name = tuning_job_name(cfg, split["ds"])
    channels = {c: str(to_path(split["channels"][c])) for c in ("train", "validation")}
    result = tune(cfg.training, name=name, channels=channels, workdir=to_path(f"{split['root']}/tuning"))
    best = result.best
    log.info("tuning job %s: best trial %s %s=%s (%d trials, %d run now)", name, best.name,
             result.objective_metric, best.objective, len(result.trials), result.trials_run)
    return {"name": name, "objective_metric": result.objective_metric, "trials": len(result.trials),
            "best": {"name": best.name, "objective": best.objective, "metrics": best.metrics,
                     "hyperparameters": best.hyperparameters, "model_dir": str(best.model_dir),
                     "model_uri": best.model_artifact.as_uri()}}


def _run(script: Path, args: list[str], what: str) -> None:
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise MlPipeError(f"{script.name} failed (exit {proc.returncode}) on {what}:\n"
                          f"{proc.stderr[-SUBPROCESS_ERROR_TAIL:]}")


def score_champion(cfg: PipelineConfig, champ: dict[str, Any], test_dir: Path) -> dict[str, Any]:
    """The champion's AUC on this run's test split (``score.py`` on its ``model.tar.gz`` unpacked); its recorded
    test AUC stays when its artifact is gone."""
    storage = storage_for(cfg)
    if not champ.get("model_uri") or not storage.exists(champ["model_uri"]):
        log.warning("champion v%s: no model artifact at %s; comparing with its recorded test AUC %s",
                    champ.get("version"), champ.get("model_uri"), champ.get("auc"))
        return champ
    with tempfile.TemporaryDirectory(prefix="mlpipe-champion-") as tmp, \
            storage.local_file(champ["model_uri"]) as artifact:
        model_dir = Path(tmp) / "model"
        with tarfile.open(artifact) as tf:
            tf.extractall(model_dir, filter="data")
        out = Path(tmp) / "score.json"
        _run(SCORE_SCRIPT, ["--model-dir", str(model_dir), "--test", str(test_dir), "--output", str(out)],
             f"champion v{champ.get('version')}")
        scored = json.loads(out.read_text())
    return {**champ, "auc": scored["auc"], "scored_on": "this run's test split"}


def evaluate_challenger(split: dict[str, Any], tuned: dict[str, Any], cfg: PipelineConfig | None = None
                        ) -> dict[str, Any]:
    """Task body of ``evaluate``: the champion scored on the same test split, evaluate.py on the test split
    (metrics, calibration, confusion, the figures), then the shared report."""
    cfg = cfg or load_config()
    e = cfg.training.evaluation
    test_dir = to_path(split["channels"]["test"])
    champ = champion(cfg)
    if champ is not None:
        champ = score_champion(cfg, champ, test_dir)
    args = ["--model-dir", tuned["best"]["model_dir"], "--test", str(test_dir),
            "--output", str(to_path(evaluation_uri(split["root"]))), "--threshold", repr(e.decision_threshold),
            "--baseline-margin", repr(e.baseline_margin), "--champion-tolerance", repr(e.champion_tolerance)]
    if champ and champ.get("auc") is not None:
        args += ["--champion-auc", repr(champ["auc"])]
    _run(EVALUATE_SCRIPT, args, tuned["best"]["model_dir"])
    return write_report(cfg, split, tuned, champ)


def register_challenger(split: dict[str, Any], tuned: dict[str, Any], evaluated: dict[str, Any],
                        verdict: dict[str, Any], outlets: Any = None, outlet_events: Any = None,
                        cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``register``: the challenger's version (idempotent: the version of this tuning job if it
    exists), its lineage next to the channels; emits the model Asset."""
    cfg = cfg or load_config()
    reg = cfg.training.registry
    status = ApprovalStatus.APPROVED if reg.auto_approve else ApprovalStatus.PENDING
    line = lineage(split, tuned, evaluated)
    line["best_trial"]["model_dir"] = tuned["best"]["model_dir"]
    package = registry_for(cfg).register(
        reg.model_package_group, model_uri=tuned["best"]["model_uri"], tuning_job_name=tuned["name"],
        metrics=flat_metrics(evaluated["evaluation"], tuned["best"]["metrics"]), lineage=line,
        approval_status=status, description=f"ml_training dt={split['ds']}: {tuned['best']['name']}")
    line["model_version"] = package.version
    storage_for(cfg).write_json(lineage_uri(split["root"]), line)
    for asset in outlets or []:
        outlet_events[asset].extra = {"version": package.version, "status": str(package.status), "ds": split["ds"],
                                      "arn": package.arn}
    log.info("registered %s version %d (%s)", package.group, package.version, package.status)
    return {"version": package.version, "status": str(package.status), "arn": package.arn,
            "tuning_job_name": tuned["name"], "best_trial": tuned["best"]["name"],
            "test_auc": evaluated["evaluation"]["model"].get("auc")}
