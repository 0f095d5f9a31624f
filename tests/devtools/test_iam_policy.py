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
    LAKE,
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
    # ml_monitoring (mlpipe.stacks.monitoring, mlpipe.tasks.monitoring; tests/aws/test_monitoring_on_moto.py
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
                   f"arn:aws:s3:::{LAKE_BUCKET}/lake/training/mlpipe-churn-dev/dt={DS}/tuning/checkpoints/x")
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


# ---- every job role: exactly the S3 objects its jobs read and write ----------------------------------------------
#
# What each job touches is read off the requests the DAGs send (rendered for DS, both EMR modes) and, for the
# Spark steps, off the job spec they run with (mlpipe.tasks.feature_spec.job_spec, what write_spec writes) and the
# workload's own layout rules (spark_jobs.spec.outputs, spark_jobs.fs.LakeFS.sibling); then every S3 action on
# every key any job of any role touches, plus keys elsewhere in the lake and in other buckets, is evaluated
# against each role's policy: allowed exactly when a job of that role needs it.

S3_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
GET, PUT, DEL = ("s3:GetObject",), ("s3:PutObject", "s3:AbortMultipartUpload"), ("s3:DeleteObject",)
ROLE_DOCS = {  # config attribute -> the policy file of that role (README "Roles and the generated IAM policy")
    "training.sagemaker.role_arn": "sagemaker-training-role",
    "deployment.execution_role_arn": "sagemaker-inference-role",
    "emr.cluster.job_flow_role": "emr-instance-role",
    "emr.serverless.execution_role_arn": "emr-serverless-execution-role",
}


def iam_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters (``/`` included), ``?`` one character."""
    import re

    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def conditions_hold(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """StringEquals / StringLike on the request context; a key the context lacks fails the condition."""
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            wanted = [wanted] if isinstance(wanted, str) else wanted
            if key not in context:
                return False
            if operator == "StringLike" and not any(iam_match(w, context[key]) for w in wanted):
                return False
            if operator == "StringEquals" and context[key] not in wanted:
                return False
            if operator not in ("StringLike", "StringEquals"):
                raise AssertionError(f"the evaluator does not know {operator}")
    return True


def evaluates_allow(doc: dict[str, Any], action: str, resource: str, **context: str) -> bool:
    """A small IAM evaluator for identity policies of Allow statements (the generated ones have no Deny)."""
    for st in doc["Statement"]:
        assert st["Effect"] == "Allow" and "NotAction" not in st and "NotResource" not in st
        if not any(iam_match(a, action, ignore_case=True) for a in st["Action"]):
            continue
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        if any(iam_match(r, resource) for r in resources) and conditions_hold(st.get("Condition", {}), context):
            return True
    return False


def test_the_evaluator():
    doc = {"Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/p/dt=*/x/*"]},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::b"],
         "Condition": {"StringLike": {"s3:prefix": ["p/dt=*/x/*"]}}}]}
    assert evaluates_allow(doc, "s3:getobject", "arn:aws:s3:::b/p/dt=2026-11-01/x/part-0")
    assert not evaluates_allow(doc, "s3:GetObject", "arn:aws:s3:::b/p/dt=2026-11-01/y/part-0")
    assert not evaluates_allow(doc, "s3:PutObject", "arn:aws:s3:::b/p/dt=2026-11-01/x/part-0")
    assert evaluates_allow(doc, "s3:ListBucket", "arn:aws:s3:::b", **{"s3:prefix": "p/dt=1/x/"})
    assert not evaluates_allow(doc, "s3:ListBucket", "arn:aws:s3:::b", **{"s3:prefix": "p/"})
    assert not evaluates_allow(doc, "s3:ListBucket", "arn:aws:s3:::b"), "no prefix: no listing"
    assert not iam_match("a?c", "abbc") and iam_match("a?c", "abc") and not iam_match("a.c", "abc")


class Uses:
    """(actions, s3 URI, prefix?) a role's jobs need; a prefix covers every key starting with it."""

    def __init__(self) -> None:
        self.items: list[tuple[tuple[str, ...], str, bool]] = []
        self.sample_keys: list[str] = []

    def add(self, actions: tuple[str, ...], uri: str, prefix: bool = True, sample: str | None = None) -> None:
        """``prefix``: S3Prefix semantics (every key starting with ``uri``), else the one key ``uri``."""
        assert uri.startswith("s3://"), uri
        self.items.append((actions, uri, prefix))
        self.sample_keys.append(sample or (f"{uri}part-00000.parquet" if uri.endswith("/") else uri))

    def needs(self, action: str, uri: str) -> bool:
        return any(action in actions and (uri.startswith(u) if prefix else uri == u) for actions, u, prefix in self.items)

    def samples(self) -> list[str]:
        """One key per use: an object under a directory prefix, the key (or key prefix) itself otherwise."""
        return list(self.sample_keys)


def _s3_in(text: str) -> list[str]:
    import re

    return re.findall(r"s3://[^\s\"',#]+", text)


def _spark_spec_uses(uses: Uses, cfg: Any, step: str) -> None:
    """What the Spark step does with the job spec of DS: read bronze (and the ingestion quarantine), for gold the
    silver partitions it joins; replace each dataset's partition, quarantine and verdict through hidden siblings."""
    from mlpipe.tasks.feature_spec import job_spec
    from spark_jobs.fs import LakeFS
    from spark_jobs.spec import outputs

    spec = job_spec(cfg, DS)
    tables = spec["silver"]["tables"] if step == "silver" else [spec["gold"]]
    for table in tables:
        if step == "silver":
            uses.add(GET, table["bronze_uri"].rstrip("/") + "/")
            uses.add(GET, table["ingest_quarantine_uri"].rstrip("/") + "/")
        else:
            for name in table["inputs"]:
                uses.add(GET, outputs(spec, "silver", name)["partition"] + "/")
        out = outputs(spec, step, table["name"])
        quality_dir = out["result"].rsplit("/", 1)[0]
        for final in (out["partition"], out["quarantine"], quality_dir):
            for kind in ("tmp", "old"):
                sibling = LakeFS.sibling(None, final, kind)   # the swap's temporaries beside the partition
                uses.add(GET + PUT + DEL, sibling[:-8], sample=f"{sibling}/part-00000.parquet")  # any uuid
            uses.add(GET + PUT + DEL, final + "/")


def job_uses(monkeypatch) -> dict[str, Uses]:
    """Policy file -> the S3 uses of the jobs that run with its role, from the rendered requests."""
    from mlpipe.config import load_config

    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    cfg = load_config()
    role_of = {}
    for attr, doc in ROLE_DOCS.items():
        value: Any = cfg
        for part in attr.split("."):
            value = getattr(value, part)
        role_of[value] = doc
    out: dict[str, Uses] = {doc: Uses() for doc in ROLE_DOCS.values()}
    model_roles: dict[str, str] = {}
    packages: list[str] = []
    requests = [r for mode in ("transient", "serverless") for dag in load_dags(mode) for task in dag.tasks
                if provider_class(task) is not None for r in requests_of(render(task))]
    for _, operation, p in requests:
        if operation == "CreateModel":
            model_roles[p["ModelName"]] = role_of[p["ExecutionRoleArn"]]
    for _, operation, p in requests:
        if operation == "CreateHyperParameterTuningJob":
            d = p["TrainingJobDefinition"]
            u = out[role_of[d["RoleArn"]]]
            for ch in d["InputDataConfig"]:
                u.add(GET, ch["DataSource"]["S3DataSource"]["S3Uri"])
            u.add(PUT, d["OutputDataConfig"]["S3OutputPath"])
            u.add(GET + PUT, d["CheckpointConfig"]["S3Uri"])
        elif operation == "CreateProcessingJob":
            u = out[role_of[p["RoleArn"]]]
            for i in p["ProcessingInputs"]:
                u.add(GET, i["S3Input"]["S3Uri"])
            for o in p["ProcessingOutputConfig"]["Outputs"]:
                u.add(PUT, o["S3Output"]["S3Uri"])
        elif operation == "CreateModelPackage":
            packages += [c["ModelDataUrl"] for c in p["InferenceSpecification"]["Containers"]]
        elif operation == "CreateEndpointConfig":
            u = out[model_roles[p["ProductionVariants"][0]["ModelName"]]]
            u.add(PUT, p["DataCaptureConfig"]["DestinationS3Uri"].rstrip("/") + "/")
        elif operation == "CreateTransformJob":
            u = out[model_roles[p["ModelName"]]]
            u.add(GET, p["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
            u.add(PUT, p["TransformOutput"]["S3OutputPath"])
        elif operation == "RunJobFlow":
            u = out[role_of[p["JobFlowRole"]]]
            for action in p["BootstrapActions"]:
                u.add(GET, action["ScriptBootstrapAction"]["Path"], prefix=False)
            u.add(PUT, p["LogUri"])
        elif operation == "AddJobFlowSteps":   # no runtime role: the steps run as the instance profile
            u = out[role_of[cfg.emr.cluster.job_flow_role]]
            for step in p["Steps"]:
                args = step["HadoopJarStep"]["Args"]
                for uri in _s3_in(" ".join(args)):
                    u.add(GET, uri, prefix=False)
                _spark_spec_uses(u, cfg, args[args.index("--step") + 1])
        elif operation == "StartJobRun":
            u = out[role_of[p["executionRoleArn"]]]
            submit = p["jobDriver"]["sparkSubmit"]
            for uri in _s3_in(" ".join([submit["entryPoint"], *submit["entryPointArguments"],
                                        submit["sparkSubmitParameters"]])):
                u.add(GET, uri, prefix=False)
            log_uri = p["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]["logUri"]
            u.add(PUT, log_uri)
            args = submit["entryPointArguments"]
            _spark_spec_uses(u, cfg, args[args.index("--step") + 1])
    for doc in set(model_roles.values()):
        for url in packages:   # the model is created from the package ml_training registers
            out[doc].add(GET, url, prefix=False)
    return out


def _arn(uri: str) -> str:
    return "arn:aws:s3:::" + uri[len("s3://"):]


ELSEWHERE = [  # keys no job role needs: every layer of the lake, another group, the code bucket's other code
    f"s3://{LAKE_BUCKET}/lake/{layer}/x/dt={DS}/part-00000.parquet"
    for layer in ("bronze", "silver", "gold", "quality", "quarantine", "manifests", "_specs", "_state", "training",
                  "predictions", "capture", "registry", "reports", "_staging")
] + [f"s3://{LAKE_BUCKET}/lake/training/another-group/dt={DS}/train/part-0.parquet",
     f"s3://{LAKE_BUCKET}/raw/dms/public/customers/LOAD00000001.parquet", f"s3://{LAKE_BUCKET}/other/x",
     "s3://acme-ml-code-dev/serving/sourcedir.tar.gz", "s3://acme-ml-code-dev/quality/x.yaml",
     "s3://acme-ml-logs-dev/other/x", "s3://acme-partner-drops-dev/partner/accounts_20261101.csv",
     "s3://some-other-bucket/x"]


@pytest.fixture
def uses(monkeypatch):
    return job_uses(monkeypatch)


def test_every_job_role_allows_exactly_what_its_jobs_use(docs, uses):
    probes = sorted({k for u in uses.values() for k in u.samples()} | set(ELSEWHERE))
    assert len(probes) > 60
    wrong = []
    for doc_name, u in uses.items():
        assert u.items, f"no job of {doc_name} found in the rendered requests"
        for key in probes:
            for action in S3_ACTIONS:
                need, allow = u.needs(action, key), evaluates_allow(docs[doc_name], action, _arn(key))
                if need != allow:
                    wrong.append(f"{doc_name}: {action} on {key}: {'needed, not allowed' if need else 'allowed, not needed'}")
    assert not wrong, "\n".join(wrong)


def test_every_job_role_lists_only_the_prefixes_it_uses(docs, uses):
    for doc_name, u in uses.items():
        for _, uri, _ in u.items:
            bucket, _, key = uri[len("s3://"):].partition("/")
            assert evaluates_allow(docs[doc_name], "s3:ListBucket", f"arn:aws:s3:::{bucket}", **{"s3:prefix": key}), \
                (doc_name, uri)
        for key_uri in ELSEWHERE:
            bucket, _, key = key_uri[len("s3://"):].partition("/")
            prefix = key.rsplit("/", 1)[0] + "/"
            here = f"s3://{bucket}/{prefix}"
            if not any(uri.startswith(here) or here.startswith(uri) for _, uri, _ in u.items):
                assert not evaluates_allow(docs[doc_name], "s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                           **{"s3:prefix": prefix}), (doc_name, prefix)
            assert not evaluates_allow(docs[doc_name], "s3:ListBucket", f"arn:aws:s3:::{bucket}"), \
                f"{doc_name}: a bucket-wide listing of {bucket}"


def test_batch_transform_reads_its_staged_input_and_writes_predictions(docs, uses):
    """The defect: the model's execution role, which batch transform runs with, could neither read the staged
    input nor write predictions/."""
    inference = docs["sagemaker-inference-role"]
    staged = f"{LAKE}/_staging/ml_deployment/scoring/dt={DS}/scoring.jsonl"
    assert evaluates_allow(inference, "s3:GetObject", _arn(staged))
    assert evaluates_allow(inference, "s3:PutObject", _arn(f"{LAKE}/predictions/dt={DS}/scoring.jsonl.out"))
    assert not evaluates_allow(inference, "s3:PutObject", _arn(staged)), "the input is read-only"
    assert uses["sagemaker-inference-role"].needs("s3:PutObject", f"{LAKE}/predictions/dt={DS}/scoring.jsonl.out")


def test_the_code_each_spark_role_reads(docs):
    code = "s3://acme-ml-code-dev"
    venv, bootstrap = f"{code}/emr/pyspark_venv.tar.gz", f"{code}/emr/bootstrap/install-python-packages.sh"
    serverless, instance = docs["emr-serverless-execution-role"], docs["emr-instance-role"]
    for doc in (serverless, instance):
        assert evaluates_allow(doc, "s3:GetObject", _arn(f"{code}/spark_jobs/main.py"))
        assert evaluates_allow(doc, "s3:GetObject", _arn(f"{code}/spark_jobs.zip"))
    assert evaluates_allow(serverless, "s3:GetObject", _arn(venv))
    assert evaluates_allow(instance, "s3:GetObject", _arn(bootstrap))
    assert not evaluates_allow(instance, "s3:GetObject", _arn(venv))
    assert not evaluates_allow(serverless, "s3:GetObject", _arn(bootstrap))
