"""The endpoint service on the aws stack: the SageMaker endpoint of ``deployment.endpoint_name``.

``serving_arn``: DescribeEndpoint -> its EndpointConfig -> the first production variant's Model -> the model
package it was created from (``Containers[0].ModelPackageName``, as ml_deployment creates it); None when there
is no such endpoint. Clients come from the Amazon provider's hooks (the Airflow connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlpipe.errors import ConfigError

if TYPE_CHECKING:
    from mlpipe.config import PipelineConfig

NOT_FOUND_CODES = ("ValidationException", "ResourceNotFound")


def endpoint_package_arn(sm: Any, endpoint_name: str) -> str | None:
    """The model package ARN behind ``endpoint_name``'s first production variant, or None (no such endpoint)."""
    from botocore.exceptions import ClientError

    try:
        ep = sm.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
            return None
        raise
    config = sm.describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
    return containers[0].get("ModelPackageName")


@dataclass(frozen=True)
class SageMakerEndpoints:
    conn_id: str | None
    region: str | None
    endpoint_name: str

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> SageMakerEndpoints:
        if cfg.aws is None:
            raise ConfigError(f"the SageMaker endpoint needs the 'aws' section (stack '{cfg.stack}')")
        return cls(cfg.aws.conn_id, cfg.aws.region, cfg.deployment.endpoint_name)

    def runtime_client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return AwsBaseHook(aws_conn_id=self.conn_id, client_type="sagemaker-runtime",
                           region_name=self.region).get_conn()

    def serving_arn(self) -> str | None:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        return endpoint_package_arn(SageMakerHook(aws_conn_id=self.conn_id, region_name=self.region).get_conn(),
                                    self.endpoint_name)
