"""Local training: the tuning job's trials as subprocesses (mlpipe.local.tuning), evaluation as a subprocess of
``include/training/evaluate.py``, and the local model registry (MLflow, SQLite, under ``<lake>/registry``)::

    split >> tune >> evaluate >> gate >> register   (register emits the model Asset)
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from airflow.sdk import task

from mlpipe.config import PipelineConfig, load_config
from mlpipe.dagkit import model_asset
from mlpipe.errors import MlPipeError
from mlpipe.lake import to_path
from mlpipe.naming import job_name
from mlpipe.paths import CODE_ROOT
from mlpipe.tasks import training as t

log = logging.getLogger(__name__)

EVALUATE_SCRIPT = CODE_ROOT / "include" / "training" / "evaluate.py"
# Scores of a model directory on the test channel (for the curves and for the champion on the same split),
# with evaluate.py's own loading and encoding; run as a subprocess like evaluate.py.
SCORE_SNIPPET = """
import json, os, sys, importlib.util
import numpy as np
here = os.path.join(sys.argv[1], "include", "training")
sys.path.insert(0, here)
from _package import ensure_package; ensure_package()
from training.evaluate import load_model, predict
from training.data import encode, labels, read_channel
booster, schema, _ = load_model(sys.argv[2])
df = read_channel(sys.argv[3], "test")
X = encode(df, schema)
np.savez(sys.argv[4], y=labels(df, schema.label, "test"), p=predict(booster, X))
with open(sys.argv[4] + ".importance.json", "w") as fh:
    json.dump(booster.get_score(importance_type="gain"), fh)
"""


def _tuning_name(cfg: PipelineConfig, ds: str) -> str:
    return job_name("tuning_job", t.DAG_ID, ds, t.tuning_config_hash(cfg))


def tune(split: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Run (or resume: finished trials are reused) the local tuning job of the date."""
    from mlpipe.local.tuning import tune as run_tuning

    cfg = cfg or load_config()
    ds = split["ds"]
    name = _tuning_name(cfg, ds)
    channels = {c: str(to_path(split["channels"][c])) for c in ("train", "validation")}
    result = run_tuning(cfg.training, name=name, channels=channels, workdir=to_path(f"{split['root']}/tuning"))
    best = result.best
    log.info("tuning job %s: best trial %s %s=%s (%d trials, %d run now)", name, best.name,
             result.objective_metric, best.objective, len(result.trials), result.trials_run)
    return {"name": name, "objective_metric": result.objective_metric, "trials": len(result.trials),
            "best": {"name": best.name, "objective": best.objective, "metrics": best.metrics,
                     "hyperparameters": best.hyperparameters, "model_dir": str(best.model_dir),
                     "model_uri": best.model_artifact.as_uri()}}


def _scores(model_dir: str, test_dir: Path, out: Path) -> tuple[Any, Any, dict[str, float]]:
    import numpy as np

    subprocess.run([sys.executable, "-c", SCORE_SNIPPET, str(CODE_ROOT), model_dir, str(test_dir), str(out)],
                   check=True, capture_output=True, text=True)
    data = np.load(str(out) if str(out).endswith(".npz") else f"{out}.npz")
    importance = json.loads(Path(f"{out}.importance.json").read_text())
    return data["y"], data["p"], importance


def _champion(cfg: PipelineConfig, test_dir: Path, workdir: Path) -> dict[str, Any] | None:
    """The newest Approved version, scored on this run's test split (its recorded test AUC as a fallback)."""
    from mlpipe.local.registry import LocalModelRegistry

    package = LocalModelRegistry.from_config(cfg).deployable(cfg.training.registry.model_package_group)
    if package is None:
        return None
    out = {"version": package.version, "arn": package.arn, "auc": package.metrics.get("test_auc"),
           "tuning_job_name": package.tuning_job_name}
    model_dir = (package.lineage.get("best_trial") or {}).get("model_dir") or package.lineage.get("model_dir")
    if model_dir and Path(model_dir).is_dir():
        metrics = t.workload("metrics")
        y, p, _ = _scores(model_dir, test_dir, workdir / "champion.npz")
        out["auc"], out["scored_on"] = metrics.auc(y, p), "this run's test split"
    return out


def _plots(y: Any, p: Any, importance: dict[str, float], threshold: float, outdir: Path) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    order = np.argsort(-p)
    ys = y[order]
    tp, fp = np.cumsum(ys), np.cumsum(1 - ys)
    tpr, fpr = tp / max(ys.sum(), 1), fp / max((1 - ys).sum(), 1)
    precision = tp / np.arange(1, len(ys) + 1)
    images = {}
    for name, (xs, yv, xl, yl) in {"roc": (fpr, tpr, "false positive rate", "true positive rate"),
                                    "pr": (tpr, precision, "recall", "precision")}.items():
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot(xs, yv)
        if name == "roc":
            ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.set_xlabel(xl), ax.set_ylabel(yl), ax.set_title(name.upper())
        fig.tight_layout(), fig.savefig(outdir / f"{name}.png"), plt.close(fig)
        images[name.upper()] = f"{name}.png"
    top = sorted(importance.items(), key=lambda kv: -kv[1])[:15]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.barh([k for k, _ in reversed(top)], [v for _, v in reversed(top)])
    ax.set_title("feature importance (gain)")
    fig.tight_layout(), fig.savefig(outdir / "importance.png"), plt.close(fig)
    images["feature importance"] = "importance.png"
    pred = p >= threshold
    bins = np.clip((p * 10).astype(int), 0, 9)
    calibration = [{"bin": f"{b / 10:.1f}-{(b + 1) / 10:.1f}", "n": int((bins == b).sum()),
                    "mean_score": float(p[bins == b].mean()), "positive_rate": float(y[bins == b].mean())}
                   for b in range(10) if (bins == b).any()]
    confusion = {"tp": int((pred & (y == 1)).sum()), "fp": int((pred & (y == 0)).sum()),
                 "fn": int((~pred & (y == 1)).sum()), "tn": int((~pred & (y == 0)).sum())}
    return {"images": images, "confusion": confusion, "calibration": calibration}


def evaluate(split: dict[str, Any], tuned: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """evaluate.py on the test split (subprocess), the champion on the same split, the curves and the report."""
    cfg = cfg or load_config()
    e = cfg.training.evaluation
    outdir = to_path(f"{split['root']}/evaluation")
    outdir.mkdir(parents=True, exist_ok=True)
    test_dir = to_path(split["channels"]["test"])
    champion = _champion(cfg, test_dir, outdir)
    cmd = [sys.executable, str(EVALUATE_SCRIPT), "--model-dir", tuned["best"]["model_dir"], "--test", str(test_dir),
           "--output", str(outdir / "evaluation.json"), "--threshold", repr(e.decision_threshold),
           "--baseline-margin", repr(e.baseline_margin), "--champion-tolerance", repr(e.champion_tolerance)]
    if champion and champion.get("auc") is not None:
        cmd += ["--champion-auc", repr(champion["auc"])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise MlPipeError(f"evaluate.py failed (exit {proc.returncode}) on {tuned['best']['model_dir']}:\n"
                          f"{proc.stderr[-3000:]}")
    evaluation = json.loads((outdir / "evaluation.json").read_text())
    y, p, importance = _scores(tuned["best"]["model_dir"], test_dir, outdir / "challenger.npz")
    extra = _plots(y, p, importance, e.decision_threshold, outdir)
    evaluation.update(confusion=extra["confusion"], calibration=extra["calibration"])
    (outdir / "evaluation.json").write_text(json.dumps(evaluation, indent=2, sort_keys=True))
    verdict = t.decide(evaluation, cfg, champion)
    report = outdir / "report.html"
    report.write_text(t.render_report(split["ds"], tuned, evaluation, verdict, extra["images"],
                                      {f"confusion {k}": v for k, v in extra["confusion"].items()}))
    log.info("test AUC %s (naive %s, champion %s); report %s", evaluation["model"].get("auc"),
             evaluation["baselines"]["naive"].get("auc"), (champion or {}).get("auc"), report)
    return {"evaluation": evaluation, "champion": champion, "evaluation_uri": f"{split['root']}/evaluation/"
            "evaluation.json", "report_uri": f"{split['root']}/evaluation/report.html"}


def register(split: dict[str, Any], tuned: dict[str, Any], evaluated: dict[str, Any], verdict: dict[str, Any],
             outlets: Any = None, outlet_events: Any = None, cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Register the challenger (idempotent: the version of this tuning job if it exists); emit the model Asset."""
    from mlpipe.local.registry import ApprovalStatus, LocalModelRegistry

    cfg = cfg or load_config()
    reg = cfg.training.registry
    status = ApprovalStatus.APPROVED if reg.auto_approve else ApprovalStatus.PENDING
    line = t.lineage(split, tuned, evaluated)
    line["best_trial"]["model_dir"] = tuned["best"]["model_dir"]
    package = LocalModelRegistry.from_config(cfg).register(
        reg.model_package_group, model_uri=tuned["best"]["model_uri"], tuning_job_name=tuned["name"],
        metrics=t.flat_metrics(evaluated["evaluation"], tuned["best"]["metrics"]), lineage=line,
        approval_status=status, description=f"ml_training dt={split['ds']}: {tuned['best']['name']}")
    line["model_version"] = package.version
    from mlpipe.stacks import get_stack

    get_stack(cfg).storage().write_json(f"{split['root']}/lineage.json", line)
    for asset in outlets or []:
        outlet_events[asset].extra = {"version": package.version, "status": str(package.status), "ds": split["ds"],
                                      "arn": package.arn}
    log.info("registered %s version %d (%s)", package.group, package.version, package.status)
    return {"version": package.version, "status": str(package.status), "arn": package.arn,
            "tuning_job_name": tuned["name"], "best_trial": tuned["best"]["name"],
            "test_auc": evaluated["evaluation"]["model"].get("auc")}


class LocalTraining:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    def tune(self, split: Any) -> Any:
        return task(tune, task_id="tune")(split)

    def evaluate(self, split: Any, tuned: Any) -> Any:
        return task(evaluate, task_id="evaluate")(split, tuned)

    def register(self, split: Any, tuned: Any, evaluated: Any, verdict: Any) -> Any:
        return task(register, task_id="register", outlets=[model_asset(self.cfg)])(split, tuned, evaluated, verdict)
