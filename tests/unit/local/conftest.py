"""Shared fixtures of the local-engine tests: a throwaway lake and a snapshot of a directory tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from mlpipe.lake import LakeLayout


@pytest.fixture
def lake(tmp_path: Path) -> LakeLayout:
    return LakeLayout(f"file://{tmp_path / 'lake'}")


def _snapshot(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``root`` (hidden temporaries included, so leftovers show)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, bytes]]:
    return _snapshot
