"""Fixtures of the tuning tests: empty channel directories and the stand-in training script on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.local.tuning.fake_training import FAKE_TRAIN


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("train", "validation"):
        (tmp_path / "data" / name).mkdir(parents=True)
        out[name] = tmp_path / "data" / name
    return out


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    path = tmp_path / "fake_train.py"
    path.write_text(FAKE_TRAIN)
    return path
