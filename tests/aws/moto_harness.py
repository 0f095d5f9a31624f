"""The aws stack against an in-process moto server: recording, seeding from aws-dev.yaml, driving jobs, running DAGs.

Used by tests/aws/conftest.py (fixtures) and bench/bench_aws_calls.py. Pieces:

- :class:`RecordingMotoServer`: moto's ThreadedMotoServer on 127.0.0.1 with a WSGI middleware that records every
  AWS request as ``(service, operation, phase, task)``. The phase says who sent it: ``worker`` (a task's
  ``execute`` in a worker slot), ``trigger`` (a deferred task's trigger: no worker slot), or ``harness``
  (seeding and the driver, sent with the access key ``harness`` and left out of the DAG's counts).
- :func:`seed`: what aws-dev.yaml expects to exist before the DAGs run (buckets, a KMS key, IAM roles, the DMS
  task and its S3 target files, the DataSync task and locations, the partner's drop, the code bucket's objects,
  the gold partition, the model package group and an Approved version). Returns the config overrides for the
  ids moto chooses itself (KMS key ARN, DataSync task ARN).
- :class:`Driver`: a thread that finishes what moto leaves unfinished, as the real service would
  (see ../shared/notes/aws-on-moto.md): a running DMS task stops with the scenario's StopReason (by default the
  one DMS reports at a commit-time stop position; moto has no StopReason of its own); a DataSync
  execution writes its files to the destination; an EMR step writes its quality verdicts and ends COMPLETED (or
  FAILED); a SageMaker Processing job writes evaluation.json; tuning / transform jobs and endpoint updates move
  from InProgress/Updating to the scenario's end state. It changes moto's memory directly, so it needs the
  in-process server.
- :func:`patch_moto`: fills two moto gaps with the real API's behaviour: CreateEndpoint on an existing endpoint
  fails ("Cannot create already existing endpoint", moto overwrites silently) and UpdateEndpoint exists (moto
  answers 500 NotImplementedError); DescribeTaskExecution carries StartTime; DescribeReplicationTasks carries the
  StopReason the driver set. Also the scenario's initial status
  of new tuning/transform jobs.
- :func:`run_dag`: ``dag.test()`` (what ``airflow dags test`` calls) of a DAG file, timing worker vs trigger.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import runpy
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from mlpipe.services.storage import split_s3_uri

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
HARNESS_KEY = "harness"
LAKE_BUCKET = "acme-ml-lake-dev"
DS = "2026-11-01"


# ---- the recording server ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    phase: str          # worker | trigger | harness | setup
    task: str | None
    at: float
    request: str = ""   # the request's identity (path and query, or a digest of the JSON body): repeats are polls


@dataclass
class Fault:
    """Fail the ``nth`` ``operation`` call of ``task`` with a non-retryable 400 (AccessDeniedException): a task
    that dies after its job was created, so the retry must reattach."""

    task: str
    operation: str
    nth: int = 1
    seen: int = 0
    fired: bool = False


_S3_QUERY_OPS = (("delete", "POST", "DeleteObjects"), ("uploads", "POST", "CreateMultipartUpload"),
                 ("uploadId", "PUT", "UploadPart"), ("uploadId", "POST", "CompleteMultipartUpload"),
                 ("tagging", "GET", "GetObjectTagging"), ("location", "GET", "GetBucketLocation"),
                 ("encryption", "GET", "GetBucketEncryption"), ("encryption", "PUT", "PutBucketEncryption"))


def _s3_operation(method: str, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> str:
    parts = [p for p in path.split("/") if p]
    for key, verb, op in _S3_QUERY_OPS:
        if key in query and method == verb:
            return op
    if len(parts) <= 1:  # the bucket
        return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket",
                "GET": "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"}.get(method, method)
    if method == "PUT":
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)


def describe_request(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """``(service, operation, access key)`` of a WSGI request to moto; None for moto's own API."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api"):
        return None
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/") if "Credential=" in auth else []
    key, service = (scope[0], scope[3]) if len(scope) >= 4 else ("", "?")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["mlpipe.request"] = hashlib.sha256(body).hexdigest()[:16]
        return service, target.rsplit(".", 1)[-1], key
    method = environ.get("REQUEST_METHOD", "GET")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if service == "s3":
        headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        return service, _s3_operation(method, path, query, headers), key
    if service == "sagemaker" and path.endswith("/invocations"):
        return "sagemaker-runtime", "InvokeEndpoint", key
    if "Action" in query:
        return service, query["Action"][0], key
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
        return service, action, key
    return service, f"{method} {path}", key


class _Recorder:
    def __init__(self, app: Any, server: RecordingMotoServer) -> None:
        self.app, self.server = app, server

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        described = describe_request(environ)
        if described:
            service, op, key = described
            phase = "harness" if key == HARNESS_KEY else self.server.phase
            request = environ.get("mlpipe.request") or f"{environ.get('PATH_INFO')}?{environ.get('QUERY_STRING')}"
            call = Call(service, op, phase, self.server.task, time.monotonic(), request)
            self.server.calls.append(call)
            if phase != "harness" and self.server.should_fail(call):
                body = json.dumps({"__type": "AccessDeniedException",
                                   "message": f"injected fault: {op} of task {call.task}"}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.1"),
                                                   ("Content-Length", str(len(body)))])
                return [body]
        return self.app(environ, start_response)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RecordingMotoServer:
    """ThreadedMotoServer (in this process) whose requests are recorded in :attr:`calls`."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        outer = self

        class _Server(ThreadedMotoServer):
            def _server_entry(self) -> None:
                from moto.moto_server.werkzeug_app import (
                    DomainDispatcherApplication,
                    MotoRequestHandler,
                    create_backend_app,
                )
                from werkzeug.serving import make_server

                app = _Recorder(DomainDispatcherApplication(create_backend_app), outer)
                self._server = make_server(self._ip_address, self._port, app, True,
                                           request_handler=MotoRequestHandler)
                self._server_ready_event.set()
                self._server.serve_forever()

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: list[Call] = []
        self.phase = "setup"
        self.task: str | None = None
        self.faults: list[Fault] = []
        self._server = _Server(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> RecordingMotoServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Empty every moto backend and the call log."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10)
        self.calls.clear()

    def should_fail(self, call: Call) -> bool:
        """Whether ``call`` is the one a :class:`Fault` fails (the n-th such call of that task)."""
        for fault in self.faults:
            if fault.task == call.task and fault.operation == call.operation:
                fault.seen += 1
                if fault.seen == fault.nth:
                    fault.fired = True
                    return True
        return False

    def dag_calls(self) -> list[Call]:
        return [c for c in self.calls if c.phase in ("worker", "trigger")]

    def operations(self, service: str | None = None) -> list[str]:
        """The DAG's calls in order, ``Service.Operation`` (or only ``Operation`` of ``service``)."""
        return [c.operation if service else f"{c.service}.{c.operation}" for c in self.dag_calls()
                if service is None or c.service == service]

    def count(self) -> Counter[str]:
        return Counter(self.operations())


def client(server: RecordingMotoServer, service: str) -> Any:
    """A boto3 client of the harness (its calls are recorded as phase ``harness``)."""
    import boto3

    return boto3.client(service, region_name=REGION, endpoint_url=server.url, aws_access_key_id=HARNESS_KEY,
                        aws_secret_access_key="testing")


# ---- environment ----------------------------------------------------------------------------------------------


def base_env(server: RecordingMotoServer) -> dict[str, str]:
    """Environment of a DAG run on the aws stack against ``server``: small waits, no retries."""
    conn = {"conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": server.url, "region_name": REGION}}
    return {
        "PIPELINE_ENV": "aws-dev",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn),
        "MLPIPE__AWS__POLL_SECONDS": "1",
        "MLPIPE__DAG__RETRIES": "0",
        "MLPIPE__DAG__RETRY_DELAY_SECONDS": "1",
        "MLPIPE__DAG__MAX_RETRY_DELAY_SECONDS": "1",
        "MLPIPE__SOURCES__2__POKE_INTERVAL_SECONDS": "1",
        "MLPIPE__SOURCES__2__SENSOR_TIMEOUT_SECONDS": "60",
    }


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---- seeding --------------------------------------------------------------------------------------------------


def _parquet(df: Any) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def gold_frame(ds: str = DS, per_snapshot: int = 12, scoring: int = 6) -> Any:
    """A small gold partition: 8 weekly labelled snapshots (as_of ds-30 ... ds-79) and ``scoring`` rows to score."""
    import pandas as pd

    day = dt.date.fromisoformat(ds)
    rows = []
    for k in range(8):
        as_of = day - dt.timedelta(days=30 + 7 * k)
        for i in range(per_snapshot):
            rows.append({"customer_id": 1000 * k + i, "as_of": pd.Timestamp(as_of), "split": "train",
                         "tenure_days": 10 + i, "monthly_price": 9.0 + i % 3, "events_30d": i % 5,
                         "churned": float(i % 3 == 0)})
    for i in range(scoring):
        rows.append({"customer_id": 90000 + i, "as_of": pd.Timestamp(day), "split": "score", "tenure_days": 20 + i,
                     "monthly_price": 9.0, "events_30d": i, "churned": None})
    return pd.DataFrame(rows)


def seed(server: RecordingMotoServer, cfg: Any, ds: str = DS) -> dict[str, str]:
    """Create what aws-dev.yaml names; returns MLPIPE__ overrides for ids that moto picks itself."""
    s3, kms, iam = client(server, "s3"), client(server, "kms"), client(server, "iam")
    dms, datasync, sm = client(server, "dms"), client(server, "datasync"), client(server, "sagemaker")
    buckets = {LAKE_BUCKET, cfg.aws.code_bucket, "acme-partner-drops-dev", "acme-ml-logs-dev",
               "acme-ml-athena-results-dev"}
    for b in sorted(buckets):
        s3.create_bucket(Bucket=b)
    key_arn = kms.create_key(Description="mlpipe dev lake key")["KeyMetadata"]["Arn"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                               "Principal": {"Service": "sagemaker.amazonaws.com"}}]})
    for role in (cfg.training.sagemaker.role_arn, cfg.deployment.execution_role_arn,
                 cfg.emr.cluster.service_role, cfg.emr.cluster.job_flow_role):
        iam.create_role(RoleName=role.rsplit("/", 1)[-1], AssumeRolePolicyDocument=trust)
    # DMS: the replication task (moto's ARN ends with the identifier) and what it wrote to its S3 target
    oltp = cfg.source("oltp")
    ident = oltp.dms_task_arn.rsplit(":", 1)[-1]
    fake = f"arn:aws:dms:{REGION}:{ACCOUNT}:endpoint:"
    dms.create_replication_task(ReplicationTaskIdentifier=ident, SourceEndpointArn=fake + "src",
                                TargetEndpointArn=fake + "tgt", MigrationType="full-load-and-cdc",
                                ReplicationInstanceArn=f"arn:aws:dms:{REGION}:{ACCOUNT}:rep:inst",
                                TableMappings=json.dumps({"rules": []}))
    target_bucket, target_prefix = split_s3_uri(oltp.dms_target_prefix)
    for table in oltp.tables:
        s3.put_object(Bucket=target_bucket, Key=f"{target_prefix}/public/{table.name}/LOAD00000001.parquet",
                      Body=b"PAR1-full-load")
        # a change committed on the full-load date after the load began: DMS's date-partitioned CDC folder
        s3.put_object(Bucket=target_bucket, Key=f"{target_prefix}/public/{table.name}/{ds.replace('-', '/')}/"
                                                f"{ds.replace('-', '')}-220000000.parquet", Body=b"PAR1-cdc")
    # DataSync: an SMB share -> the S3 destination (Subdirectory without a leading slash: moto's lookup)
    share = cfg.source("clickstream")
    dest_bucket, dest_prefix = split_s3_uri(share.datasync_target_prefix)
    src = datasync.create_location_smb(ServerHostname="files.acme.internal", Subdirectory="clickstream",
                                       User="svc", Password="x", AgentArns=["arn:aws:datasync:a:1:agent/a"])
    dst = datasync.create_location_s3(S3BucketArn=f"arn:aws:s3:::{dest_bucket}", Subdirectory=dest_prefix,
                                      S3Config={"BucketAccessRoleArn": f"arn:aws:iam::{ACCOUNT}:role/datasync"})
    task_arn = datasync.create_task(SourceLocationArn=src["LocationArn"], DestinationLocationArn=dst["LocationArn"],
                                    Name="clickstream")["TaskArn"]
    # the partner's drop for the date
    drop = cfg.source("partner")
    drop_bucket, drop_prefix = split_s3_uri(drop.landing)
    name = drop.file_pattern.format(ds=ds, ds_nodash=ds.replace("-", ""))
    s3.put_object(Bucket=drop_bucket, Key=f"{drop_prefix}/{name}",
                  Body=b"customer_id,company_size,industry,credit_band,updated_date\n1,50,retail,A,2026-10-30\n"
                       b"2,12,media,B,2026-10-31\n,7,media,C,2026-10-31\n")
    # what `make deploy` uploads to the code bucket
    for key in ("training/sourcedir.tar.gz", "training/code/evaluate.py", "spark_jobs/main.py", "spark_jobs.zip",
                "emr/bootstrap/install-python-packages.sh"):
        s3.put_object(Bucket=cfg.aws.code_bucket, Key=key, Body=b"x")
    # the gold partition ml_features wrote for the date (training and the batch transform read it)
    gold = f"lake/gold/{cfg.features.gold.name}/dt={ds}/part-00000.parquet"
    s3.put_object(Bucket=LAKE_BUCKET, Key=gold, Body=_parquet(gold_frame(ds)))
    athena = cfg.emr.athena
    client(server, "athena").create_work_group(Name=athena.workgroup, Configuration={
        "ResultConfiguration": {"OutputLocation": athena.output_location}})
    client(server, "glue").create_database(DatabaseInput={"Name": athena.database})
    sm.create_model_package_group(ModelPackageGroupName=cfg.training.registry.model_package_group,
                                  ModelPackageGroupDescription="mlpipe dev")
    return {"MLPIPE__AWS__KMS_KEY_ARN": key_arn, "MLPIPE__DEPLOYMENT__KMS_KEY_ARN": key_arn,
            "MLPIPE__SOURCES__1__DATASYNC_TASK_ARN": task_arn}


def register_approved(server: RecordingMotoServer, cfg: Any, model_uri: str | None = None) -> str:
    """An Approved version in the model package group (what a person approves after ml_training)."""
    from mlpipe.stacks.aws.training import inference_specification  # what ml_training registers

    sm = client(server, "sagemaker")
    arn = sm.create_model_package(
        ModelPackageGroupName=cfg.training.registry.model_package_group, ModelApprovalStatus="Approved",
        InferenceSpecification=inference_specification(cfg, model_uri or f"s3://{LAKE_BUCKET}/m/model.tar.gz"),
    )["ModelPackageArn"]
    return arn


# ---- moto gaps ------------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """How the simulated services behave in one run."""

    emr_step_state: str = "COMPLETED"          # or FAILED
    dms_stop_reason: str = "Stop Reason STOPPED_AT_COMMIT_TIME"  # what a stopped DMS task reports
    tuning_status: str = "Completed"           # initial status of a new tuning job (InProgress: the driver ends it)
    tuning_final: str = "Completed"            # where an InProgress tuning job ends (Failed: nothing to register)
    transform_status: str = "Completed"        # likewise for transform jobs
    transform_final: str = "Completed"
    endpoint_update: str = "ok"                # ok | rollback (the new fleet fails: the old config keeps serving)
    step_seconds: float = 0.5                  # how long a job "runs" before the driver ends it
    evaluation_auc: float = 0.82
    predictions: int = 3                       # rows per smoke-test answer
    faults: list[Fault] = field(default_factory=list)


_PATCHED: dict[str, Any] = {}


def patch_moto(scenario: Scenario) -> None:
    """Install (once) the moto gap fillers; ``scenario`` is read at call time (see :data:`CURRENT`)."""
    CURRENT["scenario"] = scenario
    if _PATCHED:
        return
    from moto.datasync import models as ds_models
    from moto.datasync import responses as ds_responses
    from moto.dms import models as dms_models
    from moto.sagemaker import models as sm_models
    from moto.sagemaker import responses as sm_responses
    from moto.sagemaker.exceptions import ValidationError

    backend_cls = sm_models.SageMakerModelBackend
    create_endpoint = backend_cls.create_endpoint

    def create_endpoint_strict(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        if endpoint_name in self.endpoints:
            arn = sm_models.FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f"Cannot create already existing endpoint \"{arn}\".")
        return create_endpoint(self, endpoint_name, endpoint_config_name, tags)

    def update_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str) -> Any:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            raise ValidationError(message=f"Could not find endpoint \"{endpoint_name}\".")
        if endpoint_config_name not in self.endpoint_configs:
            raise ValidationError(message=f"Could not find endpoint configuration \"{endpoint_config_name}\".")
        if endpoint.endpoint_status != "InService":
            raise ValidationError(message=f"Cannot update in-progress endpoint \"{endpoint.arn}\".")
        endpoint.endpoint_status = "Updating"
        endpoint.pending_config = endpoint_config_name
        endpoint.failure_reason = None
        return endpoint

    def update_endpoint_response(self: Any) -> Any:
        endpoint = self.sagemaker_backend.update_endpoint(self._get_param("EndpointName"),
                                                          self._get_param("EndpointConfigName"))
        return sm_responses.ActionResult({"EndpointArn": endpoint.arn})

    backend_cls.create_endpoint = create_endpoint_strict
    backend_cls.update_endpoint = update_endpoint
    sm_responses.SageMakerResponse.update_endpoint = update_endpoint_response

    for cls, attr, key in ((sm_models.HyperParameterTuningJob, "hyper_parameter_tuning_job_status", "tuning_status"),
                           (sm_models.FakeTransformJob, "transform_job_status", "transform_status")):
        def init(self: Any, *a: Any, _orig: Any = cls.__init__, _attr: str = attr, _key: str = key, **kw: Any) -> None:
            _orig(self, *a, **kw)
            setattr(self, _attr, getattr(CURRENT["scenario"], _key))
            self.harness_created = time.monotonic()
        cls.__init__ = init

    te_init = ds_models.TaskExecution.__init__

    def te_init_with_start(self: Any, *a: Any, **kw: Any) -> None:
        te_init(self, *a, **kw)
        self.start_time = time.time()

    ds_models.TaskExecution.__init__ = te_init_with_start
    describe = ds_responses.DataSyncResponse.describe_task_execution

    def describe_with_start(self: Any) -> str:
        execution = self.datasync_backend._get_task_execution(self._get_param("TaskExecutionArn"))
        out = json.loads(describe(self))
        out["StartTime"] = getattr(execution, "start_time", time.time())
        return json.dumps(out)

    ds_responses.DataSyncResponse.describe_task_execution = describe_with_start

    task_to_dict = dms_models.FakeReplicationTask.to_dict

    def task_with_stop_reason(self: Any) -> dict[str, Any]:
        out = task_to_dict(self)
        reason = getattr(self, "stop_reason", None)
        return {**out, "StopReason": reason} if reason and self.status == "stopped" else out

    dms_models.FakeReplicationTask.to_dict = task_with_stop_reason
    _PATCHED["done"] = True


CURRENT: dict[str, Any] = {"scenario": Scenario()}


# ---- the driver -----------------------------------------------------------------------------------------------


class Driver:
    """Finishes the simulated jobs (see the module docstring); ``events`` lists what it did, in order."""

    def __init__(self, server: RecordingMotoServer, scenario: Scenario) -> None:
        self.server, self.scenario = server, scenario
        self.events: list[str] = []
        self.ended: dict[str, float] = {}  # job name -> when the driver ended it (monotonic)
        self._seen: dict[str, float] = {}
        self._done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="moto-driver", daemon=True)
        self.errors: list[BaseException] = []

    def __enter__(self) -> Driver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as err:  # noqa: BLE001 - reported by the test, never hidden
                self.errors.append(err)
                self.events.append(f"driver error: {err!r}")
            time.sleep(0.05)

    def _ripe(self, key: str) -> bool:
        first = self._seen.setdefault(key, time.monotonic())
        return time.monotonic() - first >= self.scenario.step_seconds

    def _once(self, key: str) -> bool:
        if key in self._done:
            return False
        self._done.add(key)
        return True

    def tick(self) -> None:
        from moto.datasync.models import datasync_backends
        from moto.dms.models import dms_backends
        from moto.emr.models import emr_backends
        from moto.sagemaker.models import sagemaker_backends

        for task in list(dms_backends[ACCOUNT][REGION].replication_tasks.values()):
            if task.status == "running" and self._ripe(f"dms:{task.arn}:{task.start_date}"):
                task.stop()
                task.stop_reason = self.scenario.dms_stop_reason
                self.events.append(f"dms {task.id} stopped ({task.stop_reason})")
        for execution in list(datasync_backends[ACCOUNT][REGION].task_executions.values()):
            if self._once(f"datasync:{execution.arn}"):
                self._datasync_files(execution)
        for cluster in list(emr_backends[ACCOUNT][REGION].clusters.values()):
            for step in list(cluster.steps):
                if step.state in ("PENDING", "RUNNING") and self._ripe(f"emr:{step.id}"):
                    if self.scenario.emr_step_state == "COMPLETED":
                        self._step_outputs(step)
                    step.state = self.scenario.emr_step_state
                    self.events.append(f"emr step {step.name} {step.state}")
        sm = sagemaker_backends[ACCOUNT][REGION]
        for job in list(sm.processing_jobs.values()):
            if self._once(f"processing:{job.processing_job_name}"):
                self._evaluation(job)
        for job in list(sm.hyper_parameter_tuning_jobs.values()):
            if job.hyper_parameter_tuning_job_status == "InProgress" and self._ripe(f"tuning:{job.arn}"):
                job.hyper_parameter_tuning_job_status = self.scenario.tuning_final
                self.ended[job.hyper_parameter_tuning_job_name] = time.monotonic()
                if self.scenario.tuning_final == "Failed":
                    job.failure_reason = "AlgorithmError: every training job failed (simulated)"
                self.events.append(f"tuning {job.hyper_parameter_tuning_job_name} {self.scenario.tuning_final}")
        for job in list(sm.transform_jobs.values()):
            if job.transform_job_status == "InProgress" and self._ripe(f"transform:{job.arn}"):
                job.transform_job_status = self.scenario.transform_final
                self.ended[job.transform_job_name] = time.monotonic()
                self.events.append(f"transform {job.transform_job_name} {self.scenario.transform_final}")
        for endpoint in list(sm.endpoints.values()):
            if endpoint.endpoint_status == "Updating" and self._ripe(f"update:{endpoint.arn}:{endpoint.pending_config}"):
                if self.scenario.endpoint_update == "ok":
                    endpoint.endpoint_config_name = endpoint.pending_config
                    endpoint.endpoint_status = "InService"
                    self.events.append(f"endpoint {endpoint.endpoint_name} now on {endpoint.pending_config}")
                else:
                    endpoint.endpoint_status = "InService"
                    endpoint.failure_reason = ("Auto-rollback: alarm mlpipe-churn-dev-5xx fired during the canary; "
                                               f"the endpoint still serves {endpoint.endpoint_config_name}")
                    self.events.append(f"endpoint {endpoint.endpoint_name} rolled back")
                endpoint.pending_config = None

    def _put(self, uri: str, body: bytes) -> None:
        bucket, key = split_s3_uri(uri)
        client(self.server, "s3").put_object(Bucket=bucket, Key=key, Body=body)

    def _datasync_files(self, execution: Any) -> None:
        from mlpipe.config import load_config

        share = load_config().source("clickstream")
        rows = [{"event_id": f"e{i}", "customer_id": i, "event_type": "page_view", "event_ts": f"{DS}T10:00:0{i}Z"}
                for i in range(5)]
        body = "\n".join(json.dumps(r) for r in rows) + "\n{not json\n"
        self._put(f"{share.datasync_target_prefix.rstrip('/')}/{DS}/events-0001.jsonl", body.encode())
        self.events.append("datasync files written")

    def _step_outputs(self, step: Any) -> None:
        """What main.py --step <x> writes: a verdict (result.json) per dataset of the step (from the spec)."""
        args = list(step.args)
        spec_uri = args[args.index("--spec") + 1]
        layer = args[args.index("--step") + 1]
        bucket, key = split_s3_uri(spec_uri)
        spec = json.loads(client(self.server, "s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        from mlpipe.tasks.features import step_outputs

        for entry in step_outputs(spec)[layer]:
            partition = f"{spec['lake_root'].rstrip('/')}/{layer}/{entry['name']}/dt={spec['ds']}"
            self._put(f"{partition}/part-00000.parquet", b"PAR1")
            self._put(entry["result"], json.dumps({"success": True, "rows": 10, "partition_uri": partition,
                                                   "report_uri": entry["result"].replace("result.json", "report.html"),
                                                   "warnings": [], "failed": []}).encode())

    def _evaluation(self, job: Any) -> None:
        out = job.processing_output_config["Outputs"][0]["S3Output"]["S3Uri"].rstrip("/")
        auc = self.scenario.evaluation_auc
        doc = {"model": {"auc": auc, "pr_auc": 0.6, "log_loss": 0.4}, "baselines": {"naive": {"auc": 0.5}},
               "rows": 24}
        self._put(f"{out}/evaluation.json", json.dumps(doc).encode())
        self.events.append(f"evaluation.json written (auc {auc})")


def queue_predictions(n_requests: int, rows: int) -> None:
    """moto's sagemaker-runtime answers from a queue: ``n_requests`` answers of ``rows`` valid scores each."""
    from moto.sagemakerruntime.models import sagemakerruntime_backends

    body = json.dumps({"predictions": [{"score": 0.1 + 0.1 * i} for i in range(rows)]})
    backend = sagemakerruntime_backends[ACCOUNT][REGION]
    backend.results_queue.extend([(body, "application/json", "AllTraffic", "")] * n_requests)


# ---- running a DAG --------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    state: str
    tasks: dict[str, str]
    worker_seconds: float
    trigger_seconds: float
    deferrals: int
    wall_seconds: float
    task_seconds: dict[str, float] = field(default_factory=dict)
    task_intervals: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # worker slot held (monotonic)
    calls: list[Call] = field(default_factory=list)
    driver_events: list[str] = field(default_factory=list)
    jobs: dict[str, tuple[float, float | None]] = field(default_factory=dict)  # tuning/transform: (created, ended)


def load_dag(dag_id: str) -> Any:
    return runpy.run_path(str(ROOT / "dags" / f"{dag_id}.py"))["dag"]


def run_dag(server: RecordingMotoServer, dag_id: str, ds: str = DS, scenario: Scenario | None = None,
            adjust: Any = None) -> RunResult:
    """``dag.test(logical_date=ds)`` of ``dags/<dag_id>.py`` with the driver running; times worker vs trigger.
    ``adjust(dag)`` may change the loaded DAG first (the bench's non-deferrable variant)."""
    import logging

    import airflow.sdk.definitions.dag as dag_module
    import airflow.sdk.execution_time.supervisor as supervisor

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per moto request otherwise
    scenario = scenario or Scenario()
    patch_moto(scenario)
    dag = load_dag(dag_id)
    if adjust is not None:
        adjust(dag)
    times = {"worker": 0.0, "trigger": 0.0, "deferrals": 0}
    per_task: dict[str, float] = {}
    intervals: dict[str, list[tuple[float, float]]] = {}
    run_task, run_trigger = supervisor.run_task_in_process, dag_module._run_inline_trigger

    def timed_task(ti: Any, task: Any) -> Any:
        server.phase, server.task = "worker", ti.task_id
        start = time.monotonic()
        try:
            return run_task(ti=ti, task=task)
        finally:
            times["worker"] += time.monotonic() - start
            per_task[ti.task_id] = per_task.get(ti.task_id, 0.0) + time.monotonic() - start
            intervals.setdefault(ti.task_id, []).append((start, time.monotonic()))
            server.phase, server.task = "idle", None

    def timed_trigger(trigger: Any, task_sdk_ti: Any) -> Any:
        server.phase, server.task = "trigger", task_sdk_ti.task_id
        times["deferrals"] += 1
        start = time.monotonic()
        try:
            return run_trigger(trigger, task_sdk_ti)
        finally:
            times["trigger"] += time.monotonic() - start
            server.phase, server.task = "idle", None

    first = len(server.calls)
    server.faults = scenario.faults
    started = time.monotonic()
    supervisor.run_task_in_process, dag_module._run_inline_trigger = timed_task, timed_trigger
    try:
        with Driver(server, scenario) as driver:
            dr = dag.test(logical_date=dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC))
    finally:
        supervisor.run_task_in_process, dag_module._run_inline_trigger = run_task, run_trigger
        server.phase, server.task, server.faults = "setup", None, []
    if driver.errors:
        raise AssertionError(f"the moto driver failed: {driver.errors[0]!r}") from driver.errors[0]
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == dr.run_id).all()
        tasks = {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state) for ti in tis}
    return RunResult(state=str(getattr(dr.state, "value", dr.state)), tasks=tasks, worker_seconds=times["worker"],
                     trigger_seconds=times["trigger"], deferrals=int(times["deferrals"]),
                     wall_seconds=time.monotonic() - started, task_seconds=per_task, task_intervals=intervals,
                     calls=[c for c in server.calls[first:] if c.phase in ("worker", "trigger")],
                     driver_events=list(driver.events), jobs=_jobs(driver))


def _jobs(driver: Driver) -> dict[str, tuple[float, float | None]]:
    from moto.sagemaker.models import sagemaker_backends

    sm = sagemaker_backends[ACCOUNT][REGION]
    out = {}
    for name, job in [*sm.hyper_parameter_tuning_jobs.items(), *sm.transform_jobs.items()]:
        if hasattr(job, "harness_created"):
            out[name] = (job.harness_created, driver.ended.get(name))
    return out


def migrate_airflow_db() -> None:
    """``airflow db migrate`` of the metadata DB this process's Airflow uses (once).

    The DB is taken from Airflow's loaded configuration, not from $AIRFLOW_HOME: a module importing
    ``tests.conftest`` again re-runs it and points $AIRFLOW_HOME at a new directory after Airflow was loaded."""
    import subprocess
    import sys

    from airflow import configuration

    home = Path(configuration.AIRFLOW_HOME)
    conn = configuration.conf.get("database", "sql_alchemy_conn")
    stamp = home / ".migrated"
    if stamp.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True,
                   capture_output=True,
                   env={**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": conn})
    stamp.touch()
