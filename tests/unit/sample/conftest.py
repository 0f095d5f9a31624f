"""Fixtures for the sample generator tests: small, fast, self-contained configurations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from mlpipe.config import PipelineConfig
from mlpipe.sample.targets import standalone_config
from sample_helpers import SMALL


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., PipelineConfig]:
    """A config rooted in its own temporary directory: make_cfg('a', events=10_000)."""

    def make(name: str = "run", **sample: int) -> PipelineConfig:
        return standalone_config(tmp_path / name, **{**SMALL, **sample})

    return make
