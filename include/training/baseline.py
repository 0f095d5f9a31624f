"""Training baseline statistics (``baseline.json``, for drift monitoring) and the naive baseline model.

Per feature, on the training rows (at most :data:`MAX_ROWS`, a seeded sample beyond that):

- numeric: missing rate, mean, std, min, max, quantiles (:data:`QUANTILES`), and a histogram for PSI: the
  interior bin ``edges`` (training deciles, deduplicated) with the ``fractions`` of non-missing rows in
  ``(-inf, e1], (e1, e2], ..., (ek, +inf)``; and ``sample``, at most :data:`SAMPLE_VALUES` non-missing values
  (seeded, 9 significant digits) for the monitoring's two-sample test (KS) against live data;
- categorical: missing rate, cardinality, frequencies of the :data:`TOP_CATEGORIES` most common categories
  and of the rest (``__other__``), as fractions of non-missing rows.

Predictions: the distribution of the model's scores on validation (quantiles, a 10-bin histogram on [0, 1],
mean, share above the threshold, and a ``sample`` like the numeric features'). Labels: the positive rate of
each channel.

The naive baseline is what a model must clearly beat: the single feature that ranks the training rows best
on its own (a numeric feature's value, or a categorical feature's training churn rate), chosen on training
data only and recorded here, so the evaluation applies the very same rule to the test rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.data import FeatureSchema
from training.metrics import auc

QUANTILES = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
HIST_QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
TOP_CATEGORIES = 50
OTHER = "__other__"
MAX_ROWS = 200_000
SEED = 20_261_101
SAMPLE_VALUES = 1_000


def sample_rows(X: pd.DataFrame, y: np.ndarray | None = None, max_rows: int = MAX_ROWS):
    """At most ``max_rows`` rows, a seeded sample (the statistics of millions of rows need not see them all)."""
    if len(X) <= max_rows:
        return X, y
    idx = np.sort(np.random.default_rng(SEED).choice(len(X), size=max_rows, replace=False))
    return X.iloc[idx], (None if y is None else y[idx])


def histogram(values: np.ndarray, edges: list[float]) -> list[float]:
    """Fractions of ``values`` in (-inf, e1], (e1, e2], ..., (ek, +inf)."""
    if len(values) == 0:
        return [0.0] * (len(edges) + 1)
    idx = np.searchsorted(np.asarray(edges, dtype="float64"), values, side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return [float(c) / len(values) for c in counts]


def value_sample(values: np.ndarray, size: int = SAMPLE_VALUES) -> list[float]:
    """At most ``size`` of ``values`` (a seeded draw without replacement), to 9 significant digits (exact for the
    float32 values training encodes, so ties with live values stay ties)."""
    values = np.asarray(values, dtype="float64")
    if len(values) > size:
        values = values[np.sort(np.random.default_rng(SEED).choice(len(values), size=size, replace=False))]
    return [float(f"{v:.9g}") for v in values]


def _quantiles(values: np.ndarray) -> dict[str, float]:
    qs = np.quantile(values, QUANTILES)
    return {str(q): float(qs[i]) for i, q in enumerate(QUANTILES)}


def numeric_stats(col: pd.Series) -> dict[str, object]:
    values = col.to_numpy(dtype="float64")
    present = values[~np.isnan(values)]
    out: dict[str, object] = {"kind": "numeric", "count": int(len(values)),
                              "missing_rate": float(1 - len(present) / len(values)) if len(values) else 0.0}
    if len(present) == 0:
        return {**out, "edges": [], "fractions": [1.0]}
    edges = sorted({float(v) for v in np.quantile(present, HIST_QUANTILES)})
    out.update({
        "mean": float(present.mean()), "std": float(present.std()),
        "min": float(present.min()), "max": float(present.max()),
        "quantiles": _quantiles(present),
        "edges": edges, "fractions": histogram(present, edges),
        "sample": value_sample(present),
    })
    return out


def categorical_stats(col: pd.Series) -> dict[str, object]:
    present = col.dropna().astype(str)
    total = len(col)
    counts = present.value_counts()
    top = counts.head(TOP_CATEGORIES)
    freqs = {str(k): float(v) / len(present) for k, v in top.items()} if len(present) else {}
    rest = float(counts.iloc[TOP_CATEGORIES:].sum()) / len(present) if len(present) else 0.0
    if rest:
        freqs[OTHER] = rest
    return {"kind": "categorical", "count": int(total),
            "missing_rate": float(1 - len(present) / total) if total else 0.0,
            "cardinality": int(len(counts)), "frequencies": freqs}


def feature_statistics(X: pd.DataFrame, schema: FeatureSchema) -> dict[str, dict[str, object]]:
    X, _ = sample_rows(X)
    return {f.name: (categorical_stats(X[f.name]) if f.kind == "categorical" else numeric_stats(X[f.name]))
            for f in schema.features}


def prediction_statistics(scores: np.ndarray, threshold: float) -> dict[str, object]:
    p = np.asarray(scores, dtype="float64")
    edges = [i / 10 for i in range(1, 10)]
    return {"count": int(len(p)), "mean": float(p.mean()) if len(p) else None,
            "quantiles": _quantiles(p) if len(p) else {},
            "edges": edges, "fractions": histogram(p, edges),
            "threshold": threshold, "share_above_threshold": float((p >= threshold).mean()) if len(p) else None,
            "sample": value_sample(p)}


# ---- the naive baseline -------------------------------------------------------------------------------------


def _feature_score(col: pd.Series, rule: dict[str, object]) -> np.ndarray:
    if rule["kind"] == "categorical":
        rates: dict[str, float] = rule["rates"]  # type: ignore[assignment]
        default = float(rule["default"])  # type: ignore[arg-type]
        mapped = col.astype("object").map(lambda v: rates.get(str(v), default) if v is not None and v == v else default)
        return mapped.to_numpy(dtype="float64")
    values = col.to_numpy(dtype="float64")
    values = np.where(np.isnan(values), float(rule["fill"]), values)  # type: ignore[arg-type]
    return values * float(rule["direction"])  # type: ignore[arg-type]


def fit_naive_baseline(X: pd.DataFrame, y: np.ndarray, schema: FeatureSchema) -> dict[str, object]:
    """The best single-feature ranking rule on the training rows (see the module docstring)."""
    X, y = sample_rows(X, y)
    prior = float(np.mean(y)) if len(y) else 0.0
    best: dict[str, object] = {"kind": "prior", "rate": prior, "train_auc": 0.5}
    best_strength = 0.0
    for f in schema.features:
        col = X[f.name]
        if f.kind == "categorical":
            frame = pd.DataFrame({"v": col.astype("object"), "y": y}).dropna(subset=["v"])
            rates = {str(k): float(v) for k, v in frame.groupby("v", observed=True)["y"].mean().items()}
            rule: dict[str, object] = {"kind": "categorical", "feature": f.name, "rates": rates, "default": prior}
        else:
            values = col.to_numpy(dtype="float64")
            present = values[~np.isnan(values)]
            fill = float(np.median(present)) if len(present) else 0.0
            rule = {"kind": "numeric", "feature": f.name, "fill": fill, "direction": 1.0}
        score = auc(y, _feature_score(col, rule))
        if score is None:
            continue
        if rule["kind"] == "numeric" and score < 0.5:
            rule["direction"] = -1.0
            score = 1.0 - score
        strength = abs(score - 0.5)
        if strength > best_strength:
            best_strength = strength
            best = {**rule, "train_auc": score}
    return best


def naive_baseline_scores(rule: dict[str, object], X: pd.DataFrame) -> np.ndarray:
    """The naive baseline's scores for encoded rows (higher = more likely positive)."""
    if rule["kind"] == "prior":
        return np.full(len(X), float(rule["rate"]))  # type: ignore[arg-type]
    return _feature_score(X[str(rule["feature"])], rule)


def training_baseline(X_train: pd.DataFrame, y_train: np.ndarray, y_valid: np.ndarray, valid_scores: np.ndarray,
                      schema: FeatureSchema, threshold: float, naive: dict[str, object]) -> dict[str, object]:
    """The whole ``baseline.json`` document."""
    return {
        "format": 1,
        "rows": {"train": int(len(y_train)), "validation": int(len(y_valid))},
        "label": {"name": schema.label, "positive_rate_train": float(np.mean(y_train)) if len(y_train) else None,
                  "positive_rate_validation": float(np.mean(y_valid)) if len(y_valid) else None},
        "features": feature_statistics(X_train, schema),
        "predictions": {"validation": prediction_statistics(valid_scores, threshold)},
        "naive_baseline": naive,
    }
