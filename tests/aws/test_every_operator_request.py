"""Every Amazon-provider operator of every DAG in dags/, rendered with include/config/aws-dev.yaml (both EMR modes):
each request it sends is valid for botocore's model (+ max lengths, patterns, enums, minimums) and carries every
security setting the config sets (KMS keys, SSE-KMS, VPC, network isolation, inter-container encryption, the EMR
security configuration, IAM roles). And proof that those checks bite."""

from __future__ import annotations

import copy

import pytest
from botocore_shapes import configured_kms_keys, problems, security_problems
from provider_requests import load_dags, provider_class, render, requests_of

EXPECTED_DAGS = {"ml_ingest", "ml_features", "ml_training", "ml_deployment"}


@pytest.fixture
def cfg(monkeypatch):
    from mlpipe.config import load_config

    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    return load_config()


def all_requests(mode: str) -> list[tuple[str, str, str, dict]]:
    """(task, service, operation, params) of every provider operator of every DAG."""
    out = []
    for dag in load_dags(mode):
        for task in dag.tasks:
            if provider_class(task) is None:
                continue
            for service, operation, params in requests_of(render(task)):
                out.append((f"{dag.dag_id}.{task.task_id}", service, operation, params))
    return out


@pytest.mark.parametrize("mode", ["transient", "serverless"])
def test_every_request_is_valid_and_secured(cfg, mode):
    requests = all_requests(mode)
    assert EXPECTED_DAGS <= {t.split(".", 1)[0] for t, *_ in requests}
    failures = []
    for task, service, operation, params in requests:
        found = problems(service, operation, params) + security_problems(service, operation, params, cfg)
        failures += [f"{task}: {p}" for p in found]
    assert not failures, "\n".join(failures)
    operations = {op for _, _, op, _ in requests}
    expected = {"StartReplicationTask", "StartTaskExecution", "HeadObject", "StartQueryExecution",
                "CreateHyperParameterTuningJob", "CreateProcessingJob", "CreateModelPackage", "CreateModel",
                "CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint", "CreateTransformJob"}
    expected |= {"RunJobFlow", "AddJobFlowSteps", "TerminateJobFlows"} if mode == "transient" else {"StartJobRun"}
    assert expected <= operations, expected - operations


# ---- the checks bite ---------------------------------------------------------------------------------------


def _request(operation: str, mode: str = "transient") -> tuple[str, dict]:
    for _, service, op, params in all_requests(mode):
        if op == operation:
            return service, copy.deepcopy(params)
    raise AssertionError(f"no {operation} request")


def test_a_33_character_tuning_job_name_fails(cfg):
    service, req = _request("CreateHyperParameterTuningJob")
    assert not problems(service, "CreateHyperParameterTuningJob", req)
    req["HyperParameterTuningJobName"] = "ml-training-20261101-0123abcd-r23"
    assert len(req["HyperParameterTuningJobName"]) == 33
    found = problems(service, "CreateHyperParameterTuningJob", req)
    assert any("HyperParameterTuningJobName: 33 chars > 32" in p for p in found), found


@pytest.mark.parametrize(("operation", "path"), [
    ("CreateHyperParameterTuningJob", ("TrainingJobDefinition", "ResourceConfig", "InstanceCount")),
    ("CreateTransformJob", ("TransformResources", "InstanceCount")),
    ("CreateEndpointConfig", ("ProductionVariants", 0, "InitialInstanceCount")),
])
def test_an_instance_count_of_zero_fails(cfg, operation, path):
    service, req = _request(operation)
    node = req
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = 0
    found = problems(service, operation, req)
    assert any(f"{path[-1]}: 0 < 1" in p for p in found), found


def test_an_enum_and_a_pattern_are_checked(cfg):
    service, req = _request("CreateHyperParameterTuningJob")
    req["HyperParameterTuningJobConfig"]["Strategy"] = "NotAStrategy"
    req["TrainingJobDefinition"]["RoleArn"] = "mlpipe-training-role"
    found = problems(service, "CreateHyperParameterTuningJob", req)
    assert any("'NotAStrategy' not in" in p for p in found) and any("does not match" in p for p in found), found


@pytest.mark.parametrize(("operation", "drop"), [
    ("CreateProcessingJob", ("ProcessingResources", "ClusterConfig", "VolumeKmsKeyId")),  # ml.m5: EBS
    ("CreateTransformJob", ("TransformResources", "VolumeKmsKeyId")),
    ("CreateHyperParameterTuningJob", ("TrainingJobDefinition", "OutputDataConfig", "KmsKeyId")),
    ("CreateHyperParameterTuningJob", ("TrainingJobDefinition", "VpcConfig")),
    ("CreateHyperParameterTuningJob", ("TrainingJobDefinition", "EnableInterContainerTrafficEncryption")),
    ("CreateProcessingJob", ("NetworkConfig", "EnableNetworkIsolation")),
    ("CreateModel", ("EnableNetworkIsolation",)),
    ("CreateModel", ("ExecutionRoleArn",)),
    ("CreateEndpointConfig", ("DataCaptureConfig", "KmsKeyId")),
    ("CreateTransformJob", ("TransformOutput", "KmsKeyId")),
    ("RunJobFlow", ("SecurityConfiguration",)),
    ("RunJobFlow", ("LogEncryptionKmsKeyId",)),
    ("StartQueryExecution", ("ResultConfiguration", "EncryptionConfiguration")),
])
def test_a_request_without_a_configured_security_setting_fails(cfg, operation, drop):
    service, req = _request(operation)
    node = req
    for key in drop[:-1]:
        node = node[key]
    assert drop[-1] in node
    del node[drop[-1]]
    found = security_problems(service, operation, req, cfg)
    assert any(f".{drop[-1]}: missing" in p for p in found), found


def test_a_security_setting_other_than_the_configured_one_fails(cfg):
    service, req = _request("CreateProcessingJob")
    req["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] = "arn:aws:kms:us-east-1:123456789012:key/other"
    found = security_problems(service, "CreateProcessingJob", req, cfg)
    assert any("VolumeKmsKeyId" in p for p in found), found
    service, req = _request("CreateHyperParameterTuningJob")
    req["TrainingJobDefinition"]["OutputDataConfig"]["KmsKeyId"] = "arn:aws:kms:us-east-1:123456789012:key/other"
    req["TrainingJobDefinition"]["VpcConfig"]["Subnets"] = ["subnet-0ffffffffffffffff"]
    found = security_problems(service, "CreateHyperParameterTuningJob", req, cfg)
    assert any("KmsKeyId" in p for p in found) and any("VpcConfig" in p for p in found), found


@pytest.mark.parametrize(("operation", "path", "instance_type"), [
    ("CreateHyperParameterTuningJob", ("TrainingJobDefinition", "ResourceConfig"), None),  # ml.g5 as configured
    ("CreateProcessingJob", ("ProcessingResources", "ClusterConfig"), "ml.g5.xlarge"),
    ("CreateTransformJob", ("TransformResources",), "ml.g4dn.xlarge"),
])
def test_a_volume_kms_key_on_a_local_storage_instance_fails(cfg, operation, path, instance_type):
    """SageMaker refuses a VolumeKmsKeyId for an instance type with local storage; the check says so, and does
    not ask for one there."""
    service, req = _request(operation)
    node = req
    for key in path:
        node = node[key]
    if instance_type:
        node["InstanceType"] = instance_type
        node.pop("VolumeKmsKeyId")
    assert "VolumeKmsKeyId" not in node and not security_problems(service, operation, req, cfg)
    assert not [p for p in problems(service, operation, req) if "VolumeKmsKeyId" in p]
    node["VolumeKmsKeyId"] = sorted(configured_kms_keys(cfg))[0]
    found = problems(service, operation, req)
    assert any("VolumeKmsKeyId: SageMaker refuses" in p for p in found), found


def test_an_endpoint_config_kms_key_on_a_local_storage_variant_fails(cfg):
    service, req = _request("CreateEndpointConfig")
    assert req["KmsKeyId"] and not problems(service, "CreateEndpointConfig", req)
    req["ProductionVariants"][0]["InstanceType"] = "ml.g5.xlarge"
    found = problems(service, "CreateEndpointConfig", req)
    assert any("CreateEndpointConfig.KmsKeyId: SageMaker refuses" in p for p in found), found
    del req["KmsKeyId"]
    assert not security_problems(service, "CreateEndpointConfig", req, cfg)


def test_an_unclassified_security_member_fails():
    """CreateTrainingJob is sent by no DAG: its security members not excused or checked are reported."""
    from botocore_shapes import SECURITY_NAME, input_shape
    from mlpipe.config import load_config

    cfg = load_config("aws-dev")
    assert SECURITY_NAME.search("RetentionKmsKeyId") and not SECURITY_NAME.search("InstanceCount")
    req = {"TrainingJobName": "x", "AlgorithmSpecification": {"TrainingInputMode": "File"}, "RoleArn": "r",
           "OutputDataConfig": {"S3OutputPath": "s3://b/"}, "ResourceConfig": {"VolumeSizeInGB": 1},
           "StoppingCondition": {}, "RemoteDebugConfig": {}}
    assert input_shape("sagemaker", "CreateTrainingJob")
    found = security_problems("sagemaker", "CreateTrainingJob", req, cfg)
    assert any("VolumeKmsKeyId: missing" in p for p in found)
    assert any("RoleArn: 'r' is not a configured role" in p for p in found), found


def test_a_provider_operator_without_a_builder_fails():
    from airflow.providers.amazon.aws.operators.s3 import S3DeleteBucketOperator

    with pytest.raises(KeyError, match="no request builder"):
        requests_of(S3DeleteBucketOperator(task_id="x", bucket_name="b"))
