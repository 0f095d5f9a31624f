"""SageMaker inference handler for the churn XGBoost model (script mode of the SageMaker XGBoost container).

The four functions of the SageMaker inference contract, used unchanged by the SageMaker endpoint, by
SageMaker batch transform, by the local endpoint (``mlpipe.local.endpoint``) and by the local batch
transform (``mlpipe.local.batch``)::

    model = model_fn(model_dir)                         # once per worker
    data = input_fn(request_body, content_type)         # parse (no model needed)      -> Payload
    prediction = predict_fn(data, model)                # validate against the schema  -> np.ndarray
    body, content_type = output_fn(prediction, accept)  # serialize                    -> (bytes, str)

``invoke(model, body, content_type, accept)`` chains them exactly like the container does.

Model directory (``SM_MODEL_DIR`` of the training job, ``include/training``; ``/opt/ml/model`` of the
endpoint)::

    model.json              the Booster (``Booster.save_model``, JSON); ``model.ubj`` and SageMaker's built-in
                            names ``xgboost-model[.json|.ubj]`` are found too, in that order
    feature_schema.json     the features in the model's column order (below)
    baseline.json           training statistics for drift monitoring (not read here)
    metrics.json            the training job's metrics (not read here)

``feature_schema.json``, as the training job writes it::

    {"format": 1, "label": "churned", "excluded": ["customer_id", "as_of"],
     "features": [{"name": "tenure_days", "kind": "numeric", "dtype": "int64"},
                  {"name": "monthly_spend", "kind": "numeric", "dtype": "float64"},
                  {"name": "plan", "kind": "categorical", "dtype": "object",
                   "categories": ["basic", "premium", "standard"]}]}

A numeric feature with an integer dtype must get integral values, a ``bool`` one true/false or 1/0, any
other numeric feature a number; a categorical feature gets its category as text (JSON numbers are matched as
``str(value)``, as training encodes them) and is predicted on the category's index; a category never seen in
training is a missing value (training's rule). Any feature may be missing (CSV: empty field; JSON: null)
unless it says ``"nullable": false``. ``excluded`` columns (ids) may appear in JSON records and are ignored;
batch transform keeps them. Also accepted: ``{"features": [{"name", "type"}], "id_columns", "target"}`` with
types float/int/bool/category, and XGBoost's ``{"feature_names", "feature_types"}``.

Requests (``text/csv`` and ``application/json``, a ``; charset=utf-8`` parameter is fine):

* CSV: one row per line, no header, values in schema order; an empty field is a missing value.
* JSON: ``{"instances": [[v, ...], ...]}`` (rows in schema order), ``{"instances": [{"name": v, ...}]}``
  (records by feature name), a single record ``{"name": v, ...}``, a bare list of rows ``[[...], ...]``
  or one bare row ``[v, ...]``; SageMaker's built-in format ``{"instances": [{"features": [v, ...]}]}``
  too. ``null`` (or ``NaN``) is missing.

Responses: ``application/json`` (the default for ``Accept: */*`` or none) is
``{"predictions": [{"score": p}, ...]}`` (``{"scores": [...]}`` per row for multi-output models);
``text/csv`` is one line per input row. Floats are written so that they parse back to the model's exact
float32 output.

Every client mistake raises an ``InferenceError`` subclass carrying the HTTP status (400, 406, 413, 415)
and a message that says exactly what is wrong and where (row, column, feature name). The local endpoint
answers it with that status and ``{"error", "status", "message"}``; so does the SageMaker container, through
``serving.sagemaker_entry``'s ``transform_fn`` (the XGBoost image's ``sagemaker_containers`` would turn an
exception from ``input_fn``/``predict_fn``/``output_fn`` into a 500). Where ``sagemaker_inference`` is
installed the errors also derive from its ``BaseInferenceToolkitError`` (the multi-model server's toolkit).

``model.tar.gz`` carries this module as ``code/serving/inference.py`` beside the container's entry module
``code/inference.py`` (``include/training/model_code.py``). It has no sibling imports and depends only on
numpy and xgboost (both in the container); it keeps to Python 3.8 syntax like the training job. It never
imports Airflow or mlpipe.
"""

from __future__ import annotations

import csv
import ctypes
import json
import logging
import math
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# ---- the contract's constants -------------------------------------------------------------------------
# The training job (include/training/contract.py) writes model.json, feature_schema.json, baseline.json and
# metrics.json into SM_MODEL_DIR; the other model names are SageMaker's built-in algorithm's.
SCHEMA_FILE = "feature_schema.json"
BASELINE_FILE = "baseline.json"
MODEL_FILES = ("model.json", "model.ubj", "xgboost-model.json", "xgboost-model.ubj", "xgboost-model")
SCHEMA_VERSION = 1

CSV = "text/csv"
JSON = "application/json"
SUPPORTED_CONTENT_TYPES = (CSV, JSON)
SUPPORTED_ACCEPTS = (JSON, CSV)

# SageMaker's InvokeEndpoint payload limit (6 MB); the XGBoost container reads SAGEMAKER_MAX_REQUEST_SIZE.
DEFAULT_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
ENV_MAX_PAYLOAD = "SAGEMAKER_MAX_REQUEST_SIZE"
# The container's default response type for ``Accept: */*``.
ENV_DEFAULT_ACCEPT = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
# Threads XGBoost uses per prediction (unset: XGBoost's default, all cores). The local endpoint sets 1.
ENV_NTHREAD = "MLPIPE_SERVING_NTHREAD"

FEATURE_TYPES = ("float", "int", "bool", "category")
_TYPE_ALIASES = {
    "float": "float", "q": "float", "double": "float", "number": "float", "float32": "float", "float64": "float",
    "int": "int", "integer": "int", "int32": "int", "int64": "int",
    "bool": "bool", "boolean": "bool", "i": "bool",
    "category": "category", "categorical": "category", "c": "category",
}
_BOOL_WORDS = {"true": 1.0, "false": 0.0}
_MAX_SHOWN = 5  # names listed in one message
# The SageMaker container (sagemaker_containers' Request.content) hands a text/csv or application/json body over
# decoded as UTF-8 with each undecodable byte replaced by U+FFFD; a text body holding it is refused.
REPLACEMENT_CHARACTER = "\ufffd"
# Deepest JSON nesting accepted (a request needs 3: {"instances": [[...]]}); checked before parsing.
MAX_JSON_DEPTH = 64


# ---- errors -------------------------------------------------------------------------------------------
try:  # inside the SageMaker container: let the toolkit turn our errors into their HTTP status
    from sagemaker_inference.errors import BaseInferenceToolkitError as _ToolkitError  # type: ignore
except Exception:  # noqa: BLE001 - not installed locally
    _ToolkitError = Exception  # type: ignore[misc,assignment]


class InferenceError(_ToolkitError):  # type: ignore[misc,valid-type]
    """A request the handler refuses: ``status_code`` is the HTTP status, ``message`` says what to fix."""

    status_code = 400
    phrase = "Bad Request"
    code = "bad_request"

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.message = message

    def to_dict(self) -> dict:
        return {"error": self.code, "status": self.status_code, "message": self.message}


class EmptyBodyError(InferenceError):
    code = "empty_body"


class MalformedPayloadError(InferenceError):
    code = "malformed_payload"


class FeatureCountError(InferenceError):
    code = "feature_count"


class FeatureTypeError(InferenceError):
    code = "feature_type"


class FeatureNameError(InferenceError):
    code = "feature_name"


class PayloadTooLargeError(InferenceError):
    status_code = 413
    phrase = "Payload Too Large"
    code = "payload_too_large"


class UnsupportedContentTypeError(InferenceError):
    status_code = 415
    phrase = "Unsupported Media Type"
    code = "unsupported_content_type"


class UnsupportedAcceptError(InferenceError):
    status_code = 406
    phrase = "Not Acceptable"
    code = "unsupported_accept"


class ModelLoadError(Exception):
    """The model directory is incomplete or inconsistent (a packaging error, never a client error)."""


# ---- the feature schema -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Feature:
    """One model input column. ``type``: ``float``, ``int`` (integral values), ``bool`` (true/false or 1/0)
    or ``category`` (one of ``categories``; sent as its text, predicted on its index; an unseen category is a
    missing value, exactly as the training job encodes it)."""

    name: str
    type: str = "float"
    nullable: bool = True
    categories: tuple[str, ...] = ()
    dtype: str = ""  # the training column's dtype, kept for the record

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(str(c) for c in self.categories))


@dataclass(frozen=True)
class FeatureSchema:
    """The model's input columns, in the order the model expects them (``feature_schema.json``)."""

    features: tuple[Feature, ...]
    id_columns: tuple[str, ...] = ()
    target: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "id_columns", tuple(self.id_columns))
        if not self.features:
            raise ModelLoadError("feature schema: 'features' is empty; list the model's input columns in order")
        names = [f.name for f in self.features]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            raise ModelLoadError(f"feature schema: duplicate feature names {dups}")
        for f in self.features:
            if f.type not in FEATURE_TYPES:
                raise ModelLoadError(f"feature schema: feature '{f.name}' has type '{f.type}'; "
                                     f"use one of {list(FEATURE_TYPES)}")
            if f.type == "category" and not f.categories:
                raise ModelLoadError(f"feature schema: categorical feature '{f.name}' lists no categories")

        def cols(kind: str) -> np.ndarray:
            return np.array([i for i, f in enumerate(self.features) if f.type == kind], dtype=np.intp)

        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})
        object.__setattr__(self, "_allowed_extra", frozenset(self.id_columns) | (
            frozenset([self.target]) if self.target else frozenset()))
        object.__setattr__(self, "_int_cols", cols("int"))
        object.__setattr__(self, "_bool_cols", cols("bool"))
        object.__setattr__(self, "_required_cols", np.array(
            [i for i, f in enumerate(self.features) if not f.nullable], dtype=np.intp))
        object.__setattr__(self, "_codes", {
            i: {c: float(k) for k, c in enumerate(f.categories)}
            for i, f in enumerate(self.features) if f.type == "category"})
        object.__setattr__(self, "_token_converters", [
            _category_converter(f) if f.type == "category" else float for f in self.features])

    # -- construction -----------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def has_categories(self) -> bool:
        return bool(self._codes)  # type: ignore[attr-defined]

    def category_codes(self, j: int) -> dict[str, float]:
        """Category -> index of the ``j``-th feature (a categorical one)."""
        return self._codes[j]  # type: ignore[attr-defined]

    @classmethod
    def from_dict(cls, raw: Any) -> FeatureSchema:
        """The training job's format (``{"format": 1, "label", "excluded", "features": [{"name", "kind",
        "dtype", "categories"}]}``), or ``{"features": [{"name", "type"}], "id_columns", "target"}``, or
        XGBoost's ``{"feature_names", "feature_types"}``."""
        if not isinstance(raw, dict):
            raise ModelLoadError("feature schema: expected a JSON object with 'features'")
        if "features" in raw:
            if not isinstance(raw["features"], list):
                raise ModelLoadError("feature schema: 'features' must be a list")
            feats = [_feature_from(item, i) for i, item in enumerate(raw["features"])]
        elif "feature_names" in raw:
            names = raw["feature_names"]
            types = raw.get("feature_types") or ["float"] * len(names)
            if len(types) != len(names):
                raise ModelLoadError(f"feature schema: {len(names)} feature_names but {len(types)} feature_types")
            feats = [Feature(n, _canonical_type(t, n)) for n, t in zip(names, types)]  # noqa: B905 - py3.8
        else:
            raise ModelLoadError("feature schema: needs 'features' (a list of {name, kind|type}) or 'feature_names'")
        ids = raw.get("excluded", raw.get("id_columns")) or ()
        return cls(tuple(feats), tuple(str(c) for c in ids), raw.get("label", raw.get("target")))

    @classmethod
    def load(cls, model_dir: str | Path) -> FeatureSchema:
        path = Path(model_dir) / SCHEMA_FILE
        if not path.is_file():
            raise ModelLoadError(f"{path} is missing: the training job must write the feature schema "
                                 f"({SCHEMA_FILE}) next to the model in SM_MODEL_DIR")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ModelLoadError(f"{path} is not valid JSON: {exc}") from exc
        return cls.from_dict(raw)

    def to_dict(self) -> dict:
        """The training job's format (what ``include/training`` writes and reads)."""
        feats = []
        for f in self.features:
            item: dict = {"name": f.name, "kind": "categorical" if f.type == "category" else "numeric",
                          "dtype": f.dtype or _DEFAULT_DTYPES[f.type]}
            if f.type == "category":
                item["categories"] = list(f.categories)
            if not f.nullable:
                item["nullable"] = False
            feats.append(item)
        return {"format": SCHEMA_VERSION, "label": self.target, "excluded": list(self.id_columns), "features": feats}

    def write(self, model_dir: str | Path) -> Path:
        path = Path(model_dir) / SCHEMA_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    # -- validation -------------------------------------------------------------------------------------
    def to_matrix(self, payload: Payload) -> np.ndarray:
        """The payload as a float32 matrix in schema order (categories as their index), or an InferenceError
        saying what is wrong."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._to_checked_matrix(payload)

    def _to_checked_matrix(self, payload: Payload) -> np.ndarray:
        if payload.matrix is not None:
            X = payload.matrix
            if X.ndim != 2 or X.shape[1] != self.n_features:
                raise FeatureCountError(f"expected {self.n_features} features per row, got {X.shape[-1]}")
            return self.check_matrix(X.astype(np.float32, copy=False), payload)
        if payload.records is not None:
            return self.check_matrix(self._records_to_matrix(payload.records, payload), payload)
        rows = payload.rows or []
        k = self.n_features
        for i, row in enumerate(rows):
            if len(row) != k:
                raise FeatureCountError(
                    f"{_where(payload, i)} has {len(row)} value{'s' if len(row) != 1 else ''}; the model expects "
                    f"{k} features in this order: {_shown(self.names)}")
        if payload.tokens:
            X = self._tokens_to_matrix(rows, payload)
        else:
            X = self._values_to_matrix(rows, payload)
        return self.check_matrix(X, payload)

    def check_matrix(self, X: np.ndarray, payload: Payload | None = None) -> np.ndarray:
        """Type checks on a float32 matrix in schema order: finite, integral ints, 0/1 bools, no missing
        where the feature is not nullable."""
        bad = np.isinf(X)
        if bad.any():
            i, j = (int(v) for v in np.argwhere(bad)[0])
            raise FeatureTypeError(f"{_where(payload, i)}, feature '{self.features[j].name}' (column {j + 1}): "
                                   f"the value is infinite or beyond float32's range (±3.4e38); send a finite number")
        if self._int_cols.size:  # type: ignore[attr-defined]
            sub = X[:, self._int_cols]  # type: ignore[attr-defined]
            bad = ~np.isnan(sub) & (sub != np.floor(sub))
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                col = int(self._int_cols[j])  # type: ignore[attr-defined]
                raise FeatureTypeError(f"{_where(payload, i)}, feature '{self.features[col].name}' (column {col + 1}) "
                                       f"is an integer feature; got {float(sub[i, j])!r}")
        if self._bool_cols.size:  # type: ignore[attr-defined]
            sub = X[:, self._bool_cols]  # type: ignore[attr-defined]
            bad = ~np.isnan(sub) & (sub != 0) & (sub != 1)
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                col = int(self._bool_cols[j])  # type: ignore[attr-defined]
                raise FeatureTypeError(f"{_where(payload, i)}, feature '{self.features[col].name}' (column {col + 1}) "
                                       f"is a boolean feature (true/false or 1/0); got {float(sub[i, j])!r}")
        if self._required_cols.size:  # type: ignore[attr-defined]
            bad = np.isnan(X[:, self._required_cols])  # type: ignore[attr-defined]
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                col = int(self._required_cols[j])  # type: ignore[attr-defined]
                raise FeatureTypeError(f"{_where(payload, i)}, feature '{self.features[col].name}' (column {col + 1}) "
                                       f"may not be missing")
        return X

    def _tokens_to_matrix(self, rows: list[list[str]], payload: Payload) -> np.ndarray:
        try:  # fast path: every numeric token a plain number
            if self.has_categories:
                convs = self._token_converters  # type: ignore[attr-defined]
                values = [[c(t) for c, t in zip(convs, row)] for row in rows]  # noqa: B905 - lengths checked
            else:
                values = [[float(t) for t in row] for row in rows]
            return np.array(values, dtype=np.float32).reshape(len(rows), self.n_features)
        except (ValueError, OverflowError):
            pass
        out = np.empty((len(rows), self.n_features), dtype=np.float32)
        for i, row in enumerate(rows):
            for j, tok in enumerate(row):
                out[i, j] = self._token_value(tok, i, j, payload)
        return out

    def _token_value(self, tok: str, i: int, j: int, payload: Payload) -> float:
        feat = self.features[j]
        if feat.type == "category":
            return self._token_converters[j](tok)  # type: ignore[attr-defined]
        t = tok.strip()
        if t == "" or t.lower() in ("nan", "null", "na"):
            return math.nan
        if feat.type == "bool" and t.lower() in _BOOL_WORDS:
            return _BOOL_WORDS[t.lower()]
        try:
            return float(t)
        except (ValueError, OverflowError):
            if i == 0 and [x.strip() for x in (payload.rows or [[]])[0]] == self.names:
                raise FeatureTypeError("the first CSV line is a header; send rows only, values in this order: "
                                       f"{_shown(self.names)}") from None
            raise FeatureTypeError(f"{_where(payload, i)}, feature '{feat.name}' (column {j + 1}) must be "
                                   f"{_expect(feat)}; got {_clip(tok)!r}") from None

    def _values_to_matrix(self, rows: Sequence[Sequence[Any]], payload: Payload) -> np.ndarray:
        out = np.empty((len(rows), self.n_features), dtype=np.float32)
        feats = self.features
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                out[i, j] = self._json_value(v, feats[j], i, j, payload)
        return out

    def _records_to_matrix(self, records: Sequence[dict], payload: Payload) -> np.ndarray:
        out = np.empty((len(records), self.n_features), dtype=np.float32)
        feats, index, extra_ok = self.features, self._index, self._allowed_extra  # type: ignore[attr-defined]
        for i, rec in enumerate(records):
            if len(rec) != len(feats) or any(k not in index for k in rec):
                unknown = [k for k in rec if k not in index and k not in extra_ok]
                missing = [f.name for f in feats if f.name not in rec]
                if unknown or missing:
                    parts = []
                    if missing:
                        parts.append(f"missing feature{'s' if len(missing) > 1 else ''} {_shown(missing)}")
                    if unknown:
                        parts.append(f"unknown key{'s' if len(unknown) > 1 else ''} {_shown(unknown)}")
                    raise FeatureNameError(f"{_where(payload, i)}: {' and '.join(parts)}; the model's features are "
                                           f"{_shown(self.names)} (send null for a missing value)")
            for j, f in enumerate(feats):
                out[i, j] = self._json_value(rec[f.name], f, i, j, payload)
        return out

    def _json_value(self, v: Any, feat: Feature, i: int, j: int, payload: Payload) -> float:
        tv = type(v)
        if v is None:
            return math.nan
        if feat.type == "category":
            if tv is str:
                return self._codes[j].get(v, math.nan)  # type: ignore[attr-defined]
            if tv in (int, float, bool):  # the training job encodes str(value)
                return self._codes[j].get(str(v), math.nan)  # type: ignore[attr-defined]
        elif tv is float or tv is int:
            try:
                return float(v)
            except OverflowError:
                raise FeatureTypeError(f"{_where(payload, i)}, feature '{feat.name}' (column {j + 1}): "
                                       f"{_clip(str(v))} is beyond float32's range") from None
        elif tv is bool:
            if feat.type == "bool":
                return 1.0 if v else 0.0
            raise FeatureTypeError(f"{_where(payload, i)}, feature '{feat.name}' (column {j + 1}) must be "
                                   f"{_expect(feat)}; got {json.dumps(v)}")
        kind = {str: "the string", list: "a list", dict: "an object"}.get(tv, tv.__name__)
        shown = _clip(v) if tv is str else _clip(json.dumps(v)[:60])
        raise FeatureTypeError(f"{_where(payload, i)}, feature '{feat.name}' (column {j + 1}) must be "
                               f"{_expect(feat)}; got {kind} {shown!r}")


_DEFAULT_DTYPES = {"float": "float32", "int": "int64", "bool": "bool", "category": "object"}


def _category_converter(feat: Feature) -> Any:
    codes = {c: float(k) for k, c in enumerate(feat.categories)}
    nan = math.nan

    def convert(token: str) -> float:
        code = codes.get(token)
        if code is None:
            code = codes.get(token.strip(), nan)
        return code

    return convert


def _feature_from(item: Any, i: int) -> Feature:
    if isinstance(item, str):
        return Feature(item)
    if not (isinstance(item, dict) and isinstance(item.get("name"), str)):
        raise ModelLoadError(f"feature schema: features[{i}] must be a name or an object with 'name', got {item!r}")
    name = item["name"]
    nullable = bool(item.get("nullable", True))
    if "kind" in item:  # the training job's format
        dtype = str(item.get("dtype", ""))
        if item["kind"] == "categorical":
            return Feature(name, "category", nullable, tuple(item.get("categories") or ()), dtype)
        if item["kind"] != "numeric":
            raise ModelLoadError(f"feature schema: feature '{name}' has kind {item['kind']!r}; "
                                 f"expected 'numeric' or 'categorical'")
        low = dtype.lower()
        kind = "bool" if low in ("bool", "boolean") else "int" if low.startswith(("int", "uint")) else "float"
        return Feature(name, kind, nullable, (), dtype)
    ftype = _canonical_type(item.get("type", "float"), name)
    return Feature(name, ftype, nullable, tuple(item.get("categories") or ()), str(item.get("dtype", "")))


def _canonical_type(raw: Any, name: str) -> str:
    t = _TYPE_ALIASES.get(str(raw).lower())
    if t is None:
        raise ModelLoadError(f"feature schema: feature '{name}' has type {raw!r}; use one of {list(FEATURE_TYPES)}")
    return t


def _expect(feat: Feature) -> str:
    what = {"float": "a number", "int": "an integer", "bool": "a boolean (true/false or 1/0)",
            "category": "a category (text)"}[feat.type]
    return what + (" or missing" if feat.nullable else "")


def _where(payload: Payload | None, i: int) -> str:
    if payload is None:
        return f"row {i + 1}"
    if payload.source == "csv":
        return f"CSV line {payload.line_numbers[i] if payload.line_numbers else i + 1}"
    if payload.source == "json":
        return f"instance {i}" if payload.batch else "the instance"
    return f"row {payload.row_offset + i + 1}"


def _shown(names: Sequence[str]) -> str:
    head = ", ".join(repr(n) for n in names[:_MAX_SHOWN * 4])
    return f"[{head}{', ...' if len(names) > _MAX_SHOWN * 4 else ''}]"


def _clip(s: str, n: int = 40) -> str:
    s = str(s)
    return s if len(s) <= n else s[:n] + "..."


# ---- the loaded model ---------------------------------------------------------------------------------
class Model:
    """What ``model_fn`` returns: the Booster, its feature schema, and a prediction path for float32 rows."""

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
            raise ModelLoadError(f"{model_dir}: the model's feature names {_shown(list(booster.feature_names))} differ "
                                 f"from {SCHEMA_FILE} {_shown(schema.names)}")
        if nthread:
            booster.set_param({"nthread": int(nthread)})
        self._fast = _FastDense.build(booster, schema.n_features)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions (float32, shape (n,) or (n, k)) for a float32 matrix in schema order."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if self._fast is not None:
            return self._fast(X)
        return self.booster.inplace_predict(X, validate_features=False)


class _FastDense:
    """``XGBoosterPredictFromDense`` called directly: the same C prediction as ``inplace_predict`` without its
    per-call overhead (Python wrapping, and a new proxy DMatrix per call whose Context re-reads the cgroup CPU
    quota from /sys: together ~0.2-0.4 ms, dominant for one row). One proxy DMatrix per thread is reused.
    Used only after it reproduced ``inplace_predict`` bit for bit on a probe matrix at load; else None."""

    def __init__(self, booster: Any, lib: Any, check: Any, ulong: Any, proxy_cls: Any) -> None:
        self._booster, self._lib, self._check, self._ulong = booster, lib, check, ulong
        self._proxy_cls = proxy_cls
        self._local = threading.local()
        self._args = json.dumps({"type": 0, "training": False, "iteration_begin": 0, "iteration_end": 0,
                                 "missing": float("nan"), "strict_shape": False, "cache_id": 0}).encode()

    @classmethod
    def build(cls, booster: Any, n_features: int) -> _FastDense | None:
        try:
            from xgboost.core import _LIB, _check_call, c_bst_ulong  # type: ignore
            try:
                from xgboost.core import _ProxyDMatrix  # type: ignore
            except ImportError:
                _ProxyDMatrix = None
            fast = cls(booster, _LIB, _check_call, c_bst_ulong, _ProxyDMatrix)
            rng = np.random.default_rng(0)
            probe = rng.normal(0, 100, size=(16, n_features)).astype(np.float32)
            probe[::7, :] = np.nan
            for X in (probe, probe[:1], probe[1:2]):
                if not np.array_equal(fast(X), booster.inplace_predict(X, validate_features=False), equal_nan=True):
                    return None
            return fast
        except Exception as exc:  # noqa: BLE001 - any surprise: use the public API
            log.info("fast prediction path unavailable (%s); using Booster.inplace_predict", exc)
            return None

    def _proxy_handle(self) -> Any:
        if self._proxy_cls is None:
            return None
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            proxy = self._local.proxy = self._proxy_cls()
        return proxy.handle

    def __call__(self, X: np.ndarray) -> np.ndarray:
        ai = (f'{{"data": [{X.ctypes.data}, true], "shape": [{X.shape[0]}, {X.shape[1]}], "strides": null, '
              f'"typestr": "<f4", "version": 3}}').encode()
        preds = ctypes.POINTER(ctypes.c_float)()
        shape = ctypes.POINTER(self._ulong)()
        dims = self._ulong()
        self._check(self._lib.XGBoosterPredictFromDense(
            self._booster.handle, ai, self._args, self._proxy_handle(), ctypes.byref(shape), ctypes.byref(dims),
            ctypes.byref(preds)))
        shp = tuple(int(shape[d]) for d in range(dims.value))
        n = 1
        for s in shp:
            n *= s
        return np.ctypeslib.as_array(preds, (n,)).copy().reshape(shp)


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


# ---- parsed requests ----------------------------------------------------------------------------------
@dataclass
class Payload:
    """What ``input_fn`` returns: the rows of a request, parsed but not yet checked against the schema.

    Exactly one of ``rows`` (positional rows; CSV tokens when ``tokens``), ``records`` (dicts by feature name)
    or ``matrix`` (already numeric, in schema order, e.g. a Parquet chunk) is set."""

    rows: list[Any] | None = None
    records: list[dict] | None = None
    matrix: np.ndarray | None = None
    tokens: bool = False
    source: str = "matrix"
    batch: bool = True
    line_numbers: list[int] | None = field(default=None, repr=False)
    row_offset: int = 0  # rows before this chunk (batch transform), for messages

    @property
    def n_rows(self) -> int:
        if self.matrix is not None:
            return int(self.matrix.shape[0])
        return len(self.records if self.records is not None else self.rows or [])


def media_type(content_type: str | None) -> str:
    """'text/csv; charset=utf-8' -> 'text/csv'."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def max_payload_bytes() -> int:
    raw = os.environ.get(ENV_MAX_PAYLOAD)
    return int(raw) if raw and raw.isdigit() else DEFAULT_MAX_PAYLOAD_BYTES


def parse_csv(body: bytes | str) -> Payload:
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPayloadError(f"the CSV body is not valid UTF-8 (byte {exc.start})") from None
    else:
        text = body
        if REPLACEMENT_CHARACTER in text:
            raise _replaced("CSV")
    if "\x00" in text:
        raise MalformedPayloadError("the CSV body contains a NUL byte")
    if '"' in text:
        try:
            raw_rows = list(csv.reader(text.splitlines()))
        except csv.Error as exc:
            raise MalformedPayloadError(f"malformed CSV: {exc}") from None
    else:
        raw_rows = [line.split(",") for line in text.splitlines()]
    rows: list[list[str]] = []
    lines: list[int] = []
    for n, row in enumerate(raw_rows, start=1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        rows.append(row)
        lines.append(n)
    if not rows:
        raise EmptyBodyError("the CSV body has no rows; send one row per line, values in the model's feature order")
    width = len(rows[0])
    for row, n in zip(rows, lines):  # noqa: B905 - py3.8
        if len(row) != width:
            raise MalformedPayloadError(f"ragged CSV: line {lines[0]} has {width} values but line {n} has {len(row)}")
    return Payload(rows=rows, tokens=True, source="csv", batch=len(rows) > 1, line_numbers=lines)


def _reject_constant(name: str) -> float:
    if name == "NaN":
        return math.nan
    raise MalformedPayloadError(f"JSON contains {name}; send a finite number (or null for a missing value)")


def _replaced(kind: str) -> MalformedPayloadError:
    return MalformedPayloadError(f"the {kind} body is not valid UTF-8: it holds U+FFFD, the character the SageMaker "
                                 f"container puts in place of bytes that do not decode; send UTF-8")


_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_BRACKET_STEP = np.zeros(256, np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


def json_too_deep(body: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets nest more than ``limit`` levels outside strings, decided before parsing: the depth at
    which ``json.loads`` gives up depends on the caller's stack (a gunicorn/gevent worker's is deeper), so
    without this the same body could be "malformed" on one server and "nested too deeply" on another."""
    raw = body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else bytes(body)
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if b"\\" in raw:  # escaped quotes: walk the strings and brackets
        depth = 0
        for m in _JSON_TOKEN.finditer(raw):
            token = m.group()
            if token in (b"[", b"{"):
                depth += 1
                if depth > limit:
                    return True
            elif token in (b"]", b"}"):
                depth -= 1
        return False
    a = np.frombuffer(raw, dtype=np.uint8)
    step = _BRACKET_STEP[a]
    if int(np.cumsum(step, dtype=np.int32).max()) <= limit:   # brackets in strings counted too: a bound
        return False
    quotes = np.flatnonzero(a == 34)
    if len(quotes):  # no step between a string's quotes (quotes[0]..quotes[1], quotes[2]..quotes[3], ...)
        inside = np.zeros(len(a) + 1, np.int8)
        inside[quotes[0::2]] += 1
        inside[quotes[1::2]] -= 1
        step = np.where(np.cumsum(inside[:-1], dtype=np.int8) > 0, 0, step)
    return bool(np.cumsum(step, dtype=np.int32).max() > limit)


def parse_json(body: bytes | str) -> Payload:
    if isinstance(body, str) and REPLACEMENT_CHARACTER in body:
        raise _replaced("JSON")
    too_deep = f"the JSON body is nested too deeply (more than {MAX_JSON_DEPTH} levels)"
    if json_too_deep(body):
        raise MalformedPayloadError(too_deep)
    try:
        doc = json.loads(body, parse_constant=_reject_constant)
    except InferenceError:
        raise
    except RecursionError:
        raise MalformedPayloadError(too_deep) from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise MalformedPayloadError(f"malformed JSON: {_clip(str(exc), 160)}") from None
    single = False
    if isinstance(doc, dict):
        if "instances" in doc:
            extra = sorted(k for k in doc if k != "instances")
            if extra:
                raise MalformedPayloadError(f"unexpected keys {extra} next to 'instances'")
            items = doc["instances"]
            if not isinstance(items, list):
                raise MalformedPayloadError(f"'instances' must be a list of rows or of objects, got "
                                            f"{type(items).__name__}")
        else:
            items, single = [doc], True
    elif isinstance(doc, list):
        if doc and not isinstance(doc[0], (list, dict)):
            items, single = [doc], True  # one bare row
        else:
            items = doc
    else:
        raise MalformedPayloadError('the JSON body must be an object or a list: {"instances": [[...], ...]}, '
                                    '{"instances": [{"feature": value, ...}]} or {"feature": value, ...}')
    if not items:
        raise EmptyBodyError("'instances' is empty; send at least one row")
    first = items[0]
    if isinstance(first, dict) and set(first) == {"features"} and isinstance(first["features"], list):
        rows = []  # SageMaker's built-in format: {"instances": [{"features": [...]}]}
        for i, it in enumerate(items):
            if not (isinstance(it, dict) and set(it) == {"features"} and isinstance(it["features"], list)):
                raise MalformedPayloadError(f"instance {i}: expected {{'features': [...]}} like instance 0")
            rows.append(it["features"])
        return Payload(rows=rows, source="json", batch=not single)
    if isinstance(first, dict):
        for i, it in enumerate(items):
            if not isinstance(it, dict):
                raise MalformedPayloadError(f"instance {i} is a {type(it).__name__}; instance 0 is an object, "
                                            f"so every instance must be an object")
        return Payload(records=items, source="json", batch=not single)
    for i, it in enumerate(items):
        if not isinstance(it, list):
            raise MalformedPayloadError(f"instance {i} is {type(it).__name__}; send rows as lists "
                                        f"([[v1, v2, ...], ...]) or objects ([{{'feature': v, ...}}])")
    return Payload(rows=items, source="json", batch=not single)


# ---- the SageMaker inference contract -----------------------------------------------------------------
def model_fn(model_dir: str) -> Model:
    """Load the Booster and its feature schema from ``model_dir``."""
    return load_model(model_dir)


def input_fn(request_body: bytes | str, request_content_type: str | None) -> Payload:
    """Parse a request body (CSV or JSON); raises an InferenceError (4xx) for anything malformed."""
    return parse_request(request_body, request_content_type)


def payload_too_large(size: int, limit: int) -> PayloadTooLargeError:
    """The error for a body of ``size`` bytes over ``limit`` (the local endpoint's early 413 says the same)."""
    return PayloadTooLargeError(f"the payload is {size} bytes; the limit is {limit} bytes ({limit / 1048576:g} MiB); "
                                f"split it into smaller requests or use batch transform")


def parse_request(body: bytes | str | None, content_type: str | None,
                  max_bytes: int | None = None) -> Payload:
    """``input_fn`` with an explicit payload limit (default: $SAGEMAKER_MAX_REQUEST_SIZE or 6 MiB)."""
    if isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    elif body is None:
        body = b""
    size = len(body) if not isinstance(body, str) else len(body.encode("utf-8"))
    limit = max_payload_bytes() if max_bytes is None else max_bytes
    if size > limit:
        raise payload_too_large(size, limit)
    ct = media_type(content_type)
    if ct not in SUPPORTED_CONTENT_TYPES:
        raise UnsupportedContentTypeError(
            f"content type {content_type!r} is not supported; use {CSV!r} or {JSON!r}"
            if content_type else f"no content type given; set Content-Type to {CSV!r} or {JSON!r}")
    if size == 0 or not body.strip():
        raise EmptyBodyError(f"the request body is empty; send {'CSV rows' if ct == CSV else 'JSON instances'}")
    return parse_csv(body) if ct == CSV else parse_json(body)


def predict_fn(input_data: Payload, model: Model) -> np.ndarray:
    """Check the rows against the model's feature schema and predict."""
    return model.predict(validate(input_data, model))


def validate(input_data: Payload, model: Model) -> np.ndarray:
    """``predict_fn``'s first half: the rows as the model's float32 matrix, checked against its schema
    (``predict_fn`` = ``model.predict(validate(...))``; the local endpoint predicts several requests' rows in
    one call)."""
    if not isinstance(input_data, Payload):
        input_data = Payload(matrix=np.asarray(input_data, dtype=np.float32))
    X = model.schema.to_matrix(input_data)
    if X.shape[0] == 0:
        raise EmptyBodyError("no rows to predict")
    return X


def output_fn(prediction: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    """Serialize predictions as JSON (default) or CSV; returns (body, content type)."""
    ct = choose_accept(accept)
    values = np.asarray(prediction).tolist()
    if ct == CSV:
        if values and isinstance(values[0], list):
            text = "\n".join(",".join(map(repr, row)) for row in values)
        else:
            text = "\n".join(map(repr, values))
        return (text + "\n").encode("utf-8"), CSV
    if values and isinstance(values[0], list):
        doc = {"predictions": [{"scores": row} for row in values]}
    else:
        doc = {"predictions": [{"score": v} for v in values]}
    return json.dumps(doc, separators=(",", ":")).encode("utf-8"), JSON


def choose_accept(accept: str | None) -> str:
    """The response type for an Accept header (first supported type; ``*/*`` or none: the default)."""
    default = media_type(os.environ.get(ENV_DEFAULT_ACCEPT)) or JSON
    if not accept:
        return default
    for part in accept.split(","):
        mt = media_type(part)
        if mt in SUPPORTED_ACCEPTS:
            return mt
        if mt in ("*/*", ""):
            return default
        if mt in ("application/*", "text/*"):
            return JSON if mt == "application/*" else CSV
    raise UnsupportedAcceptError(f"cannot answer with {accept!r}; accept {JSON!r} or {CSV!r}")


def invoke(model: Model, body: bytes | str, content_type: str | None, accept: str | None = None,
           max_payload_bytes: int | None = None) -> tuple[bytes, str]:
    """input_fn -> predict_fn -> output_fn, as the SageMaker container chains them (``max_payload_bytes``
    overrides input_fn's limit)."""
    return output_fn(predict_fn(parse_request(body, content_type, max_payload_bytes), model), accept)

