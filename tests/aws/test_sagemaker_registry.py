"""SageMakerModelRegistry's own behaviour on the moto server (the shared contract:
tests/aws/test_sagemaker_registry_contract.py): what CreateModelPackage receives, versions registered by
ml_training's operator, the approve command its error gives, what UpdateModelPackage keeps.

moto (5.2.5) keeps model packages as SageMaker does for what is used here, with two differences: an
UpdateModelPackage without CustomerMetadataProperties drops them (SageMaker keeps them; the registry sends them
again) and CreateModelPackageGroup on an existing group replaces it silently (SageMaker answers "Model Package
Group already exists", which the provider's hook treats as done).
"""

from __future__ import annotations

import itertools
import re

import pytest
from mlpipe.errors import ConfigError, MlPipeError
from mlpipe.services.registry import ApprovalStatus
from mlpipe.services.sagemaker_registry import SageMakerModelRegistry

from tests.aws import moto_harness as h

_groups = itertools.count(1)
LAKE = f"s3://{h.LAKE_BUCKET}/lake"


@pytest.fixture
def cfg(moto_server, monkeypatch):
    from mlpipe.config import load_config

    moto_server.reset()
    for key, value in h.base_env(moto_server).items():
        monkeypatch.setenv(key, value)
    return load_config()


@pytest.fixture
def registry(cfg) -> SageMakerModelRegistry:
    return SageMakerModelRegistry.from_config(cfg)


@pytest.fixture
def sm(moto_server):
    return h.client(moto_server, "sagemaker")


@pytest.fixture
def group() -> str:
    return f"churn-sm-{next(_groups)}"


def operator_version(sm, group: str, *, description: str, metadata: dict[str, str] | None = None,
                     status: str = "PendingManualApproval") -> str:
    """A version as ml_training's register operator creates it (the harness's client, not the registry)."""
    request = {"ModelPackageGroupName": group, "ModelApprovalStatus": status, "ModelPackageDescription": description,
               "InferenceSpecification": {"Containers": [{"Image": "image:1", "ModelDataUrl": f"{LAKE}/m.tar.gz"}],
                                          "SupportedContentTypes": ["text/csv"],
                                          "SupportedResponseMIMETypes": ["text/csv"]}}
    if metadata:
        request["CustomerMetadataProperties"] = metadata
    return sm.create_model_package(**request)["ModelPackageArn"]


def test_register_sends_what_ml_trainings_operator_sends(registry, cfg, sm, group):
    from mlpipe.stacks.aws.training import inference_specification

    model_uri = f"{LAKE}/training/{group}/dt=2026-11-01/tuning/best/output/model.tar.gz"
    lineage = {"ds": "2026-11-01", "uri": f"{LAKE}/training/{group}/dt=2026-11-01/lineage.json",
               "report_uri": f"{LAKE}/reports/dt=2026-11-01/report.html",
               "evaluation_uri": f"{LAKE}/training/{group}/dt=2026-11-01/evaluation/evaluation.json",
               "best_trial": {"name": "hpo-x-003-abc"}, "data": {"gold_files": ["a"] * 500}}
    package = registry.register(group, model_uri=model_uri, tuning_job_name="hpo-x",
                                metrics={"test_auc": 0.91, "validation:auc": 0.875}, lineage=lineage,
                                approval_status="PendingManualApproval", description="ml_training dt=2026-11-01")
    described = sm.describe_model_package(ModelPackageName=package.arn)
    assert described["InferenceSpecification"] == {   # the image's script mode on the handler model.tar.gz ships
        "Containers": [{"Image": cfg.training.sagemaker.image_uri, "ModelDataUrl": model_uri,
                        "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}}],
        "SupportedContentTypes": ["text/csv", "application/json"],
        "SupportedResponseMIMETypes": ["application/json", "text/csv"]}
    assert described["InferenceSpecification"] == inference_specification(cfg, model_uri)   # what ml_training sends
    assert described["CustomerMetadataProperties"] == {
        "tuning_job_name": "hpo-x", "test_auc": "0.91", "validation:auc": "0.875", "ds": "2026-11-01",
        "lineage_uri": lineage["uri"], "report_uri": lineage["report_uri"], "best_training_job": "hpo-x-003-abc"}
    assert described["ModelMetrics"] == {"ModelQuality": {"Statistics": {
        "ContentType": "application/json", "S3Uri": lineage["evaluation_uri"]}}}
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelPackageDescription"] == "ml_training dt=2026-11-01"
    assert package.arn == described["ModelPackageArn"] == \
        f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:model-package/{group}/1"
    assert package.model_uri == model_uri and package.tuning_job_name == "hpo-x"
    assert package.metrics == {"test_auc": 0.91, "validation:auc": 0.875}
    assert package.lineage == {"uri": lineage["uri"]} and package.metadata == described["CustomerMetadataProperties"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", package.created_at)
    described_group = sm.describe_model_package_group(ModelPackageGroupName=group)   # created when missing
    assert described_group["ModelPackageGroupDescription"] == \
        f"mlpipe {cfg.environment}: {cfg.features.gold.name} -> {cfg.training.label}"


def test_versions_the_operator_registered_are_found_by_metadata_or_description(registry, sm, group):
    sm.create_model_package_group(ModelPackageGroupName=group)
    operator_version(sm, group, description="ml_training dt=2026-10-31: tuning job hpo-20")
    operator_version(sm, group, description="ml_training dt=2026-11-01: tuning job hpo-2")
    operator_version(sm, group, description="ml_training dt=2026-11-02",
                     metadata={"tuning_job_name": "hpo-3", "test_auc": "0.9", "ds": "2026-11-02",
                               "best_training_job": "7", "note": "kept"})
    assert registry.find(group, "hpo-2").version == 2          # not hpo-20's version 1
    assert registry.find(group, "hpo-20").version == 1 and registry.find(group, "hpo") is None
    third = registry.find(group, "hpo-3")
    assert third.version == 3 and third.metrics == {"test_auc": 0.9}   # ds, best_training_job, note: no metrics
    assert third.metadata["note"] == "kept" and third.lineage == {}
    again = registry.register(group, model_uri=f"{LAKE}/other.tar.gz", tuning_job_name="hpo-2")
    assert again.version == 2 and len(registry.list(group)) == 3


def test_the_error_gives_the_command_that_approves_the_version(registry, sm, group):
    registry.register(group, model_uri=f"{LAKE}/m.tar.gz", tuning_job_name="hpo-a")
    with pytest.raises(MlPipeError, match="has no Approved version to deploy; approve one with `aws sagemaker "
                                          "update-model-package --model-package-arn") as none:
        registry.require_deployable(group)
    assert f"`aws sagemaker list-model-packages --model-package-group-name {group}`" in str(none.value)
    with pytest.raises(MlPipeError) as pending:
        registry.require_deployable(group, 1)
    command = re.search(r"`aws sagemaker update-model-package --model-package-arn (\S+) "
                        r"--model-approval-status (\w+)`", str(pending.value))
    assert command and command[1] == registry.get(group, 1).arn
    sm.update_model_package(ModelPackageArn=command[1], ModelApprovalStatus=command[2])   # what a person runs
    assert registry.require_deployable(group).version == 1 == registry.require_deployable(group, 1).version


def test_set_status_records_the_reason_and_keeps_the_metadata(registry, sm, group):
    package = registry.register(group, model_uri=f"{LAKE}/m.tar.gz", tuning_job_name="hpo-a",
                                metrics={"test_auc": 0.8}, lineage={"ds": "2026-11-01"})
    approved = registry.set_status(group, 1, "Approved", by="alice", reason="beats baseline")
    described = sm.describe_model_package(ModelPackageName=package.arn)
    assert described["ModelApprovalStatus"] == "Approved" and described["ApprovalDescription"] == "alice: beats baseline"
    assert described["CustomerMetadataProperties"] == package.metadata
    assert approved.history[-1]["reason"] == "alice: beats baseline" and approved.status is ApprovalStatus.APPROVED
    assert registry.find(group, "hpo-a") == approved                        # still found by its metadata
    registry.set_status(group, 1, "Rejected", reason="rollback")
    assert sm.describe_model_package(ModelPackageName=package.arn)["ApprovalDescription"] == "rollback"


def test_metadata_sagemaker_would_refuse_is_refused_before_any_request(registry, group):
    with pytest.raises(MlPipeError, match=r"CustomerMetadataProperties \['lineage_uri'\] are longer than 256"):
        registry.register(group, model_uri=f"{LAKE}/m.tar.gz", tuning_job_name="hpo-a",
                          lineage={"uri": f"{LAKE}/{'x' * 300}"})
    assert registry.list(group) == []


def test_the_sagemaker_registry_needs_the_aws_section():
    from mlpipe.config import load_config

    with pytest.raises(ConfigError, match="needs the 'aws' section"):
        SageMakerModelRegistry.from_config(load_config("local", environ={}))


def test_registry_for_the_aws_stack_is_sagemakers(cfg, sm, group):
    from mlpipe.services import registry_for

    registry = registry_for(cfg)
    assert isinstance(registry, SageMakerModelRegistry)
    sm.create_model_package_group(ModelPackageGroupName=group)
    arn = operator_version(sm, group, description="tuning job hpo-a", status="Approved")
    assert registry.newest_approved(group).arn == arn
