"""serving.model: the model directory loads into the Booster and its schema, or fails saying what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from serving import inference
from serving.errors import ModelLoadError
from serving.model import Model


def test_model_fn_loads_the_booster_and_its_schema(model: Model) -> None:
    assert model.schema.names == ["tenure_days", "spend_30d", "sessions_7d", "has_failed_payment",
                                  "avg_session_minutes", "plan"]
    assert [f.type for f in model.schema.features] == ["int", "float", "int", "bool", "float", "category"]
    assert model.schema.features[-1].categories == ("basic", "premium", "standard")
    assert model.schema.id_columns == ("customer_id",) and model.schema.target == "churned"
    assert model.booster.feature_types[-1] == "c"  # trained like the training job: a real categorical feature


def test_missing_schema_file_says_what_to_write(tmp_path: Path, model_dir: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.json").write_bytes((model_dir / "model.json").read_bytes())
    with pytest.raises(ModelLoadError, match="feature_schema.json"):
        inference.model_fn(str(d))


def test_missing_model_file_lists_the_names_looked_for(tmp_path: Path, model_dir: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "feature_schema.json").write_bytes((model_dir / "feature_schema.json").read_bytes())
    with pytest.raises(ModelLoadError, match="model.json"):
        inference.model_fn(str(d))


def test_schema_that_disagrees_with_the_model_fails_at_load(tmp_path: Path, model_dir: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.json").write_bytes((model_dir / "model.json").read_bytes())
    (d / "feature_schema.json").write_text(json.dumps({"features": [{"name": "a"}, {"name": "b"}]}))
    with pytest.raises(ModelLoadError, match="the model has 6 features but feature_schema.json lists 2"):
        inference.model_fn(str(d))
