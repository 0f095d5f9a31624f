"""Small model directories in the training job's layout, for tests, benchmarks and DAG smoke tests.

``make_model_dir(path)`` trains an XGBoost model on synthetic data the way ``include/training`` does (a
DataFrame, categorical features as ``pandas.Categorical`` with ``enable_categorical=True``) and writes
``model.json``, ``feature_schema.json``, ``baseline.json`` and ``metrics.json``. ``csv_body`` and
``json_values`` render rows of a feature matrix as a client would send them (categories as text). Not
imported by the handler, and not in model.tar.gz.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from serving.model import MODEL_FILES
from serving.schema import Feature, FeatureSchema

DEFAULT_FEATURES: tuple[Feature, ...] = (
    Feature("tenure_days", "int"),
    Feature("spend_30d", "float"),
    Feature("sessions_7d", "int"),
    Feature("has_failed_payment", "bool", nullable=False),
    Feature("avg_session_minutes", "float"),
    Feature("plan", "category", categories=("basic", "premium", "standard")),
)


def synthetic_features(n_rows: int, features: Sequence[Feature] = DEFAULT_FEATURES, seed: int = 0,
                       missing_rate: float = 0.0) -> np.ndarray:
    """A float32 matrix that satisfies the schema: ints integral, bools 0/1, categories as their index, NaN
    (missing) only where nullable."""
    rng = np.random.default_rng(seed)
    cols = []
    for f in features:
        if f.type == "int":
            c = rng.integers(0, 400, n_rows).astype(np.float32)
        elif f.type == "bool":
            c = (rng.random(n_rows) < 0.3).astype(np.float32)
        elif f.type == "category":
            c = rng.integers(0, len(f.categories), n_rows).astype(np.float32)
        else:
            c = rng.gamma(2.0, 20.0, n_rows).astype(np.float32)
        if missing_rate and f.nullable:
            c[rng.random(n_rows) < missing_rate] = np.nan
        cols.append(c)
    return np.column_stack(cols) if cols else np.empty((n_rows, 0), np.float32)


def json_values(X: np.ndarray, features: Sequence[Feature] = DEFAULT_FEATURES) -> list[list[Any]]:
    """Rows as JSON values: None for missing, the category's text, plain numbers otherwise."""
    out = []
    for row in X.tolist():
        vals: list[Any] = []
        for v, f in zip(row, features):  # noqa: B905 - py3.8
            if math.isnan(v):
                vals.append(None)
            elif f.type == "category":
                vals.append(f.categories[int(v)])
            elif f.type in ("int", "bool"):
                vals.append(int(v))
            else:
                vals.append(v)
        out.append(vals)
    return out


def csv_body(X: np.ndarray, features: Sequence[Feature] = DEFAULT_FEATURES) -> bytes:
    """Rows as a text/csv request body (no header; empty field for missing)."""
    lines = []
    for row in json_values(X, features):
        lines.append(",".join("" if v is None else v if isinstance(v, str) else repr(v) for v in row))
    return ("\n".join(lines) + "\n").encode()


def frame(X: np.ndarray, features: Sequence[Feature] = DEFAULT_FEATURES) -> Any:
    """The matrix as the training job's encoded DataFrame (float32 columns, pandas.Categorical)."""
    import pandas as pd

    cols = {}
    for j, f in enumerate(features):
        if f.type == "category":
            codes = np.where(np.isnan(X[:, j]), -1, X[:, j]).astype(int)
            cols[f.name] = pd.Categorical.from_codes(codes, categories=list(f.categories))
        else:
            cols[f.name] = X[:, j].astype(np.float32)
    return pd.DataFrame(cols)


def make_model_dir(path: Path, features: Sequence[Feature] = DEFAULT_FEATURES, *, n_rows: int = 2_000,
                   num_boost_round: int = 10, max_depth: int = 3, seed: int = 0, num_class: int | None = None,
                   id_columns: Sequence[str] = ("customer_id",), target: str = "churned") -> Path:
    """Train a small model on synthetic data and write a complete model directory at ``path``."""
    import xgboost as xgb

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    X = synthetic_features(n_rows, features, seed, missing_rate=0.05)
    z = np.nan_to_num((X - np.nanmean(X, axis=0)) / (np.nanstd(X, axis=0) + 1e-6), nan=0.0)
    score = z @ np.linspace(-1, 1, X.shape[1]).astype(np.float32)  # every feature matters
    if num_class:
        y = np.digitize(score, np.quantile(score, np.linspace(0, 1, num_class + 1)[1:-1]))
        params: dict[str, Any] = {"objective": "multi:softprob", "num_class": num_class}
    else:
        y = (score > np.median(score)).astype(int)
        params = {"objective": "binary:logistic"}
    params.update(max_depth=max_depth, eta=0.3, nthread=1, seed=seed, tree_method="hist")
    dtrain = xgb.DMatrix(frame(X, features), label=y, enable_categorical=True)
    booster = xgb.train(params, dtrain, num_boost_round=num_boost_round)
    booster.save_model(str(path / MODEL_FILES[0]))
    FeatureSchema(tuple(features), tuple(id_columns), target).write(path)
    stats = {f.name: {"kind": "categorical" if f.type == "category" else "numeric",
                      "missing_rate": float(np.isnan(X[:, j]).mean())} for j, f in enumerate(features)}
    (path / "baseline.json").write_text(json.dumps({"features": stats}, indent=2))
    (path / "metrics.json").write_text(json.dumps({"num_boost_round": num_boost_round, "rows": n_rows}))
    return path
