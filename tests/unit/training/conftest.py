"""Fixtures of the training-script tests (helpers in train_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import Channels, Job, write_channels


@pytest.fixture(scope="session")
def channels(tmp_path_factory: pytest.TempPathFactory) -> Channels:
    return write_channels(tmp_path_factory.mktemp("channels"))


@pytest.fixture
def job(tmp_path: Path) -> Job:
    return Job(tmp_path / "opt_ml")
