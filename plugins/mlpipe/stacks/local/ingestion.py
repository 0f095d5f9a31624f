"""Local ingestion: the DMS, DataSync and S3-drop equivalents run as Airflow tasks on this machine."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import task

from mlpipe.config import PipelineConfig, load_config
from mlpipe.config.model import DatabaseSource, DropSource, FileShareSource, Source
from mlpipe.dagkit import bronze_asset, lake
from mlpipe.manifest import TableLanding
from mlpipe.paths import local_path
from mlpipe.stacks.local.sensors import LandingFileSensor


class LocalIngestion:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    def ingest(self, source: Source) -> Any:
        outlets = [bronze_asset(self.cfg, source.name, table) for table in _tables(source)]
        step = {"database": "replicate", "file_share": "sync", "drop": "land"}[source.kind]
        landed = task(land_source, task_id=step, outlets=outlets)(source.name)
        if isinstance(source, DropSource):
            pattern = source.file_pattern.replace("{ds}", "{{ ds }}").replace("{ds_nodash}", "{{ ds_nodash }}")
            wait_for_drop = LandingFileSensor(
                task_id="wait_for_drop",
                filepath=str(local_path(source.landing) / pattern),
                source_name=source.name,
                poke_interval=source.poke_interval_seconds,
                timeout=source.sensor_timeout_seconds,
                mode="poke",
            )
            wait_for_drop >> landed
        return landed


def _tables(source: Source) -> list[str]:
    return [t.name for t in source.tables] if isinstance(source, DatabaseSource) else [source.table]


def land_source(source_name: str, ds: str | None = None, outlet_events: Any = None) -> list[dict[str, Any]]:
    """Task body: run the local engine for one source and date, emit one bronze Asset event per table."""
    cfg = load_config()
    source = cfg.source(source_name)
    day = dt.date.fromisoformat(ds)
    landings = _run_engine(cfg, source, day)
    for landing in landings:
        asset = bronze_asset(cfg, landing.source, landing.table)
        outlet_events[asset].extra = {
            "ds": landing.ds,
            "partition": landing.partition_uri,
            "rows": landing.rows_out,
            "rows_quarantined": landing.rows_quarantined,
        }
    return [landing.to_dict() for landing in landings]


def _run_engine(cfg: PipelineConfig, source: Source, day: dt.date) -> list[TableLanding]:
    layout = lake(cfg)
    if isinstance(source, DatabaseSource):
        from mlpipe.local.dms import replicate

        return replicate(source, day, layout)
    if isinstance(source, FileShareSource):
        from mlpipe.local.datasync import sync_share

        return [sync_share(source, day, layout)]
    from mlpipe.local.landing import land_drop

    return [land_drop(source, day, layout)]



