"""AWS ingestion: the Amazon provider's DMS, DataSync and S3 operators, then a copy into the bronze partition.

DMS: the configured full-load-and-cdc task is started once (``start-replication``) and afterwards resumed
(``resume-processing``) with ``CdcStopPosition`` ``commit_time:`` the end of the logical date, so every run
stops by itself; ``DmsTaskCompletedSensor`` (reschedule mode: no worker slot held) waits for ``stopped``, and
``dms_check_stop`` accepts only a StopReason that says the stop position (or the first run's full load) was
reached (:mod:`mlpipe.stacks.aws.dms_stop`). Promotion copies the date's CDC folder, plus the full-load files
on the first date. The DMS S3 target must write Parquet with ``DatePartitionEnabled``,
``TimestampColumnName=_dms_commit_ts`` and an ``$AR_H_CHANGE_SEQ`` column ``_dms_change_seq`` (the README's
AWS section has the endpoint settings).

DataSync: ``DataSyncOperator`` only starts the task execution (``wait_for_completion=False``: its own wait
sleeps in a worker slot and cancels the transfer after 60 polls); ``datasync_wait``, a reschedule-mode sensor,
checks the execution every ``poke_interval_seconds`` without holding a slot between checks and gives up after
the source's ``transfer_timeout_seconds``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.operators.datasync import DataSyncOperator
from airflow.providers.amazon.aws.operators.dms import DmsStartTaskOperator
from airflow.providers.amazon.aws.sensors.dms import DmsTaskCompletedSensor
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import task

from mlpipe.config import PipelineConfig, load_config
from mlpipe.config.model import DatabaseSource, DropSource, FileShareSource, Source
from mlpipe.dagkit import bronze_asset, lake
from mlpipe.errors import MlPipeError
from mlpipe.manifest import TableLanding
from mlpipe.stacks.aws.dms_stop import CDC_STOP_POSITION
from mlpipe.stacks.aws.waits import poll_seconds

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
        tables = [t.name for t in source.tables] if isinstance(source, DatabaseSource) else [source.table]
        return [bronze_asset(self.cfg, source.name, t) for t in tables]

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
        key = source.landing.rstrip("/") + "/" + _templated(source.file_pattern)
        wait_for_drop = S3KeySensor(
            task_id="wait_for_drop",
            bucket_key=key,
            deferrable=True,
            poke_interval=source.poke_interval_seconds,
            timeout=source.sensor_timeout_seconds,
            **self.aws,
        )
        landed = task(land_s3_drop, task_id="land", outlets=self._outlets(source))(source.name)
        wait_for_drop >> landed
        return landed


def _templated(pattern: str) -> str:
    return pattern.replace("{ds}", "{{ ds }}").replace("{ds_nodash}", "{{ ds_nodash }}")


# ---- task bodies (run on the worker) -------------------------------------------------------------------


def _storage_and_source(source_name: str) -> tuple[PipelineConfig, Any, Any]:
    from mlpipe.stacks.aws.storage import S3Storage

    cfg = load_config()
    return cfg, S3Storage(cfg), cfg.source(source_name)


def dms_start_type(source_name: str) -> str:
    """'start-replication' for a task that never ran, else 'resume-processing'."""
    from airflow.providers.amazon.aws.hooks.dms import DmsHook

    cfg = load_config()
    source = cfg.source(source_name)
    status = DmsHook(aws_conn_id=cfg.aws.conn_id, region_name=cfg.aws.region).get_task_status(source.dms_task_arn)
    if status in {"running", "starting", "stopping"}:
        raise MlPipeError(
            f"DMS task {source.dms_task_arn} is '{status}': an earlier run has not reached its stop position; "
            "this task retries; stop the task in the DMS console if it is stuck"
        )
    return "start-replication" if status == "ready" else "resume-processing"


def check_dms_stop(source_name: str, start_type: str, ds: str | None = None) -> str:
    """After ``stopped``: the task's StopReason must say the stop position (or the first full load) was reached."""
    from airflow.providers.amazon.aws.hooks.dms import DmsHook

    from mlpipe.stacks.aws.dms_stop import check_stop

    cfg = load_config()
    arn = cfg.source(source_name).dms_task_arn
    tasks = DmsHook(aws_conn_id=cfg.aws.conn_id, region_name=cfg.aws.region).find_replication_tasks_by_arn(
        arn, without_settings=True)
    if len(tasks) != 1:
        raise MlPipeError(f"DMS task {arn} not found in {cfg.aws.region}: check sources[{source_name}].dms_task_arn")
    return check_stop(tasks[0], start_type, ds)


def datasync_execution_done(source_name: str, execution: dict[str, str]) -> Any:
    """One check of the DataSync task execution (the reschedule-mode sensor calls it every poke interval)."""
    from airflow.providers.amazon.aws.hooks.datasync import DataSyncHook
    from airflow.sdk import PokeReturnValue

    cfg = load_config()
    hook = DataSyncHook(aws_conn_id=cfg.aws.conn_id, region_name=cfg.aws.region)
    arn = execution["TaskExecutionArn"]
    described = hook.describe_task_execution(task_execution_arn=arn)
    status = described.get("Status")
    if status in hook.TASK_EXECUTION_SUCCESS_STATES:
        return PokeReturnValue(is_done=True, xcom_value=execution)
    if status is None or status in hook.TASK_EXECUTION_INTERMEDIATE_STATES:
        return PokeReturnValue(is_done=False)
    result = described.get("Result") or {}
    detail = ", ".join(f"{k}={v}" for k, v in sorted(result.items()) if "Error" in k or "Status" in k)
    raise MlPipeError(
        f"DataSync task execution {arn} of source '{source_name}' ended {status}" + (f" ({detail})" if detail else "")
        + ": nothing was promoted. Fix the cause (the execution's CloudWatch log), then clear the datasync task "
        "to start a new execution"
    )


def _emit(cfg: PipelineConfig, landings: list[TableLanding], outlet_events: Any) -> list[dict[str, Any]]:
    for landing in landings:
        outlet_events[bronze_asset(cfg, landing.source, landing.table)].extra = {
            "ds": landing.ds, "partition": landing.partition_uri, "rows": landing.rows_out,
        }
    return [landing.to_dict() for landing in landings]


def promote_dms(source_name: str, ds: str | None = None, outlet_events: Any = None) -> list[dict[str, Any]]:
    """Copy the DMS target's files for the logical date into bronze: its CDC folder, and on the first date the
    full-load files too (the changes DMS captured while and after it loaded are in that date's CDC folder)."""
    cfg, storage, source = _storage_and_source(source_name)
    layout = lake(cfg)
    state_uri = layout.state("dms", source.name) + "/state.json"
    state = storage.read_json(state_uri) if storage.exists(state_uri) else {"full_load_date": ds}
    if ds < state["full_load_date"]:
        raise MlPipeError(
            f"{ds} is before the full load of {source.name} ({state['full_load_date']}); to reprocess earlier "
            f"dates delete {state_uri} and the bronze tables, then rerun from the first date"
        )
    full_load = ds == state["full_load_date"]
    day = dt.date.fromisoformat(ds)
    landings = []
    for table in source.tables:
        base = f"{source.dms_target_prefix.rstrip('/')}/{source.db_schema or 'public'}/{table.name}/"
        objects = storage.list(base + day.strftime("%Y/%m/%d/"))
        if full_load:
            loads = [o for o in storage.list(base) if o["Key"].rsplit("/", 1)[-1].startswith("LOAD")]
            objects = list({o["Key"]: o for o in loads + objects}.values())
        dest = layout.bronze(source.name, table.name, ds)
        storage.clear_partition(dest)
        bucket = base[len("s3://"):].split("/", 1)[0]
        for obj in objects:
            storage.copy(f"s3://{bucket}/{obj['Key']}", f"{dest}/{obj['Key'].rsplit('/', 1)[-1]}")
        storage.commit_partition(dest)
        landings.append(TableLanding(
            source=source.name, table=table.name, ds=ds, partition_uri=dest, files_in=len(objects),
            files_out=len(objects), details={"mode": "full_load" if full_load else "cdc", "rows_counted": False},
        ))
    storage.write_json(state_uri, state)
    return _emit(cfg, landings, outlet_events)


def _validated_copy(storage: Any, source: FileShareSource | DropSource, objects: list[str], ds: str,
                    layout: Any) -> TableLanding:
    """Download each object, split good/bad records, upload good ones to bronze and bad ones to quarantine."""
    from mlpipe.quarantine import validate_file

    dest = layout.bronze(source.name, source.table, ds)
    qdest = layout.quarantine(source.name, source.table, ds)
    storage.clear_partition(dest)
    storage.clear_partition(qdest)
    totals = {"rows_in": 0, "rows_out": 0, "rows_quarantined": 0, "files_quarantined": 0, "files_out": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for i, uri in enumerate(objects):
            name = uri.rsplit("/", 1)[-1]
            raw, good, bad = Path(tmp, f"{i}.raw"), Path(tmp, f"{i}.good"), Path(tmp, f"{i}.bad")
            storage.download(uri, str(raw))
            result = validate_file(raw, good, bad, fmt=source.format, required_fields=source.required_fields,
                                   source_name=uri)
            for key in ("rows_in", "rows_out", "rows_quarantined"):
                totals[key] += getattr(result, key)
            if result.rows_out and good.exists():
                storage.upload(str(good), f"{dest}/{i:05d}-{name}")
                totals["files_out"] += 1
            if bad.exists() and bad.stat().st_size:
                storage.upload(str(bad), f"{qdest}/{i:05d}-{name}.rejects.jsonl")
            totals["files_quarantined"] += int(result.file_quarantined)
    storage.commit_partition(dest)
    return TableLanding(source=source.name, table=source.table, ds=ds, partition_uri=dest, files_in=len(objects),
                        quarantine_uri=qdest, **totals)


def promote_datasync(source_name: str, execution: dict[str, str], ds: str | None = None,
                     outlet_events: Any = None) -> list[dict[str, Any]]:
    """Files the DataSync execution transferred (modified since it started) go to the bronze partition."""
    from airflow.providers.amazon.aws.hooks.datasync import DataSyncHook

    cfg, storage, source = _storage_and_source(source_name)
    hook = DataSyncHook(aws_conn_id=cfg.aws.conn_id, region_name=cfg.aws.region)
    started = hook.get_conn().describe_task_execution(TaskExecutionArn=execution["TaskExecutionArn"])["StartTime"]
    started = started.replace(microsecond=0)  # S3 lists LastModified in whole seconds
    prefix = source.datasync_target_prefix.rstrip("/") + "/"
    bucket = prefix[len("s3://"):].split("/", 1)[0]
    objects = [f"s3://{bucket}/{o['Key']}" for o in storage.list(prefix) if o["LastModified"] >= started]
    return _emit(cfg, [_validated_copy(storage, source, sorted(objects), ds, lake(cfg))], outlet_events)


def land_s3_drop(source_name: str, ds: str | None = None, outlet_events: Any = None) -> list[dict[str, Any]]:
    cfg, storage, source = _storage_and_source(source_name)
    name = source.file_pattern.format(ds=ds, ds_nodash=ds.replace("-", ""))
    uri = source.landing.rstrip("/") + "/" + name
    return _emit(cfg, [_validated_copy(storage, source, [uri], ds, lake(cfg))], outlet_events)
