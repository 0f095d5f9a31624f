"""The model directory and the loaded model (what ``model_fn`` returns).

The model directory (``SM_MODEL_DIR`` of the training job, ``include/training``; ``/opt/ml/model`` of the
endpoint)::

    model.json              the Booster (``Booster.save_model``, JSON); ``model.ubj`` and SageMaker's built-in
                            names ``xgboost-model[.json|.ubj]`` are found too, in that order
    feature_schema.json     the features in the model's column order (``serving.schema``)
    baseline.json           training statistics for drift monitoring (not read here)
    metrics.json            the training job's metrics (not read here)

The training job (include/training/contract.py) writes model.json, feature_schema.json, baseline.json and
metrics.json; the other model names are SageMaker's built-in algorithm's. A directory that cannot serve raises
``ModelLoadError`` saying what is missing or inconsistent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from serving.errors import ModelLoadError
from serving.fast_predict import FastDensePredictor
from serving.matrix import MatrixBuilder
from serving.messages import shown
from serving.schema import SCHEMA_FILE, FeatureSchema

MODEL_FILES = ("model.json", "model.ubj", "xgboost-model.json", "xgboost-model.ubj", "xgboost-model")
BASELINE_FILE = "baseline.json"
# Threads XGBoost uses per prediction (unset: XGBoost's default, all cores). The local endpoint sets 1.
ENV_NTHREAD = "MLPIPE_SERVING_NTHREAD"


class Model:
    """What ``model_fn`` returns: the Booster, its feature schema, the builder of its request matrices, and a
    prediction path for float32 rows."""

    def __init__(self, booster: Any, schema: FeatureSchema, model_dir: Path | None = None,
                 nthread: int | None = None) -> None:
        self.booster = booster
        self.schema = schema
        self.model_dir = model_dir
        n_model = booster.num_features()
        if n_model != schema.n_features:
            raise ModelLoadError(f"{model_dir}: the model has {n_model} features but {SCHEMA_FILE} lists "
                                 f"{schema.n_features}; write the schema from the training frame's columns")
        if booster.feature_names and list(booster.feature_names) != schema.names:
            raise ModelLoadError(f"{model_dir}: the model's feature names {shown(list(booster.feature_names))} differ "
                                 f"from {SCHEMA_FILE} {shown(schema.names)}")
        if nthread:
            booster.set_param({"nthread": int(nthread)})
        self.matrix = MatrixBuilder(schema)
        self._fast = FastDensePredictor.build(booster, schema.n_features)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions (float32, shape (n,) or (n, k)) for a float32 matrix in schema order."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if self._fast is not None:
            return self._fast(X)
        return self.booster.inplace_predict(X, validate_features=False)


def find_model_file(model_dir: str | Path) -> Path:
    d = Path(model_dir)
    for name in MODEL_FILES:
        if (d / name).is_file():
            return d / name
    raise ModelLoadError(f"no model file in {d}: expected one of {list(MODEL_FILES)} "
                         f"(Booster.save_model('{MODEL_FILES[0]}') in SM_MODEL_DIR)")


def load_model(model_dir: str | Path, nthread: int | None = None) -> Model:
    """The model of a model directory (see the module docstring for the layout)."""
    import xgboost as xgb

    d = Path(model_dir)
    if not d.is_dir():
        raise ModelLoadError(f"model directory {d} does not exist")
    schema = FeatureSchema.load(d)
    path = find_model_file(d)
    booster = xgb.Booster()
    try:
        booster.load_model(str(path))
    except Exception as exc:  # noqa: BLE001 - xgboost raises XGBoostError for anything
        raise ModelLoadError(f"{path} could not be loaded by xgboost {xgb.__version__}: {exc}") from exc
    if nthread is None and os.environ.get(ENV_NTHREAD):
        nthread = int(os.environ[ENV_NTHREAD])
    return Model(booster, schema, d, nthread)
