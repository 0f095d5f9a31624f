"""Metric lines (what the tuning job's MetricDefinitions regexes read) and binary-classification metrics.

Every evaluation round prints one line, every value as ``<channel>:<metric>=<fixed-point number>;``::

    [12] train:auc=0.912345; train:logloss=0.301234; validation:auc=0.871234; validation:logloss=0.352100;

and the run ends with a ``final`` line carrying the values at the best iteration (early stopping) or the
last one, so the latest value of each metric, the one SageMaker reports as the job's final metric and the
tuner optimises, is the model's::

    final: best_iteration=37; rounds=58; validation:auc=0.874321; validation:logloss=0.349876; ...

A regex such as ``validation:auc=([0-9\\.]+);`` reads them (``TrainingConfig.metric_definitions``).
Numbers are never printed in exponent notation and NaN values are left out, so the regexes stay simple.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

DIGITS = 6


def format_values(values: Mapping[str, float]) -> str:
    """``name=value;`` for each finite value, fixed-point."""
    return " ".join(f"{name}={float(v):.{DIGITS}f};" for name, v in values.items()
                    if v is not None and math.isfinite(float(v)))


def round_line(rounds: int, values: Mapping[str, float]) -> str:
    """The line of one evaluation, after ``rounds`` boosting rounds."""
    return f"[{rounds}] {format_values(values)}"


def final_line(best_iteration: int, rounds: int, values: Mapping[str, float]) -> str:
    return f"final: best_iteration={best_iteration}; rounds={rounds}; {format_values(values)}"


def auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC (the Mann-Whitney statistic, ties counted half), or None with a single class."""
    y = np.asarray(y_true, dtype="float64")
    s = np.asarray(score, dtype="float64")
    positives = float(np.sum(y == 1))
    negatives = float(len(y) - positives)
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype="float64")
    sorted_s = s[order]
    # average rank of each group of equal scores
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the precision-recall curve as a step function (scikit-learn's definition), or None."""
    y = np.asarray(y_true, dtype="float64")
    s = np.asarray(score, dtype="float64")
    positives = float(np.sum(y == 1))
    if positives == 0 or positives == len(y):
        return None
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]   # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def binary_metrics(y_true: np.ndarray, y_prob: np.ndarray, threshold: float = 0.5,
                   prefix: str = "") -> dict[str, float | None]:
    """AUC, PR-AUC, log loss, Brier score and precision/recall/F1 at ``threshold`` (numpy only).

    AUC and PR-AUC are None when the labels hold a single class (they are undefined then).
    """
    y = np.asarray(y_true, dtype="float64")
    raw = np.asarray(y_prob, dtype="float64")
    p = np.clip(raw, 1e-15, 1 - 1e-15)
    pred = raw >= threshold
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    n = len(y)
    out: dict[str, float | None] = {
        "auc": auc(y, raw),
        "aucpr": average_precision(y, raw),
        "logloss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if n else None,
        "brier": float(np.mean((raw - y) ** 2)) if n else None,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "positive_rate": float(y.mean()) if n else 0.0,
        "predicted_positive_rate": float(pred.mean()) if n else 0.0,
        "rows": float(n),
    }
    return {prefix + k: v for k, v in out.items()}


def confusion(y_true: np.ndarray, y_prob: np.ndarray, threshold: float) -> dict[str, int]:
    """``{"tp", "fp", "fn", "tn"}`` of the predictions ``y_prob >= threshold``."""
    y = np.asarray(y_true, dtype="float64")
    pred = np.asarray(y_prob, dtype="float64") >= threshold
    return {"tp": int(np.sum(pred & (y == 1))), "fp": int(np.sum(pred & (y == 0))),
            "fn": int(np.sum(~pred & (y == 1))), "tn": int(np.sum(~pred & (y == 0)))}


def calibration(y_true: np.ndarray, y_prob: np.ndarray, bins: int = 10) -> list[dict[str, object]]:
    """Reliability table: per score bin of width ``1/bins`` (the non-empty ones), its rows, mean score and
    observed positive rate."""
    y = np.asarray(y_true, dtype="float64")
    p = np.asarray(y_prob, dtype="float64")
    index = np.clip((p * bins).astype(int), 0, bins - 1)
    return [{"bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "n": int((index == b).sum()),
             "mean_score": float(p[index == b].mean()), "positive_rate": float(y[index == b].mean())}
            for b in range(bins) if (index == b).any()]
