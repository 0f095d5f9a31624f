"""Scores of a model directory (``model.json``, ``feature_schema.json``, ``baseline.json``) on rows of data.

The one way a trained model is loaded and scored outside serving: ``evaluate`` scores the challenger with it,
the local stack scores the champion on the run's test split with it (as a subprocess)::

    python score.py --model-dir /path/to/model --test /path/to/test --output champion.json

writes ``{"rows": n, "auc": ...}`` (``auc`` is None when the rows hold a single class).
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
from training.data import FeatureSchema, encode, labels, read_channel  # noqa: E402
from training.metrics import auc  # noqa: E402


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


def score_channel(model_dir: str, path: str, name: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """``(labels, scores)`` of the model in ``model_dir`` on the labelled rows of the channel at ``path``."""
    booster, schema, _ = load_model(model_dir)
    frame = read_channel(path, name)
    return labels(frame, schema.label, name), predict(booster, encode(frame, schema))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--test", required=True, help="directory (or file) of Parquet/CSV rows with the label")
    parser.add_argument("--output", required=True, help="where to write the JSON result")
    args = parser.parse_args(argv)
    y, scores = score_channel(args.model_dir, args.test)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as fh:
        json.dump({"rows": int(len(y)), "auc": auc(y, scores)}, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
