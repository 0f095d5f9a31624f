"""A tiny XGBoost model directory in the serving layout, trained once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from serving import inference
from serving.model import Model
from serving.testing import make_model_dir


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("serving") / "model")


@pytest.fixture(scope="session")
def model(model_dir: Path) -> Model:
    return inference.model_fn(str(model_dir))
