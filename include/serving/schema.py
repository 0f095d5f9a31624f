"""The model's feature schema (``feature_schema.json``): its input columns in the model's order, with their types.

As the training job writes it::

    {"format": 1, "label": "churned", "excluded": ["customer_id", "as_of"],
     "features": [{"name": "tenure_days", "kind": "numeric", "dtype": "int64"},
                  {"name": "monthly_spend", "kind": "numeric", "dtype": "float64"},
                  {"name": "plan", "kind": "categorical", "dtype": "object",
                   "categories": ["basic", "premium", "standard"]}]}

A numeric feature with an integer dtype is an ``int`` feature, a ``bool`` dtype a ``bool`` one, any other numeric
feature a ``float``; a categorical feature is a ``category`` with its categories. Any feature may be missing
unless it says ``"nullable": false``. ``excluded`` columns are ids (and the label): requests may carry them.
Also accepted: ``{"features": [{"name", "type"}], "id_columns", "target"}`` with types float/int/bool/category,
and XGBoost's ``{"feature_names", "feature_types"}``. A schema that cannot serve raises ``ModelLoadError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving.errors import ModelLoadError

SCHEMA_FILE = "feature_schema.json"
SCHEMA_VERSION = 1
FEATURE_TYPES = ("float", "int", "bool", "category")
_TYPE_ALIASES = {
    "float": "float", "q": "float", "double": "float", "number": "float", "float32": "float", "float64": "float",
    "int": "int", "integer": "int", "int32": "int", "int64": "int",
    "bool": "bool", "boolean": "bool", "i": "bool",
    "category": "category", "categorical": "category", "c": "category",
}
_DEFAULT_DTYPES = {"float": "float32", "int": "int64", "bool": "bool", "category": "object"}


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

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def n_features(self) -> int:
        return len(self.features)

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
