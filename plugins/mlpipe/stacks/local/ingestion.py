"""Local ingestion: the DMS, DataSync and S3-drop stand-ins (:mod:`mlpipe.local`) run as one Airflow task per
source, the drop after a sensor on the landing directory. Build-time only: the task body is
:func:`mlpipe.tasks.ingestion_local.land_source`."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from mlpipe.config import PipelineConfig
from mlpipe.config.model import DropSource, Source
from mlpipe.dagkit import bronze_asset, source_tables
from mlpipe.paths import local_path
from mlpipe.stacks.local.sensors import LandingFileSensor
from mlpipe.tasks.ingestion import drop_file_template
from mlpipe.tasks.ingestion_local import land_source

STEP_TASK_IDS = {"database": "replicate", "file_share": "sync", "drop": "land"}


class LocalIngestion:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    def ingest(self, source: Source) -> Any:
        outlets = [bronze_asset(self.cfg, name, table) for name, table in source_tables(self.cfg)
                   if name == source.name]
        landed = task(land_source, task_id=STEP_TASK_IDS[source.kind], outlets=outlets)(source.name)
        if isinstance(source, DropSource):
            wait_for_drop = LandingFileSensor(
                task_id="wait_for_drop",
                filepath=str(local_path(source.landing) / drop_file_template(source)),
                source_name=source.name,
                poke_interval=source.poke_interval_seconds,
                timeout=source.sensor_timeout_seconds,
                mode="poke",
            )
            wait_for_drop >> landed
        return landed
