"""devtools.iam_policy: the generated least-privilege policies cover every AWS call the DAGs make on the aws stack
(aws-dev), on the resource each call names, and wildcard nothing beyond what is needed."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "aws"))  # the request builders of tests/aws

from botocore_shapes import iam_actions  # noqa: E402
from provider_requests import (  # noqa: E402
    CLUSTER_ID,
    DS,
    FOLLOW_UP_CALLS,
    PACKAGE_ARN,
    TUNING_NAME,
    load_dags,
    provider_class,
    render,
    requests_of,
)

from devtools import iam_policy  # noqa: E402

LAKE_BUCKET = "acme-ml-lake-dev"
# Calls the @task bodies make through hooks/boto3 (mlpipe.stacks.aws.*, mlpipe.tasks.*), with sample params;
# tests/aws/test_ingest_requests.py records the ingestion ones on moto.
TASK_BODY_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    # ml_ingest: dms_start_type, promote_dms / promote_datasync / land (S3Storage, SSE-KMS)
    ("dms", "DescribeReplicationTasks", {}),
    ("datasync", "DescribeTaskExecution",
     {"TaskExecutionArn": "arn:aws:datasync:us-east-1:123456789012:task/task-0a1b2c3d4e5f60718/execution/exec-1"}),
    ("s3", "ListObjectsV2", {"Bucket": LAKE_BUCKET, "Prefix": "raw/dms/public/customers/"}),
    ("s3", "CopyObject", {"Bucket": LAKE_BUCKET, "Key": f"lake/bronze/oltp/customers/dt={DS}/LOAD00000001.parquet"}),
    ("s3", "GetObject", {"Bucket": LAKE_BUCKET, "Key": "raw/dms/public/customers/LOAD00000001.parquet"}),
    ("s3", "GetObject", {"Bucket": LAKE_BUCKET, "Key": "raw/datasync/clickstream/events.jsonl"}),
    ("s3", "GetObject", {"Bucket": "acme-partner-drops-dev", "Key": "partner/accounts_20261101.csv"}),
    ("s3", "HeadObject", {"Bucket": LAKE_BUCKET, "Key": "lake/_state/dms/oltp/state.json"}),
    ("s3", "PutObject", {"Bucket": LAKE_BUCKET, "Key": f"lake/bronze/partner/accounts/dt={DS}/_SUCCESS"}),
    ("s3", "DeleteObjects", {"Bucket": LAKE_BUCKET, "Key": f"lake/bronze/partner/accounts/dt={DS}/x"}),
    ("kms", "GenerateDataKey", {}),
    ("kms", "Decrypt", {}),
    # ml_features: write_spec, the gates (lake JSON)
    ("s3", "PutObject", {"Bucket": LAKE_BUCKET, "Key": f"lake/_specs/ml_features/dt={DS}/spec.json"}),
    # ml_training: split, find_job, best, champion, report, lineage; the hook's S3 input checks
    ("sagemaker", "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": TUNING_NAME}),
    ("sagemaker", "DescribeTrainingJob", {"TrainingJobName": f"{TUNING_NAME}-001-abcdef12"}),
    ("sagemaker", "ListModelPackages", {}),
    ("sagemaker", "DescribeModelPackage", {"ModelPackageName": PACKAGE_ARN}),
    ("s3", "HeadBucket", {"Bucket": "acme-ml-code-dev"}),
    ("s3", "HeadObject", {"Bucket": "acme-ml-code-dev", "Key": "training/sourcedir.tar.gz"}),
    # ml_deployment: resolve_version, prepare_transform_input, smoke_test
    ("sagemaker-runtime", "InvokeEndpoint", {"EndpointName": "mlpipe-churn-dev"}),
    # ml_monitoring (mlpipe.stacks.aws.monitoring, mlpipe.tasks.monitoring; tests/aws/test_monitoring_on_moto.py
    # runs them on moto): the serving model through the endpoint, else the newest Approved package; its
    # model.tar.gz and lineage, the gold partition and the capture read from S3; the report and state written
    ("sagemaker", "DescribeEndpoint", {"EndpointName": "mlpipe-churn-dev"}),
    ("sagemaker", "DescribeEndpointConfig", {"EndpointConfigName": f"ml-deployment-{DS.replace('-', '')}-0123abcd"}),
    ("sagemaker", "DescribeModel", {"ModelName": f"ml-deployment-{DS.replace('-', '')}-0123abcd"}),
    ("sagemaker", "DescribeModelPackage", {"ModelPackageName": PACKAGE_ARN}),
    ("sagemaker", "ListModelPackages", {"ModelPackageGroupName": "mlpipe-churn-dev"}),
    ("s3", "HeadObject", {"Bucket": LAKE_BUCKET, "Key": "lake/training/mlpipe-churn-dev/dt=x/model/model.tar.gz"}),
    ("s3", "GetObject", {"Bucket": LAKE_BUCKET, "Key": "lake/training/mlpipe-churn-dev/dt=x/model/model.tar.gz"}),
    ("s3", "GetObject", {"Bucket": LAKE_BUCKET, "Key": f"lake/gold/customer_features/dt={DS}/part-00000.parquet"}),
    ("s3", "ListObjectsV2", {"Bucket": LAKE_BUCKET, "Prefix": "lake/capture/mlpipe-churn-dev/AllTraffic/2026/11/01/"}),
    ("s3", "GetObject", {"Bucket": LAKE_BUCKET, "Key": "lake/capture/mlpipe-churn-dev/AllTraffic/2026/11/01/09/x.jsonl"}),
    ("s3", "PutObject", {"Bucket": LAKE_BUCKET, "Key": f"lake/reports/monitoring/dt={DS}/drift.json"}),
    ("s3", "PutObject", {"Bucket": LAKE_BUCKET, "Key": f"lake/reports/monitoring/dt={DS}/drift.html"}),
    ("s3", "HeadObject", {"Bucket": LAKE_BUCKET, "Key": "lake/reports/monitoring/_state.json"}),
    ("s3", "PutObject", {"Bucket": LAKE_BUCKET, "Key": "lake/reports/monitoring/_state.json"}),
]


def resource_of(service: str, operation: str, params: dict[str, Any]) -> str | None:
    """The ARN a call acts on, where the params name it (None: checked by action only)."""
    region, account = "us-east-1", "123456789012"
    if service == "s3" and "Bucket" in params:
        key = params.get("Key")
        return f"arn:aws:s3:::{params['Bucket']}" + (f"/{key}" if key and operation != "ListObjectsV2" else "")
    if service == "dms" and "ReplicationTaskArn" in params:
        return params["ReplicationTaskArn"]
    if service == "datasync":
        return params.get("TaskExecutionArn") or params.get("TaskArn")
    if service == "emr" and ("JobFlowId" in params or "ClusterId" in params):
        return f"arn:aws:elasticmapreduce:{region}:{account}:cluster/{params.get('JobFlowId') or params['ClusterId']}"
    if service == "emr-serverless" and "applicationId" in params:
        app = f"arn:aws:emr-serverless:{region}:{account}:/applications/{params['applicationId']}"
        return f"{app}/jobruns/{params['jobRunId']}" if "jobRunId" in params else app
    if service == "athena" and "WorkGroup" in params:
        return f"arn:aws:athena:{region}:{account}:workgroup/{params['WorkGroup']}"
    if service in ("sagemaker", "sagemaker-runtime"):
        for field, kind in (("HyperParameterTuningJobName", "hyper-parameter-tuning-job"),
                            ("TrainingJobName", "training-job"), ("ProcessingJobName", "processing-job"),
                            ("TransformJobName", "transform-job"), ("EndpointConfigName", "endpoint-config"),
                            ("EndpointName", "endpoint"), ("ModelName", "model"),
                            ("ModelPackageGroupName", "model-package-group")):
            if field in params and not (operation.startswith("List") or operation == "CreateEndpointConfig"
                                        and field == "ModelName"):
                if operation in ("CreateEndpoint", "UpdateEndpoint") and field == "EndpointConfigName":
                    continue
                return f"arn:aws:sagemaker:{region}:{account}:{kind}/{params[field]}"
        if params.get("ModelPackageName", "").startswith("arn:"):
            return params["ModelPackageName"]
    return None


def allowed(doc: dict[str, Any], action: str, resource: str | None) -> bool:
    for st in doc["Statement"]:
        if st["Effect"] != "Allow" or not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in st["Action"]):
            continue
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        if resource is None or "*" in resources or any(fnmatch.fnmatchcase(resource, r) for r in resources):
            return True
    return False


def dag_calls(monkeypatch) -> list[tuple[str, str, dict[str, Any]]]:
    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    calls: list[tuple[str, str, dict[str, Any]]] = list(TASK_BODY_CALLS)
    for mode in ("transient", "serverless"):
        for dag in load_dags(mode):
            for task in dag.tasks:
                klass = provider_class(task)
                if klass is None:
                    continue
                calls += requests_of(render(task))
                calls += [(s, o, {}) for s, o in FOLLOW_UP_CALLS[klass.__name__]]
    return calls


@pytest.fixture
def docs(monkeypatch):
    from mlpipe.config import load_config

    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    return iam_policy.policies(load_config(), "mlpipe-dev", "acme-mwaa-dev")


def test_the_mwaa_role_covers_every_call_the_dags_make(monkeypatch, docs):
    calls = dag_calls(monkeypatch)
    assert len({(s, o) for s, o, _ in calls}) > 40
    missing = []
    for service, operation, params in calls:
        for action in iam_actions(service, operation):
            resource = resource_of(service, operation, params)
            if not allowed(docs["mwaa-execution-role"], action, resource):
                missing.append(f"{action} on {resource or '(any)'} ({service}.{operation})")
    assert not missing, "the MWAA execution role lacks:\n" + "\n".join(sorted(set(missing)))


def test_passrole_only_for_the_configured_roles_with_passed_to_service(docs):
    passes = [st for st in docs["mwaa-execution-role"]["Statement"] if "iam:PassRole" in st["Action"]]
    roles = sorted(r for st in passes for r in st["Resource"])
    assert roles == sorted([
        "arn:aws:iam::123456789012:role/EMR_DefaultRole_V2", "arn:aws:iam::123456789012:role/EMR_EC2_DefaultRole",
        "arn:aws:iam::123456789012:role/mlpipe-emr-serverless-dev",
        "arn:aws:iam::123456789012:role/mlpipe-sagemaker-inference-dev",
        "arn:aws:iam::123456789012:role/mlpipe-sagemaker-training-dev"])
    for st in passes:
        assert st["Action"] == ["iam:PassRole"] and st["Condition"]["StringEquals"]["iam:PassedToService"]


def test_nothing_is_wildcarded_beyond_what_is_needed(docs):
    for role, doc in docs.items():
        for st in doc["Statement"]:
            for action in st["Action"]:
                assert action != "*" and not action.endswith(":*") and "*" not in action, (role, st["Sid"], action)
            if st["Resource"] == "*" or "*" in st["Resource"]:
                unexplained = [a for a in st["Action"] if a not in iam_policy.NO_RESOURCE_LEVEL]
                assert not unexplained, f"{role}/{st['Sid']}: Resource '*' for {unexplained}"
            else:
                for r in st["Resource"]:
                    assert r not in ("arn:aws:s3:::*", "arn:aws:s3:::*/*") and not r.endswith(":*"), (role, r)


def test_resources_are_the_configured_ones(docs):
    mwaa = docs["mwaa-execution-role"]
    assert allowed(mwaa, "s3:PutObject", f"arn:aws:s3:::{LAKE_BUCKET}/lake/gold/x/dt={DS}/part-0.parquet")
    assert not allowed(mwaa, "s3:PutObject", f"arn:aws:s3:::{LAKE_BUCKET}/raw/dms/public/x.parquet"), "raw is read-only"
    assert not allowed(mwaa, "s3:GetObject", "arn:aws:s3:::some-other-bucket/x")
    assert not allowed(mwaa, "sagemaker:CreateHyperParameterTuningJob",
                       "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/someone-elses")
    assert not allowed(mwaa, "sagemaker:UpdateEndpoint", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/prod")
    assert not allowed(mwaa, "elasticmapreduce:TerminateJobFlows", None) or \
        "Condition" in next(s for s in mwaa["Statement"] if "elasticmapreduce:TerminateJobFlows" in s["Action"])
    assert allowed(mwaa, "kms:GenerateDataKey", "arn:aws:kms:us-east-1:123456789012:key/1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901")
    assert not allowed(mwaa, "kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/other")
    assert allowed(docs["sagemaker-training-role"], "s3:PutObject",
                   f"arn:aws:s3:::{LAKE_BUCKET}/lake/training/g/dt={DS}/tuning/checkpoints/x")
    assert not allowed(docs["sagemaker-inference-role"], "s3:PutObject",
                       f"arn:aws:s3:::{LAKE_BUCKET}/lake/gold/x"), "the endpoint writes only its capture"


def test_monitoring_reads_a_capture_destination_outside_the_lake(monkeypatch):
    from mlpipe.config import load_config

    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    monkeypatch.setenv("MLPIPE__DEPLOYMENT__DATA_CAPTURE__DESTINATION", "s3://acme-ml-capture-dev/endpoints")
    mwaa = iam_policy.policies(load_config(), "mlpipe-dev", "acme-mwaa-dev")["mwaa-execution-role"]
    key = "endpoints/mlpipe-churn-dev/AllTraffic/2026/11/01/09/x.jsonl"
    for service, operation, params in [("s3", "ListObjectsV2", {"Bucket": "acme-ml-capture-dev"}),
                                       ("s3", "GetObject", {"Bucket": "acme-ml-capture-dev", "Key": key})]:
        for action in iam_actions(service, operation):
            assert allowed(mwaa, action, resource_of(service, operation, params)), (action, params)
    assert not allowed(mwaa, "s3:PutObject", f"arn:aws:s3:::acme-ml-capture-dev/{key}"), "capture is read-only"


def test_a_missing_statement_is_detected(monkeypatch, docs):
    """The coverage check bites: drop the tuning statement and the check reports it."""
    mwaa = docs["mwaa-execution-role"]
    mwaa["Statement"] = [s for s in mwaa["Statement"] if s["Sid"] != "SageMakerTraining"]
    assert not allowed(mwaa, "sagemaker:CreateHyperParameterTuningJob",
                       f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{TUNING_NAME}")
    assert CLUSTER_ID


def test_the_cli_writes_one_file_per_role(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    assert iam_policy.main(["--out", str(tmp_path), "--mwaa-bucket", "acme-mwaa-dev"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "emr-instance-role.json", "emr-serverless-execution-role.json", "mwaa-execution-role.json",
        "sagemaker-inference-role.json", "sagemaker-training-role.json"]
