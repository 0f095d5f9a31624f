"""serving.schema: the feature schema's formats (the training job's, the typed one, XGBoost's) and its checks."""

from __future__ import annotations

import pytest
from serving.errors import ModelLoadError
from serving.schema import FeatureSchema


@pytest.mark.parametrize(("raw", "match"), [
    ({"features": []}, "empty"),
    ({"features": [{"name": "a", "type": "category"}]}, "lists no categories"),
    ({"features": [{"name": "a", "type": "text"}]}, "has type 'text'"),
    ({"features": [{"name": "a", "kind": "embedding", "dtype": "x"}]}, "expected 'numeric' or 'categorical'"),
    ({"features": ["a", "a"]}, "duplicate"),
    ({"columns": ["a"]}, "needs 'features'"),
    ({"feature_names": ["a", "b"], "feature_types": ["q"]}, "2 feature_names but 1 feature_types"),
])
def test_invalid_schemas_are_rejected(raw: dict, match: str) -> None:
    with pytest.raises(ModelLoadError, match=match):
        FeatureSchema.from_dict(raw)


def test_the_training_jobs_schema_format_is_read_and_written() -> None:
    doc = {"format": 1, "label": "churned", "excluded": ["customer_id", "as_of"], "features": [
        {"name": "tenure_days", "kind": "numeric", "dtype": "int64"},
        {"name": "spend", "kind": "numeric", "dtype": "float64"},
        {"name": "autopay", "kind": "numeric", "dtype": "bool"},
        {"name": "plan", "kind": "categorical", "dtype": "object", "categories": ["basic", "premium"]}]}
    schema = FeatureSchema.from_dict(doc)
    assert [f.type for f in schema.features] == ["int", "float", "bool", "category"]
    assert schema.id_columns == ("customer_id", "as_of") and schema.target == "churned"
    assert schema.to_dict() == doc
    assert FeatureSchema.from_dict(schema.to_dict()) == schema


def test_xgboost_style_schema_is_accepted() -> None:
    schema = FeatureSchema.from_dict({"feature_names": ["a", "b", "c"], "feature_types": ["q", "int", "i"]})
    assert [f.type for f in schema.features] == ["float", "int", "bool"]
