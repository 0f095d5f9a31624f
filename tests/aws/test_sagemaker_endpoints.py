"""SageMakerEndpoints on the moto server: the model package behind an endpoint's traffic (DescribeEndpoint ->
EndpointConfig -> Model -> ModelPackageName), None without the endpoint, and a sagemaker-runtime client through
the Airflow connection."""

from __future__ import annotations

import pytest
from mlpipe.errors import ConfigError
from mlpipe.services import endpoints_for
from mlpipe.services.sagemaker_endpoints import SageMakerEndpoints

from tests.aws import moto_harness as h


@pytest.fixture
def cfg(moto_server, monkeypatch):
    from mlpipe.config import load_config

    moto_server.reset()
    for key, value in h.base_env(moto_server).items():
        monkeypatch.setenv(key, value)
    return load_config()


def _package(sm, group: str) -> str:
    return sm.create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": "image:1", "ModelDataUrl": f"s3://{h.LAKE_BUCKET}/m.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]


def _endpoint(sm, cfg, name: str, arn: str) -> None:
    dep = cfg.deployment
    sm.create_model(ModelName=f"{name}-m", Containers=[{"ModelPackageName": arn}], ExecutionRoleArn=dep.execution_role_arn)
    sm.create_endpoint_config(EndpointConfigName=f"{name}-ec", ProductionVariants=[
        {"VariantName": dep.variant_name, "ModelName": f"{name}-m", "InitialInstanceCount": 1,
         "InstanceType": dep.instance_type}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-ec")


def test_serving_arn_follows_the_endpoint_to_its_model_package(cfg, moto_server):
    sm = h.client(moto_server, "sagemaker")
    endpoints = endpoints_for(cfg)
    assert isinstance(endpoints, SageMakerEndpoints) and endpoints.endpoint_name == cfg.deployment.endpoint_name
    assert endpoints.serving_arn() is None  # no endpoint yet
    sm.create_model_package_group(ModelPackageGroupName="churn-ep")
    first, second = _package(sm, "churn-ep"), _package(sm, "churn-ep")
    _endpoint(sm, cfg, cfg.deployment.endpoint_name, second)
    _endpoint(sm, cfg, "another-endpoint", first)
    assert endpoints.serving_arn() == second
    assert SageMakerEndpoints(cfg.aws.conn_id, cfg.aws.region, "another-endpoint").serving_arn() == first


def test_the_runtime_client_is_sagemaker_runtime_of_the_configured_region(cfg):
    client = endpoints_for(cfg).runtime_client()
    assert client.meta.service_model.service_name == "sagemaker-runtime"
    assert client.meta.region_name == cfg.aws.region


def test_the_aws_section_is_required():
    from mlpipe.config import load_config

    with pytest.raises(ConfigError, match="needs the 'aws' section"):
        SageMakerEndpoints.from_config(load_config("local"))
