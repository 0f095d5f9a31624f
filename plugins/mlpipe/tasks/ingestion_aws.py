"""The aws stack's ingestion task bodies: DMS start type and stop check, the DataSync execution check, and the
promotion of what DMS, DataSync and the partner delivered into the bronze lake (every write SSE-KMS, through
:func:`mlpipe.services.storage_for`).

Promotion is idempotent: the bronze partition is cleared (``_SUCCESS`` first) and committed again, so a rerun
or a backfill replaces it. Files of DataSync and the drop are validated record by record on the way
(:func:`mlpipe.quarantine.validate_file`); bad records go to the quarantine partition with their reason.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from mlpipe.config import PipelineConfig, load_config
from mlpipe.config.model import DatabaseSource, DropSource, FileShareSource
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout
from mlpipe.local.landing import drop_file_name
from mlpipe.manifest import TableLanding
from mlpipe.quarantine import REJECTS_SUFFIX, validate_file
from mlpipe.services import storage_for
from mlpipe.services.storage import Storage, join, split_s3_uri
from mlpipe.tasks.dms_stop import FIRST_RUN, check_stop
from mlpipe.tasks.ingestion import emit_bronze_events

DMS_STATE_FILE = "state.json"   # _state/dms/<source>/state.json: {"full_load_date": ...}
DMS_FULL_LOAD_PREFIX = "LOAD"   # DMS names its full-load files LOAD00000001.parquet, ...


def _hook_args(cfg: PipelineConfig) -> dict[str, Any]:
    assert cfg.aws is not None
    return {"aws_conn_id": cfg.aws.conn_id, "region_name": cfg.aws.region}


# ---- DMS ------------------------------------------------------------------------------------------------------


def dms_start_type(source_name: str) -> str:
    """Task ``dms_start_type``: 'start-replication' for a task that never ran, else 'resume-processing'."""
    from airflow.providers.amazon.aws.hooks.dms import DmsHook

    cfg = load_config()
    source = cfg.source(source_name)
    status = DmsHook(**_hook_args(cfg)).get_task_status(source.dms_task_arn)
    if status in {"running", "starting", "stopping"}:
        raise MlPipeError(
            f"DMS task {source.dms_task_arn} is '{status}': an earlier run has not reached its stop position; "
            "this task retries; stop the task in the DMS console if it is stuck"
        )
    return FIRST_RUN if status == "ready" else "resume-processing"


def check_dms_stop(source_name: str, start_type: str, ds: str | None = None) -> str:
    """Task ``dms_check_stop``: after ``stopped``, the task's StopReason must say the stop position (or the first
    full load) was reached (:func:`mlpipe.tasks.dms_stop.check_stop`)."""
    from airflow.providers.amazon.aws.hooks.dms import DmsHook

    cfg = load_config()
    arn = cfg.source(source_name).dms_task_arn
    tasks = DmsHook(**_hook_args(cfg)).find_replication_tasks_by_arn(arn, without_settings=True)
    if len(tasks) != 1:
        raise MlPipeError(f"DMS task {arn} not found in {cfg.aws.region}: check sources[{source_name}].dms_task_arn")
    return check_stop(tasks[0], start_type, ds)


def dms_target_table(source: DatabaseSource, table: str) -> str:
    """Where the DMS S3 target writes ``table``: ``<dms_target_prefix>/<schema>/<table>``."""
    return join(source.dms_target_prefix, source.db_schema or "public", table)


def promote_dms(source_name: str, ds: str | None = None, outlets: Any = None,
                outlet_events: Any = None) -> list[dict[str, Any]]:
    """Task ``promote``: copy the DMS target's files for the logical date into bronze: its CDC folder
    (``YYYY/MM/DD``), and on the first date the full-load files too (the changes DMS captured while and after
    it loaded are in that date's CDC folder)."""
    cfg = load_config()
    source = cfg.source(source_name)
    storage, layout = storage_for(cfg), LakeLayout.from_config(cfg)
    state_uri = join(layout.state("dms", source.name), DMS_STATE_FILE)
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
        target = dms_target_table(source, table.name)
        objects = storage.list(join(target, f"{day:%Y}", f"{day:%m}", f"{day:%d}"))
        if full_load:
            loads = [uri for uri in storage.list(target) if _name(uri).startswith(DMS_FULL_LOAD_PREFIX)]
            objects = list(dict.fromkeys(loads + objects))
        dest = layout.bronze(source.name, table.name, ds)
        storage.clear_partition(dest)
        for uri in objects:
            storage.copy(uri, join(dest, _name(uri)))
        storage.commit_partition(dest)
        landings.append(TableLanding(
            source=source.name, table=table.name, ds=ds, partition_uri=dest, files_in=len(objects),
            files_out=len(objects), details={"mode": "full_load" if full_load else "cdc", "rows_counted": False},
        ))
    storage.write_json(state_uri, state)
    return emit_bronze_events(layout, landings, outlets, outlet_events)


# ---- DataSync -------------------------------------------------------------------------------------------------


def datasync_execution_done(source_name: str, execution: dict[str, str]) -> Any:
    """Task ``datasync_wait``: one check of the DataSync task execution (the reschedule-mode sensor calls it every
    poke interval)."""
    from airflow.providers.amazon.aws.hooks.datasync import DataSyncHook
    from airflow.sdk import PokeReturnValue

    cfg = load_config()
    hook = DataSyncHook(**_hook_args(cfg))
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


def transferred_objects(cfg: PipelineConfig, prefix_uri: str, since: dt.datetime) -> list[str]:
    """URIs under the folder ``prefix_uri`` modified at or after ``since`` (what a DataSync execution that
    started then wrote), sorted. S3 lists LastModified in whole seconds, so ``since`` is truncated to one."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, prefix = split_s3_uri(prefix_uri)
    since = since.replace(microsecond=0)
    found = S3Hook(**_hook_args(cfg)).iter_file_metadata(prefix.rstrip("/") + "/", bucket)
    return sorted(f"s3://{bucket}/{obj['Key']}" for obj in found if obj["LastModified"] >= since)


def promote_datasync(source_name: str, execution: dict[str, str], ds: str | None = None, outlets: Any = None,
                     outlet_events: Any = None) -> list[dict[str, Any]]:
    """Task ``promote``: the files the DataSync execution transferred (modified since it started) go, validated,
    to the bronze partition."""
    from airflow.providers.amazon.aws.hooks.datasync import DataSyncHook

    cfg = load_config()
    source = cfg.source(source_name)
    hook = DataSyncHook(**_hook_args(cfg))
    started = hook.get_conn().describe_task_execution(TaskExecutionArn=execution["TaskExecutionArn"])["StartTime"]
    objects = transferred_objects(cfg, source.datasync_target_prefix, started)
    layout = LakeLayout.from_config(cfg)
    landing = validated_copy(storage_for(cfg), layout, source, objects, ds)
    return emit_bronze_events(layout, [landing], outlets, outlet_events)


# ---- S3 drop --------------------------------------------------------------------------------------------------


def land_s3_drop(source_name: str, ds: str | None = None, outlets: Any = None,
                 outlet_events: Any = None) -> list[dict[str, Any]]:
    """Task ``land``: the partner's file of the date (the sensor saw it), validated into bronze."""
    cfg = load_config()
    source = cfg.source(source_name)
    layout = LakeLayout.from_config(cfg)
    uri = join(source.landing, drop_file_name(source, dt.date.fromisoformat(ds)))
    landing = validated_copy(storage_for(cfg), layout, source, [uri], ds)
    return emit_bronze_events(layout, [landing], outlets, outlet_events)


# ---- shared by DataSync and the drop --------------------------------------------------------------------------


def validated_copy(storage: Storage, layout: LakeLayout, source: FileShareSource | DropSource, objects: list[str],
                   ds: str) -> TableLanding:
    """Download each object, split good and bad records, upload the good ones to bronze and the bad ones to
    quarantine (``<n>-<name>.rejects.jsonl``); both partitions are replaced."""
    dest = layout.bronze(source.name, source.table, ds)
    qdest = layout.quarantine(source.name, source.table, ds)
    storage.clear_partition(dest)
    storage.clear_partition(qdest)
    totals = {"rows_in": 0, "rows_out": 0, "rows_quarantined": 0, "files_quarantined": 0, "files_out": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for i, uri in enumerate(objects):
            name = _name(uri)
            raw, good, bad = Path(tmp, f"{i}.raw"), Path(tmp, f"{i}.good"), Path(tmp, f"{i}.bad")
            storage.download(uri, raw)
            result = validate_file(raw, good, bad, fmt=source.format, required_fields=source.required_fields,
                                   source_name=uri)
            for key in ("rows_in", "rows_out", "rows_quarantined"):
                totals[key] += getattr(result, key)
            if result.rows_out and good.exists():
                storage.upload(good, join(dest, f"{i:05d}-{name}"))
                totals["files_out"] += 1
            if bad.exists() and bad.stat().st_size:
                storage.upload(bad, join(qdest, f"{i:05d}-{name}{REJECTS_SUFFIX}"))
            totals["files_quarantined"] += int(result.file_quarantined)
    storage.commit_partition(dest)
    return TableLanding(source=source.name, table=source.table, ds=ds, partition_uri=dest, files_in=len(objects),
                        quarantine_uri=qdest, **totals)


def _name(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]
