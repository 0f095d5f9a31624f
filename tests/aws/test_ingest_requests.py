"""ml_ingest on the aws stack: its operators' requests rendered from include/config/aws-dev.yaml (DMS start and
resume with a commit-time CdcStopPosition, the DMS completion sensor and the StopReason check, DataSync
StartTaskExecution without the operator's in-slot wait and a reschedule-mode sensor with the configured timeout,
the S3 key sensor), then every call the operators and the task bodies make, recorded while they run against moto
(in-process), each validated against botocore's model (+ strict checks) and the security settings (SSE-KMS on
every S3 write)."""

from __future__ import annotations

import collections
import types
from typing import Any

import pytest
from botocore_shapes import problems, record_calls, security_problems, validate
from mlpipe.dagkit import source_tables
from mlpipe.tasks.ingestion_aws import (
    check_dms_stop,
    datasync_execution_done,
    dms_start_type,
    land_s3_drop,
    promote_datasync,
    promote_dms,
)
from provider_requests import DS, FOLLOW_UP_CALLS, ROOT, load_dag, provider_class, render, requests_of

KMS = "arn:aws:kms:us-east-1:123456789012:key/1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"
S3_WRITES = {"PutObject", "CopyObject", "CreateMultipartUpload"}


@pytest.fixture
def cfg(monkeypatch):
    from mlpipe.config import load_config

    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    return load_config()


def dag(monkeypatch) -> Any:
    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    return load_dag(str(ROOT / "dags" / "ml_ingest.py"), {"PIPELINE_ENV": "aws-dev"})


def test_rendered_operator_requests(monkeypatch, cfg):
    d = dag(monkeypatch)
    by_id = {t.task_id: t for t in d.tasks}
    start = render(by_id["oltp.dms_start"])
    start.start_replication_task_type = "resume-processing"  # what dms_start_type pushes after the first run
    (req,) = requests_of(start)
    validate(*req)
    assert req[2] == {"ReplicationTaskArn": "arn:aws:dms:us-east-1:123456789012:task:OLTP2LAKEDEV",
                      "StartReplicationTaskType": "resume-processing",
                      "CdcStopPosition": "commit_time:2026-11-02T00:00:00"}, "stops at the end of the logical date"
    start.start_replication_task_type = "start-replication"
    validate(*requests_of(start)[0])

    for rq in requests_of(render(by_id["oltp.dms_wait"])):
        validate(*rq)
    assert by_id["oltp.dms_check_stop"].upstream_task_ids == {"oltp.dms_wait", "oltp.dms_start_type"}
    assert by_id["oltp.promote"].upstream_task_ids == {"oltp.dms_check_stop"}
    sync = requests_of(render(by_id["clickstream.datasync"]))
    assert sync[0][2] == {"TaskArn": "arn:aws:datasync:us-east-1:123456789012:task/task-0a1b2c3d4e5f60718"}
    for rq in sync:
        validate(*rq)
    sensor = render(by_id["partner.wait_for_drop"])
    ((service, op, params),) = requests_of(sensor)
    validate(service, op, params)
    assert params == {"Bucket": "acme-partner-drops-dev", "Key": "partner/accounts_20261101.csv"}
    assert sensor.deferrable
    for t in (t for t in d.tasks if provider_class(t)):
        for rq in requests_of(render(t)):
            assert not security_problems(*rq, cfg), t.task_id


def test_datasync_waits_in_a_reschedule_sensor_with_the_configured_timeout(monkeypatch, cfg):
    """DataSyncOperator's own wait (60 polls, then it cancels the transfer) sleeps in a worker slot: it is off,
    and a reschedule-mode sensor waits instead, as long as the source's transfer_timeout_seconds."""
    monkeypatch.setenv("MLPIPE__SOURCES__1__TRANSFER_TIMEOUT_SECONDS", "43200")
    monkeypatch.setenv("MLPIPE__SOURCES__1__POKE_INTERVAL_SECONDS", "300")
    by_id = {t.task_id: t for t in dag(monkeypatch).tasks}
    start, wait = by_id["clickstream.datasync"], by_id["clickstream.datasync_wait"]
    assert start.wait_for_completion is False
    assert wait.mode == "reschedule" and wait.timeout == 43200 and wait.poke_interval == 300
    assert wait.upstream_task_ids == {"clickstream.datasync"}
    assert by_id["clickstream.promote"].upstream_task_ids == {"clickstream.datasync_wait"}


def test_a_wrong_cdc_stop_position_or_task_type_fails_the_check(monkeypatch):
    start = render(dag(monkeypatch).get_task("oltp.dms_start"))
    (service, op, params), = requests_of(start)
    assert problems(service, op, {**params, "StartReplicationTaskType": "resume"}), "enum checked"
    assert problems(service, op, {**params, "CdcStopPosition": 20261102}), "type checked"


# ---- every call, recorded against moto ------------------------------------------------------------------------


@pytest.fixture
def moto(monkeypatch):
    from moto import mock_aws

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws"}')
    _moto_execution_start_time(monkeypatch)
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("acme-ml-lake-dev", "acme-partner-drops-dev"):
            s3.create_bucket(Bucket=bucket)
        dms = boto3.client("dms", region_name="us-east-1")
        task = dms.create_replication_task(
            ReplicationTaskIdentifier="oltp2lakedev", SourceEndpointArn="arn:aws:dms:us-east-1:123456789012:endpoint:SRC",
            TargetEndpointArn="arn:aws:dms:us-east-1:123456789012:endpoint:DST",
            ReplicationInstanceArn="arn:aws:dms:us-east-1:123456789012:rep:INST", MigrationType="full-load-and-cdc",
            TableMappings='{"rules": []}')["ReplicationTask"]["ReplicationTaskArn"]
        ds = boto3.client("datasync", region_name="us-east-1")
        src = ds.create_location_smb(ServerHostname="files.example.internal", Subdirectory="clickstream",
                                     User="svc", Password="x", AgentArns=["arn:aws:datasync:us-east-1:123456789012:agent/agent-0"])
        dst = ds.create_location_s3(S3BucketArn="arn:aws:s3:::acme-ml-lake-dev", Subdirectory="raw/datasync/clickstream",
                                    S3Config={"BucketAccessRoleArn": "arn:aws:iam::123456789012:role/datasync"})
        sync = ds.create_task(SourceLocationArn=src["LocationArn"], DestinationLocationArn=dst["LocationArn"])["TaskArn"]
        monkeypatch.setenv("MLPIPE__SOURCES__0__DMS_TASK_ARN", task)
        monkeypatch.setenv("MLPIPE__SOURCES__1__DATASYNC_TASK_ARN", sync)
        yield s3


def _dms_reaches_its_stop_position(cfg: Any) -> None:
    """moto's task runs until stopped and has no StopReason: stop it with what DMS reports at a commit-time stop."""
    from moto.dms.models import FakeReplicationTask, dms_backends

    if not hasattr(FakeReplicationTask, "_with_stop_reason"):
        to_dict = FakeReplicationTask.to_dict

        def with_stop_reason(self: Any) -> dict[str, Any]:
            out = to_dict(self)
            return {**out, "StopReason": self.stop_reason} if getattr(self, "stop_reason", None) else out

        FakeReplicationTask.to_dict = with_stop_reason
        FakeReplicationTask._with_stop_reason = True
    task = dms_backends["123456789012"]["us-east-1"].replication_tasks[cfg.source("oltp").dms_task_arn]
    task.stop()
    task.stop_reason = "Stop Reason STOPPED_AT_COMMIT_TIME"


def _moto_execution_start_time(monkeypatch) -> None:
    """moto's DescribeTaskExecution has no StartTime (the real API has it): add one, an hour back."""
    import datetime as dt
    import json

    from moto.datasync.responses import DataSyncResponse

    original = DataSyncResponse.describe_task_execution
    started = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).timestamp()

    def with_start_time(self: Any) -> str:
        return json.dumps({**json.loads(original(self)), "StartTime": started})

    monkeypatch.setattr(DataSyncResponse, "describe_task_execution", with_start_time)


def outlets(d: Any, task_id: str) -> list[Any]:
    """The task's outlets, as Airflow passes them to the task body (the ``outlets`` context entry)."""
    return list(d.get_task(task_id).outlets)


def _ctx(op: Any) -> dict[str, Any]:
    from provider_requests import context

    return {**context(op), "ti": types.SimpleNamespace(xcom_push=lambda **_: None, try_number=1)}


def test_every_call_of_the_ingest_dag_is_valid_and_encrypted(monkeypatch, moto, cfg):
    from mlpipe.config import load_config

    s3 = moto
    cfg = load_config()
    d = dag(monkeypatch)
    events = collections.defaultdict(types.SimpleNamespace)
    per_class: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)

    def run(op: Any, action: Any) -> None:
        with record_calls() as got:
            action()
        per_class[provider_class(op).__name__] |= {(s, o) for s, o, _ in got}
        calls.extend(got)

    calls: list[tuple[str, str, dict]] = []
    with record_calls() as body_calls:
        kind = dms_start_type("oltp")
    calls += body_calls
    assert kind in ("start-replication", "resume-processing")

    start = render(d.get_task("oltp.dms_start"))
    start.start_replication_task_type = kind
    run(start, lambda: start.execute(_ctx(start)))
    wait = render(d.get_task("oltp.dms_wait"))
    run(wait, lambda: wait.poke(_ctx(wait)))
    _dms_reaches_its_stop_position(cfg)  # what DMS does at the commit time (moto never stops by itself)
    run(wait, lambda: wait.poke(_ctx(wait)))
    with record_calls() as body_calls:
        assert check_dms_stop("oltp", kind, ds=DS) == "Stop Reason STOPPED_AT_COMMIT_TIME"
    calls += body_calls

    sync = render(d.get_task("clickstream.datasync"))
    execution: dict[str, Any] = {}
    run(sync, lambda: execution.update(sync.execute(_ctx(sync))))  # starts the execution, does not wait
    with record_calls() as body_calls:
        pokes = [datasync_execution_done("clickstream", execution) for _ in range(5)]
    calls += body_calls
    assert [p.is_done for p in pokes] == [False] * 4 + [True] and pokes[-1].xcom_value == execution

    # what the engines delivered: DMS's full load, DataSync's files, the partner's drop
    for table in ("customers", "subscriptions", "payments"):
        s3.put_object(Bucket="acme-ml-lake-dev", Key=f"raw/dms/public/{table}/LOAD00000001.parquet", Body=b"PAR1")
    s3.put_object(Bucket="acme-ml-lake-dev", Key="raw/dms/public/customers/2026/11/01/20261101-220000000.parquet",
                  Body=b"PAR1")  # a change committed during the full-load date, after the load began
    s3.put_object(Bucket="acme-ml-lake-dev", Key="raw/datasync/clickstream/events-20261101.jsonl",
                  Body=b'{"event_id": "e1", "customer_id": 1, "event_type": "view", "event_ts": "2026-11-01T10:00:00"}\n')
    s3.put_object(Bucket="acme-partner-drops-dev", Key="partner/accounts_20261101.csv",
                  Body=b"customer_id,company_size,industry,credit_band\n1,10,retail,A\n")
    drop = render(d.get_task("partner.wait_for_drop"))
    drop.deferrable = False
    run(drop, lambda: drop.poke(_ctx(drop)))

    with record_calls() as body_calls:
        promote_dms("oltp", ds=DS, outlets=outlets(d, "oltp.promote"), outlet_events=events)
        promote_datasync("clickstream", execution, ds=DS, outlets=outlets(d, "clickstream.promote"),
                         outlet_events=events)
        land_s3_drop("partner", ds=DS, outlets=outlets(d, "partner.land"), outlet_events=events)
    calls += body_calls
    assert {a.name for a in events} == {f"bronze.{s}.{t}" for s, t in source_tables(cfg)}
    for asset, event in events.items():
        assert set(event.extra) == {"ds", "partition", "rows", "rows_quarantined"}, asset.name
        assert event.extra["ds"] == DS and event.extra["partition"] == f"{asset.uri}/dt={DS}", asset.name

    ops = {o for _, o, _ in calls}
    assert {"StartReplicationTask", "DescribeReplicationTasks", "StartTaskExecution", "DescribeTaskExecution",
            "HeadObject", "CopyObject", "PutObject", "ListObjectsV2", "GetObject"} <= ops, ops
    for service, op, params in calls:
        found = problems(service, op, params) + security_problems(service, op, params, cfg)
        assert not found, f"{service}.{op} {params}: {found}"
        if service == "s3" and op in S3_WRITES:
            assert params.get("ServerSideEncryption") == "aws:kms" and params.get("SSEKMSKeyId") == KMS, (op, params)
    writes = [p["Key"] for s, o, p in calls if o in S3_WRITES]
    assert any(k.endswith("/_SUCCESS") for k in writes) and any("/bronze/" in k for k in writes)
    assert any(p.get("CdcStopPosition") == "commit_time:2026-11-02T00:00:00" for _, o, p in calls
               if o == "StartReplicationTask")
    cdc_copy = f"lake/bronze/oltp/customers/dt={DS}/20261101-220000000.parquet"
    assert cdc_copy in {p["Key"] for s, o, p in calls if o == "CopyObject"}, "the full-load date's CDC is promoted"

    # what the operators called is what provider_requests (and so the IAM policy test) knows they call
    for klass, seen in per_class.items():
        op = next(t for t in d.tasks if provider_class(t) and provider_class(t).__name__ == klass)
        known = {(s, o) for s, o, _ in requests_of(render(op))} | set(FOLLOW_UP_CALLS[klass])
        assert seen <= known, f"{klass} also calls {seen - known}: add them to provider_requests.py"


def test_a_failed_datasync_execution_fails_the_wait_with_what_to_do(moto, cfg):
    import boto3
    from mlpipe.config import load_config
    from mlpipe.errors import MlPipeError
    from moto.datasync.models import datasync_backends

    task_arn = load_config().source("clickstream").datasync_task_arn
    arn = boto3.client("datasync", region_name="us-east-1").start_task_execution(TaskArn=task_arn)["TaskExecutionArn"]
    datasync_backends["123456789012"]["us-east-1"].task_executions[arn].status = "ERROR"
    with pytest.raises(MlPipeError, match=r"execution .*exec-.* of source 'clickstream' ended ERROR: nothing was "
                                          r"promoted.*clear the datasync task"):
        datasync_execution_done("clickstream", {"TaskArn": task_arn, "TaskExecutionArn": arn})


PARTNER_CSV = (b"customer_id,company_size,industry,credit_band\n1,10,retail,A\n,12,media,B\n"
               b"3,7,media\n4,51-200,tech,C\n")  # a row without customer_id, a short row


def test_bronze_events_carry_the_same_extra_on_both_stacks(monkeypatch, moto, tmp_path):
    """The same partner file lands on the aws stack (moto) and on the local stack: both branches' events carry
    the same keys, and the same rows and quarantined rows."""
    from mlpipe.tasks.ingestion_local import land_source

    aws_events = collections.defaultdict(types.SimpleNamespace)
    moto.put_object(Bucket="acme-partner-drops-dev", Key="partner/accounts_20261101.csv", Body=PARTNER_CSV)
    land_s3_drop("partner", ds=DS, outlets=outlets(dag(monkeypatch), "partner.land"), outlet_events=aws_events)

    monkeypatch.setenv("PIPELINE_ENV", "local")
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    landing = tmp_path / "data" / "sources" / "landing" / "partner"
    landing.mkdir(parents=True)
    (landing / "accounts_20261101.csv").write_bytes(PARTNER_CSV)
    local_dag = load_dag(str(ROOT / "dags" / "ml_ingest.py"), {"PIPELINE_ENV": "local"})
    local_events = collections.defaultdict(types.SimpleNamespace)
    land_source("partner", ds=DS, outlets=outlets(local_dag, "partner.land"), outlet_events=local_events)

    ((aws_asset, aws_event),) = aws_events.items()
    ((local_asset, local_event),) = local_events.items()
    aws, local = aws_event.extra, local_event.extra
    assert aws_asset.name == local_asset.name == "bronze.partner.accounts"
    assert set(aws) == set(local) == {"ds", "partition", "rows", "rows_quarantined"}
    assert aws["rows"] == local["rows"] == 2 and aws["rows_quarantined"] == local["rows_quarantined"] == 2
    assert aws["partition"] == f"{aws_asset.uri}/dt={DS}" and aws["partition"].startswith("s3://acme-ml-lake-dev/")
    assert local["partition"] == f"{local_asset.uri}/dt={DS}" and local["partition"].startswith(tmp_path.as_uri())
    assert aws["ds"] == local["ds"] == DS



def test_datasync_promotes_what_changed_since_the_execution_started_under_its_folder(moto, cfg):
    """LastModified is in whole seconds: an object written in the second the execution started counts; an
    older one and one in a sibling folder sharing the prefix's name do not."""
    import datetime as dt
    import time

    from mlpipe.config import load_config
    from mlpipe.tasks.ingestion_aws import transferred_objects

    bucket, base = "acme-ml-lake-dev", "raw/datasync/clickstream"
    prefix = load_config().source("clickstream").datasync_target_prefix.rstrip("/")
    assert prefix == f"s3://{bucket}/{base}"
    moto.put_object(Bucket=bucket, Key=f"{base}/old.jsonl", Body=b"{}\n")
    old = moto.head_object(Bucket=bucket, Key=f"{base}/old.jsonl")["LastModified"]
    while dt.datetime.now(dt.UTC).replace(microsecond=0) <= old:  # the next second
        time.sleep(0.05)
    for key in (f"{base}/2026-11-01/new.jsonl", f"{base}-other/new.jsonl"):
        moto.put_object(Bucket=bucket, Key=key, Body=b"{}\n")
    new = moto.head_object(Bucket=bucket, Key=f"{base}/2026-11-01/new.jsonl")["LastModified"]
    started = new + dt.timedelta(microseconds=400_000)  # started in that second, before the write
    assert transferred_objects(load_config(), prefix, started) == [f"{prefix}/2026-11-01/new.jsonl"]
    assert transferred_objects(load_config(), prefix + "/", old) == [f"{prefix}/2026-11-01/new.jsonl",
                                                                     f"{prefix}/old.jsonl"]
