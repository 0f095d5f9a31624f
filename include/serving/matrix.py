"""The rows of a parsed request as the model's float32 matrix, checked against the feature schema.

Values become float32 in schema order: numbers as they are, ``bool`` features from true/false or 1/0, a category
from its text (JSON numbers matched as ``str(value)``, as training encodes them) to its index, an unseen category
or an empty CSV field or a JSON null to NaN (missing). Checks: the number of values per row, the names of a
record's keys (the schema's id columns and target may appear and are ignored), finite values, integral ``int``
features, 0/1 ``bool`` features, no missing value where a feature is not nullable. Each mistake raises its
``InferenceError`` saying where (CSV line, instance, row), which feature (name and column) and what was sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from serving.errors import FeatureCountError, FeatureNameError, FeatureTypeError
from serving.messages import clip, shown
from serving.payload import Payload, row_location
from serving.schema import Feature, FeatureSchema

_BOOL_WORDS = {"true": 1.0, "false": 0.0}


class MatrixBuilder:
    """Builds and checks the float32 matrix of one schema's requests (the lookups are prepared once per model)."""

    def __init__(self, schema: FeatureSchema) -> None:
        self.schema = schema
        self.features = schema.features
        self.names = schema.names
        self.n_features = schema.n_features

        def cols(kind: str) -> np.ndarray:
            return np.array([i for i, f in enumerate(self.features) if f.type == kind], dtype=np.intp)

        self._index = {n: i for i, n in enumerate(self.names)}
        self._allowed_extra = frozenset(schema.id_columns) | (
            frozenset([schema.target]) if schema.target else frozenset())
        self._int_cols = cols("int")
        self._bool_cols = cols("bool")
        self._required_cols = np.array([i for i, f in enumerate(self.features) if not f.nullable], dtype=np.intp)
        self._codes = {i: {c: float(k) for k, c in enumerate(f.categories)}
                       for i, f in enumerate(self.features) if f.type == "category"}
        self._token_converters = [_category_converter(f) if f.type == "category" else float for f in self.features]

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
                    f"{row_location(payload, i)} has {len(row)} value{'s' if len(row) != 1 else ''}; the model expects "
                    f"{k} features in this order: {shown(self.names)}")
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
            raise FeatureTypeError(f"{row_location(payload, i)}, feature '{self.features[j].name}' (column {j + 1}): "
                                   f"the value is infinite or beyond float32's range (±3.4e38); send a finite number")
        if self._int_cols.size:
            sub = X[:, self._int_cols]
            bad = ~np.isnan(sub) & (sub != np.floor(sub))
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                col = int(self._int_cols[j])
                raise FeatureTypeError(f"{row_location(payload, i)}, feature '{self.features[col].name}' (column {col + 1}) "
                                       f"is an integer feature; got {float(sub[i, j])!r}")
        if self._bool_cols.size:
            sub = X[:, self._bool_cols]
            bad = ~np.isnan(sub) & (sub != 0) & (sub != 1)
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                col = int(self._bool_cols[j])
                raise FeatureTypeError(f"{row_location(payload, i)}, feature '{self.features[col].name}' (column {col + 1}) "
                                       f"is a boolean feature (true/false or 1/0); got {float(sub[i, j])!r}")
        if self._required_cols.size:
            bad = np.isnan(X[:, self._required_cols])
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                col = int(self._required_cols[j])
                raise FeatureTypeError(f"{row_location(payload, i)}, feature '{self.features[col].name}' (column {col + 1}) "
                                       f"may not be missing")
        return X

    def _tokens_to_matrix(self, rows: list[list[str]], payload: Payload) -> np.ndarray:
        try:  # fast path: every numeric token a plain number
            if self._codes:
                convs = self._token_converters
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
            return self._token_converters[j](tok)
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
                                       f"{shown(self.names)}") from None
            raise FeatureTypeError(f"{row_location(payload, i)}, feature '{feat.name}' (column {j + 1}) must be "
                                   f"{_expect(feat)}; got {clip(tok)!r}") from None

    def _values_to_matrix(self, rows: Sequence[Sequence[Any]], payload: Payload) -> np.ndarray:
        out = np.empty((len(rows), self.n_features), dtype=np.float32)
        feats = self.features
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                out[i, j] = self._json_value(v, feats[j], i, j, payload)
        return out

    def _records_to_matrix(self, records: Sequence[dict], payload: Payload) -> np.ndarray:
        out = np.empty((len(records), self.n_features), dtype=np.float32)
        feats, index, extra_ok = self.features, self._index, self._allowed_extra
        for i, rec in enumerate(records):
            if len(rec) != len(feats) or any(k not in index for k in rec):
                unknown = [k for k in rec if k not in index and k not in extra_ok]
                missing = [f.name for f in feats if f.name not in rec]
                if unknown or missing:
                    parts = []
                    if missing:
                        parts.append(f"missing feature{'s' if len(missing) > 1 else ''} {shown(missing)}")
                    if unknown:
                        parts.append(f"unknown key{'s' if len(unknown) > 1 else ''} {shown(unknown)}")
                    raise FeatureNameError(f"{row_location(payload, i)}: {' and '.join(parts)}; the model's features are "
                                           f"{shown(self.names)} (send null for a missing value)")
            for j, f in enumerate(feats):
                out[i, j] = self._json_value(rec[f.name], f, i, j, payload)
        return out

    def _json_value(self, v: Any, feat: Feature, i: int, j: int, payload: Payload) -> float:
        tv = type(v)
        if v is None:
            return math.nan
        if feat.type == "category":
            if tv is str:
                return self._codes[j].get(v, math.nan)
            if tv in (int, float, bool):  # the training job encodes str(value)
                return self._codes[j].get(str(v), math.nan)
        elif tv is float or tv is int:
            try:
                return float(v)
            except OverflowError:
                raise FeatureTypeError(f"{row_location(payload, i)}, feature '{feat.name}' (column {j + 1}): "
                                       f"{clip(str(v))} is beyond float32's range") from None
        elif tv is bool:
            if feat.type == "bool":
                return 1.0 if v else 0.0
            raise FeatureTypeError(f"{row_location(payload, i)}, feature '{feat.name}' (column {j + 1}) must be "
                                   f"{_expect(feat)}; got {json.dumps(v)}")
        kind = {str: "the string", list: "a list", dict: "an object"}.get(tv, tv.__name__)
        shown = clip(v) if tv is str else clip(json.dumps(v)[:60])
        raise FeatureTypeError(f"{row_location(payload, i)}, feature '{feat.name}' (column {j + 1}) must be "
                               f"{_expect(feat)}; got {kind} {shown!r}")


def _category_converter(feat: Feature) -> Any:
    codes = {c: float(k) for k, c in enumerate(feat.categories)}
    nan = math.nan

    def convert(token: str) -> float:
        code = codes.get(token)
        if code is None:
            code = codes.get(token.strip(), nan)
        return code

    return convert


def _expect(feat: Feature) -> str:
    what = {"float": "a number", "int": "an integer", "bool": "a boolean (true/false or 1/0)",
            "category": "a category (text)"}[feat.type]
    return what + (" or missing" if feat.nullable else "")
