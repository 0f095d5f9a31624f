"""Helpers for the sample generator tests (constants, dumps of what a run wrote)."""

from __future__ import annotations

import datetime as dt
import sqlite3

from mlpipe.config import PipelineConfig
from mlpipe.sample.targets import sample_targets

D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
SMALL = {"seed": 7, "customers": 150, "history_days": 20, "events": 5_000}


def db_dump(cfg: PipelineConfig) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the sample SQLite database (the change log included), sorted."""
    path = sample_targets(cfg).sqlite_file
    assert path is not None
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}


def source_files(cfg: PipelineConfig) -> dict[str, bytes]:
    """Every file the generator wrote on the share and in the landing area, by relative path."""
    targets = sample_targets(cfg)
    out: dict[str, bytes] = {}
    for base in (targets.share_dir, targets.landing_dir):
        for path in sorted(base.rglob("*")):
            if path.is_file():
                out[f"{base.name}/{path.relative_to(base)}"] = path.read_bytes()
    return out
