"""AWS ingestion: the Amazon provider's DMS, DataSync and S3 operators, then a copy into the bronze partition.

DMS: the configured full-load-and-cdc task is started once (``start-replication``) and afterwards resumed
(``resume-processing``) with ``CdcStopPosition`` ``commit_time:`` the end of the logical date, so every run
stops by itself; ``DmsTaskCompletedSensor`` (reschedule mode: no worker slot held) waits for ``stopped``, and
``dms_check_stop`` accepts only a StopReason that says the stop position (or the first run's full load) was
reached (:mod:`mlpipe.tasks.dms_stop`). Promotion copies the date's CDC folder, plus the full-load files
on the first date. The DMS S3 target must write Parquet with ``DatePartitionEnabled``,
``TimestampColumnName=_dms_commit_ts`` and an ``$AR_H_CHANGE_SEQ`` column ``_dms_change_seq`` (the README's
AWS section has the endpoint settings).

DataSync: ``DataSyncOperator`` only starts the task execution (``wait_for_completion=False``: its own wait
sleeps in a worker slot and cancels the transfer after 60 polls); ``datasync_wait``, a reschedule-mode sensor,
checks the execution every ``poke_interval_seconds`` without holding a slot between checks and gives up after
the source's ``transfer_timeout_seconds``.

Build-time only: the task bodies are in :mod:`mlpipe.tasks.ingestion_aws`.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.datasync import DataSyncOperator
from airflow.providers.amazon.aws.operators.dms import DmsStartTaskOperator
from airflow.providers.amazon.aws.sensors.dms import DmsTaskCompletedSensor
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import task

from mlpipe.config import PipelineConfig
from mlpipe.config.model import DatabaseSource, DropSource, FileShareSource, Source
from mlpipe.dagkit import bronze_asset, source_tables
from mlpipe.services.storage import join
from mlpipe.stacks.aws.waits import poll_seconds
from mlpipe.tasks.dms_stop import CDC_STOP_POSITION
from mlpipe.tasks.ingestion import drop_file_template
from mlpipe.tasks.ingestion_aws import (
    check_dms_stop,
    datasync_execution_done,
    dms_start_type,
    land_s3_drop,
    promote_datasync,
    promote_dms,
)

DMS_POKE_SECONDS = 120


class AwsIngestion:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg
        assert cfg.aws is not None
        self.aws = {"aws_conn_id": cfg.aws.conn_id, "region_name": cfg.aws.region}

    def ingest(self, source: Source) -> Any:
        if isinstance(source, DatabaseSource):
            return self._dms(source)
        if isinstance(source, FileShareSource):
            return self._datasync(source)
        return self._drop(source)

    def _outlets(self, source: Source) -> list[Any]:
        """The bronze Assets of every table ``source`` lands (the outlets of the branch's last task)."""
        return [bronze_asset(self.cfg, name, table) for name, table in source_tables(self.cfg) if name == source.name]

    def _dms(self, source: DatabaseSource) -> Any:
        start_type = task(dms_start_type, task_id="dms_start_type")(source.name)
        dms_start = DmsStartTaskOperator(
            task_id="dms_start",
            replication_task_arn=source.dms_task_arn,
            start_replication_task_type=start_type,
            start_task_kwargs={"CdcStopPosition": CDC_STOP_POSITION},
            **self.aws,
        )
        dms_wait = DmsTaskCompletedSensor(
            task_id="dms_wait",
            replication_task_arn=source.dms_task_arn,
            mode="reschedule",
            poke_interval=poll_seconds(self.cfg, DMS_POKE_SECONDS),
            timeout=self.cfg.dag.execution_timeout_minutes * 60,
            **self.aws,
        )
        check = task(check_dms_stop, task_id="dms_check_stop")(source.name, start_type)
        promote = task(promote_dms, task_id="promote", outlets=self._outlets(source))(source.name)
        dms_start >> dms_wait >> check >> promote
        return promote

    def _datasync(self, source: FileShareSource) -> Any:
        datasync = DataSyncOperator(
            task_id="datasync",
            task_arn=source.datasync_task_arn,
            wait_for_completion=False,
            **self.aws,
        )
        wait = task.sensor(
            task_id="datasync_wait",
            mode="reschedule",
            poke_interval=poll_seconds(self.cfg, source.poke_interval_seconds),
            timeout=source.transfer_timeout_seconds,
        )(datasync_execution_done)(source.name, datasync.output)
        return task(promote_datasync, task_id="promote", outlets=self._outlets(source))(source.name, wait)

    def _drop(self, source: DropSource) -> Any:
        wait_for_drop = S3KeySensor(
            task_id="wait_for_drop",
            bucket_key=join(source.landing, drop_file_template(source)),
            deferrable=True,
            poke_interval=source.poke_interval_seconds,
            timeout=source.sensor_timeout_seconds,
            **self.aws,
        )
        landed = task(land_s3_drop, task_id="land", outlets=self._outlets(source))(source.name)
        wait_for_drop >> landed
        return landed

