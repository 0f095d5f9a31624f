"""The lake's layout (the same on both stacks) and atomic partition commits on a local filesystem.

    <root>/bronze/<source>/<table>/dt=YYYY-MM-DD/      what ingestion landed for that logical date
    <root>/quarantine/<source>/<table>/dt=YYYY-MM-DD/  rejected files/rows, each with its reason
    <root>/manifests/<dag_id>/dt=YYYY-MM-DD.json       rows and files in/out/quarantined per branch
    <root>/_state/<engine>/<source>/...                bookkeeping of the local DMS/DataSync equivalents

A partition directory is complete when it holds ``_SUCCESS``; writers build it in a hidden temporary
sibling and swap it in, so a rerun or a backfill replaces a partition and never duplicates it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from mlpipe.paths import local_path

if TYPE_CHECKING:
    from mlpipe.config import PipelineConfig

SUCCESS_MARKER = "_SUCCESS"


@dataclass(frozen=True)
class LakeLayout:
    """URIs of every area of the lake, from its root (file://... or s3://...)."""

    root: str

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> LakeLayout:
        """The lake of a config; a relative local root becomes an absolute file:/// URI."""
        root = cfg.lake.root
        if root.startswith("file://"):
            root = local_path(root).as_uri()
        return cls(root)

    def _join(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def table(self, layer: str, source: str, table: str) -> str:
        return self._join(layer, source, table)

    def partition(self, layer: str, source: str, table: str, ds: str) -> str:
        return self._join(layer, source, table, f"dt={ds}")

    def bronze(self, source: str, table: str, ds: str | None = None) -> str:
        return self.partition("bronze", source, table, ds) if ds else self.table("bronze", source, table)

    def quarantine(self, source: str, table: str, ds: str) -> str:
        return self.partition("quarantine", source, table, ds)

    def manifest(self, dag_id: str, ds: str) -> str:
        return self._join("manifests", dag_id, f"dt={ds}.json")

    def state(self, engine: str, source: str) -> str:
        return self._join("_state", engine, source)


def to_path(uri: str) -> Path:
    """The local directory of a file:// lake URI."""
    if not uri.startswith("file://"):
        raise ValueError(f"not a local lake URI: {uri}")
    return Path(unquote(uri.removeprefix("file://"))) if uri.startswith("file:///") else local_path(uri)


@contextlib.contextmanager
def atomic_partition(dest: Path) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces ``dest`` whole, with a _SUCCESS marker.

    On error the temporary directory is removed and ``dest`` is left as it was.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        (tmp / SUCCESS_MARKER).touch()
        old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
        if dest.exists():
            os.rename(dest, old)
        os.rename(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def committed_partitions(table_dir: Path) -> list[Path]:
    """The complete dt=... partitions of a table directory, oldest first."""
    if not table_dir.is_dir():
        return []
    return sorted(p for p in table_dir.glob("dt=*") if (p / SUCCESS_MARKER).exists())
