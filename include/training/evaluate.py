"""Test-set evaluation of a trained model against its naive baseline, and the promotion gate.

``train.py`` runs it when a ``test`` channel is given (writing ``evaluation.json`` to the output data dir);
it also runs on its own, e.g. as a SageMaker Processing job or a local subprocess::

    python evaluate.py --model-dir /opt/ml/model --test /opt/ml/processing/test \\
        --output /opt/ml/processing/evaluation/evaluation.json --baseline-margin 0.05 [--champion-auc 0.81]

The gate passes when the model's test AUC beats the naive baseline's by at least ``baseline_margin`` and,
when a champion (the currently approved model) is given, is not worse than the champion's AUC by more than
``champion_tolerance``. ``evaluation.json`` carries every figure and each check's verdict.
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

from training import contract  # noqa: E402
from training.baseline import naive_baseline_scores  # noqa: E402
from training.data import FeatureSchema, encode, labels, read_channel  # noqa: E402
from training.metrics import auc, binary_metrics  # noqa: E402


def load_model(model_dir: str):
    """The booster, its feature schema and its baseline document from a model directory."""
    import xgboost as xgb

    with open(os.path.join(model_dir, contract.SCHEMA_FILE)) as fh:
        schema = FeatureSchema.from_dict(json.load(fh))
    with open(os.path.join(model_dir, contract.BASELINE_FILE)) as fh:
        baseline = json.load(fh)
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, contract.MODEL_FILE))
    return booster, schema, baseline


def predict(booster, X: pd.DataFrame) -> np.ndarray:
    import xgboost as xgb

    return booster.predict(xgb.DMatrix(X, enable_categorical=True))


def evaluate_frame(booster, schema: FeatureSchema, baseline: dict[str, object], test: pd.DataFrame,
                   threshold: float = 0.5) -> dict[str, object]:
    """Metrics of the model and of the naive baseline on ``test`` (raw rows, with the label)."""
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
    }


def gate(evaluation: dict[str, object], baseline_margin: float, champion_auc: float | None = None,
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
                       champion_tolerance: float = 0.0) -> dict[str, object]:
    booster, schema, baseline = load_model(model_dir)
    if threshold is None:
        threshold = float(((baseline.get("predictions") or {}).get("validation") or {}).get("threshold") or 0.5)
    result = evaluate_frame(booster, schema, baseline, read_channel(test_path, "test"), threshold)
    result["gate"] = gate(result, baseline_margin, champion_auc, champion_tolerance)
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
    result = evaluate_model_dir(args.model_dir, args.test, args.threshold, args.baseline_margin,
                                args.champion_auc, args.champion_tolerance)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as fh:
            fh.write(text)
    print(text)
    return 0  # the verdict is in the document ("gate.passed"); a failed gate is not a failed job


if __name__ == "__main__":
    raise SystemExit(main())
