"""ml_deployment on the aws stack: CreateModel, CreateEndpointConfig, CreateEndpoint, UpdateEndpoint (with the
blue/green DeploymentConfig) and CreateTransformJob, rendered from include/config/aws-dev.yaml with the resolve
task's XCom, validated against botocore's service models plus max lengths, patterns, enums and minimums."""

from __future__ import annotations

import runpy
from typing import Any

import pytest
from botocore_shapes import ROOT, validate

DS = "2026-11-01"
GROUP = "mlpipe-churn"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/7"


@pytest.fixture
def dag(monkeypatch):
    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    return runpy.run_path(str(ROOT / "dags" / "ml_deployment.py"))["dag"]


class FakeTI:
    def __init__(self) -> None:
        from mlpipe.config import load_config
        from mlpipe.lake import LakeLayout
        from mlpipe.tasks.deployment import names

        cfg = load_config()
        layout = LakeLayout.from_config(cfg)
        self.values = {
            "resolve_version": {"group": GROUP, "version": 7, "arn": ARN, "status": "Approved", "ds": DS,
                                "names": names(cfg, DS, ARN), "gold_partition": layout.gold(cfg.features.gold.name, DS),
                                "predictions": layout.predictions(DS)},
            "prepare_transform_input": {"input": f"{cfg.lake.root}/_staging/ml_deployment/scoring/dt={DS}/",
                                        "rows": 10},
            "find_transform_job": {"name": names(cfg, DS, ARN)["transform_job"], "action": "start"},
        }

    def xcom_pull(self, task_ids: str, key: str | None = None, **_: Any) -> Any:
        return self.values[task_ids]


def rendered(dag, task_id: str) -> dict[str, Any]:
    op = dag.get_task(task_id)
    ti = FakeTI()
    op.render_template_fields({"ti": ti, "task_instance": ti, "params": {}, "dag": dag, "task": op})
    return op.config


def test_create_model(dag):
    req = rendered(dag, "create_model")
    validate("sagemaker", "CreateModel", req)
    assert req["Containers"] == [{"ModelPackageName": ARN}]
    assert req["EnableNetworkIsolation"] is True and req["VpcConfig"]["Subnets"]
    assert req["ExecutionRoleArn"].endswith("role/mlpipe-sagemaker-inference-dev")


def test_create_endpoint_config_with_capture_and_kms(dag):
    req = rendered(dag, "create_endpoint_config")
    validate("sagemaker", "CreateEndpointConfig", req)
    cap = req["DataCaptureConfig"]
    assert cap["EnableCapture"] and cap["InitialSamplingPercentage"] == 20
    assert cap["DestinationS3Uri"].startswith("s3://") and cap["KmsKeyId"].startswith("arn:aws:kms:")
    assert req["KmsKeyId"] == cap["KmsKeyId"]
    assert req["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    assert req["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert req["ProductionVariants"][0]["ModelName"] == rendered(dag, "create_model")["ModelName"]


def test_create_and_update_endpoint_blue_green(dag):
    req = rendered(dag, "deploy_endpoint")
    validate("sagemaker", "CreateEndpoint", req)
    update = {k: v for k, v in req.items() if k != "Tags"}  # the operator's fallback when the endpoint exists
    validate("sagemaker", "UpdateEndpoint", update)
    bg = req["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert bg["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert bg["TrafficRoutingConfiguration"]["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}
    assert bg["TerminationWaitInSeconds"] == 900
    assert [a["AlarmName"] for a in req["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]] == [
        "mlpipe-churn-dev-5xx", "mlpipe-churn-dev-model-latency"]
    assert req["EndpointName"] == "mlpipe-churn-dev"
    op = dag.get_task("deploy_endpoint")
    assert op.operation == "create" and op.deferrable


def test_create_transform_job(dag):
    req = rendered(dag, "batch_transform")
    validate("sagemaker", "CreateTransformJob", req)
    assert req["TransformOutput"]["S3OutputPath"] == f"s3://acme-ml-lake-dev/lake/predictions/dt={DS}/"
    assert req["TransformOutput"]["KmsKeyId"].startswith("arn:aws:kms:")
    assert req["TransformResources"]["VolumeKmsKeyId"].startswith("arn:aws:kms:")
    assert req["DataProcessing"]["JoinSource"] == "Input"


def test_names_are_deterministic_and_change_with_the_version():
    import os

    os.environ["PIPELINE_ENV"] = "aws-dev"
    try:
        from mlpipe.config import load_config
        from mlpipe.tasks.deployment import names

        cfg = load_config()
        a, b = names(cfg, DS, ARN), names(cfg, DS, ARN)
        c = names(cfg, DS, ARN.replace("/7", "/8"))
    finally:
        os.environ.pop("PIPELINE_ENV")
    assert a == b and a["model"] != c["model"] and a["endpoint_config"] != c["endpoint_config"]
    assert all(len(v) <= 63 for v in a.values())


@pytest.mark.parametrize(("env", "task_id", "path", "field"), [
    ("MLPIPE__DEPLOYMENT__INSTANCE_TYPE", "create_endpoint_config", (), "KmsKeyId"),
    ("MLPIPE__DEPLOYMENT__TRANSFORM__INSTANCE_TYPE", "batch_transform", ("TransformResources",), "VolumeKmsKeyId"),
])
def test_no_volume_key_for_a_local_storage_instance(monkeypatch, env, task_id, path, field):
    """The storage-volume key (endpoint config KmsKeyId, transform VolumeKmsKeyId) is set on an EBS instance type
    (aws-dev: ml.m5) and left out on one with local storage (ml.g4dn: SageMaker refuses it there); the S3 keys
    (capture, transform output) stay."""
    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    operation = {"create_endpoint_config": "CreateEndpointConfig", "batch_transform": "CreateTransformJob"}[task_id]
    for instance_type, has_key in (("ml.m5.xlarge", True), ("ml.g4dn.xlarge", False)):
        monkeypatch.setenv(env, instance_type)
        req = rendered(runpy.run_path(str(ROOT / "dags" / "ml_deployment.py"))["dag"], task_id)
        validate("sagemaker", operation, req)
        node = req
        for key in path:
            node = node[key]
        assert (field in node) is has_key, (instance_type, node)
        s3_key = req["DataCaptureConfig"]["KmsKeyId"] if task_id == "create_endpoint_config" else \
            req["TransformOutput"]["KmsKeyId"]
        assert s3_key.startswith("arn:aws:kms:")
