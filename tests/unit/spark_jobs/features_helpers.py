"""Helpers of the spark_jobs tests: the sample lake with one defect per date, specs, reading what a step wrote."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpipe.config import PipelineConfig
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout, to_path
from mlpipe.local.datasync import sync_share
from mlpipe.local.dms import replicate
from mlpipe.local.landing import land_drop
from mlpipe.tasks.feature_spec import job_spec

SMALL = {"seed": 3, "customers": 400, "history_days": 75, "events": 20_000}
D1 = dt.date(2026, 11, 1)  # clean
# every defect the generator offers, on the date it is planted: the file-level ones first, then the row-level
# ones together (told apart by their reason codes), last because bad values stay in the current state
DEFECT_DATES = {
    "renamed_column": D1 + dt.timedelta(days=1),
    "late_drop": D1 + dt.timedelta(days=2),
    "missing_drop": D1 + dt.timedelta(days=3),
    "nulls": D1 + dt.timedelta(days=4),
    "duplicate_keys": D1 + dt.timedelta(days=4),
    "malformed": D1 + dt.timedelta(days=4),
    "out_of_range": D1 + dt.timedelta(days=4),
}
DATES = [D1 + dt.timedelta(days=i) for i in range(5)]


def defects_by_date() -> dict[dt.date, set[str]]:
    out: dict[dt.date, set[str]] = {}
    for name, day in DEFECT_DATES.items():
        out.setdefault(day, set()).add(name)
    return out


def ingest(cfg: PipelineConfig, day: dt.date) -> None:
    """The local ingestion engines for one date; a partner drop that is not there (late, missing) lands nothing."""
    lake = LakeLayout.from_config(cfg)
    replicate(cfg.source("oltp"), day, lake)
    sync_share(cfg.source("clickstream"), day, lake)
    try:
        land_drop(cfg.source("partner"), day, lake)
    except MlPipeError:
        pass


@dataclass
class SampleLake:
    cfg: PipelineConfig
    root: Path

    def spec(self, day: dt.date) -> dict[str, Any]:
        return json.loads(json.dumps(job_spec(self.cfg, day)))

    @property
    def lake(self) -> Path:
        return self.root / "lake"


def path(uri: str) -> Path:
    return to_path(uri)


def read_json(uri: str) -> dict[str, Any]:
    return json.loads(path(uri).read_text())


def names(issues: list[dict[str, Any]]) -> set[tuple[str, str | None]]:
    """(expectation, column) of each failed/warned entry."""
    return {(i["expectation"], i["column"]) for i in issues}


def parquet_rows(spark: Any, uri: str) -> int:
    return spark.read.parquet(uri).count()
