"""Test-set evaluation of a trained model against its naive baseline, and the promotion gate.

``train.py`` runs it when a ``test`` channel is given (writing ``evaluation.json`` to the output data dir);
it also runs on its own, e.g. as a SageMaker Processing job or a local subprocess::

    python evaluate.py --model-dir /opt/ml/model --test /opt/ml/processing/test \\
        --output /opt/ml/processing/evaluation/evaluation.json --baseline-margin 0.05 [--champion-auc 0.81]

The gate passes when the model's test AUC beats the naive baseline's by at least ``baseline_margin`` and,
when a champion (the currently approved model) is given, is not worse than the champion's AUC by more than
``champion_tolerance``. ``evaluation.json`` carries every figure and each check's verdict, the confusion
matrix at the threshold, the calibration table and the top feature importances; with ``--output`` the ROC, PR
and importance plots (``plots``) are written beside it and named in its ``images``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: make the sibling modules importable as the package
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _package import ensure_package  # type: ignore[import-not-found]

    ensure_package()

from training.baseline import naive_baseline_scores  # noqa: E402
from training.data import FeatureSchema, encode, labels, read_channel  # noqa: E402
from training.metrics import auc, binary_metrics, calibration, confusion  # noqa: E402
from training.plots import IMPORTANCE_TOP, write_plots  # noqa: E402
from training.score import load_model, predict  # noqa: E402


def evaluate_frame(booster, schema: FeatureSchema, baseline: dict[str, object], test: pd.DataFrame,
                   threshold: float = 0.5) -> dict[str, object]:
    """Metrics of the model and of the naive baseline on ``test`` (raw rows, with the label)."""
    return _evaluate(booster, schema, baseline, test, threshold)[0]


def _evaluate(booster, schema: FeatureSchema, baseline: dict[str, object], test: pd.DataFrame, threshold: float
              ) -> tuple[dict[str, object], np.ndarray, np.ndarray]:
    X = encode(test, schema)
    y = labels(test, schema.label, "test")
    scores = predict(booster, X)
    model = binary_metrics(y, scores, threshold)
    naive_rule = dict(baseline.get("naive_baseline") or {"kind": "prior", "rate": float(np.mean(y))})
    naive_auc = auc(y, naive_baseline_scores(naive_rule, X))
    prior_rate = float((baseline.get("label") or {}).get("positive_rate_train") or np.mean(y))
    prior = binary_metrics(y, np.full(len(y), prior_rate), threshold)
    lift = None if model["auc"] is None or naive_auc is None else model["auc"] - naive_auc
    return {
        "format": 1,
        "rows": int(len(y)),
        "threshold": threshold,
        "model": model,
        "baselines": {
            "naive": {"rule": {k: v for k, v in naive_rule.items() if k != "rates"}, "auc": naive_auc},
            "prior": {"rate": prior_rate, "auc": 0.5, "logloss": prior["logloss"], "brier": prior["brier"]},
        },
        "auc_lift_over_naive": lift,
        "confusion": confusion(y, scores, threshold),
        "calibration": calibration(y, scores),
        "importance": dict(sorted(booster.get_score(importance_type="gain").items(),
                                  key=lambda kv: -kv[1])[:IMPORTANCE_TOP]),
    }, y, scores


def promotion_checks(evaluation: dict[str, object], baseline_margin: float, champion_auc: float | None = None,
         champion_tolerance: float = 0.0) -> dict[str, object]:
    """The promotion verdict: ``{"passed": bool, "checks": [{"name", "passed", "detail"}, ...]}``."""
    model_auc = (evaluation.get("model") or {}).get("auc")  # type: ignore[union-attr]
    naive_auc = ((evaluation.get("baselines") or {}).get("naive") or {}).get("auc")  # type: ignore[union-attr]
    checks: list[dict[str, object]] = []
    if model_auc is None:
        checks.append({"name": "test_auc_defined", "passed": False,
                       "detail": "the test set holds a single class; AUC is undefined"})
    else:
        reference = 0.5 if naive_auc is None else naive_auc
        need = reference + baseline_margin
        checks.append({"name": "beats_naive_baseline", "passed": model_auc >= need,
                       "detail": f"test AUC {model_auc:.4f} vs naive baseline {reference:.4f} + margin {baseline_margin:.4f} = {need:.4f}"})
        if champion_auc is not None:
            floor = champion_auc - champion_tolerance
            checks.append({"name": "not_worse_than_champion", "passed": model_auc >= floor,
                           "detail": f"test AUC {model_auc:.4f} vs champion {champion_auc:.4f} - tolerance {champion_tolerance:.4f} = {floor:.4f}"})
    return {"passed": all(c["passed"] for c in checks), "baseline_margin": baseline_margin,
            "champion_auc": champion_auc, "champion_tolerance": champion_tolerance, "checks": checks}


def evaluate_model_dir(model_dir: str, test_path: str, threshold: float | None = None,
                       baseline_margin: float = 0.0, champion_auc: float | None = None,
                       champion_tolerance: float = 0.0, plots_dir: str | None = None) -> dict[str, object]:
    """The evaluation document; with ``plots_dir`` the figures too (``images``: caption -> file in it)."""
    booster, schema, baseline = load_model(model_dir)
    if threshold is None:
        threshold = float(((baseline.get("predictions") or {}).get("validation") or {}).get("threshold") or 0.5)
    result, y, scores = _evaluate(booster, schema, baseline, read_channel(test_path, "test"), threshold)
    result["gate"] = promotion_checks(result, baseline_margin, champion_auc, champion_tolerance)
    if plots_dir is not None:
        result["images"] = write_plots(y, scores, result["importance"], plots_dir)  # type: ignore[arg-type]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--test", required=True, help="directory (or file) of Parquet/CSV test rows")
    parser.add_argument("--output", help="where to write evaluation.json (default: stdout only)")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--baseline-margin", type=float, default=0.0)
    parser.add_argument("--champion-auc", type=float)
    parser.add_argument("--champion-tolerance", type=float, default=0.0)
    args = parser.parse_args(argv)
    plots_dir = os.path.dirname(os.path.abspath(args.output)) if args.output else None
    result = evaluate_model_dir(args.model_dir, args.test, args.threshold, args.baseline_margin,
                                args.champion_auc, args.champion_tolerance, plots_dir)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as fh:
            fh.write(text)
    print(text)
    return 0  # the verdict is in the document ("gate.passed"); a failed gate is not a failed job


if __name__ == "__main__":
    raise SystemExit(main())
