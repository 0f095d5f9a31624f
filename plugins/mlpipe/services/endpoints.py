"""The serving-endpoint service: how a task reaches the endpoint of ``deployment.endpoint_name``.

- ``runtime_client()``: a boto3 ``sagemaker-runtime`` client that reaches it (the smoke test sends through it);
- ``serving_arn()``: the model package ARN behind the endpoint's traffic now, or None (no endpoint).

aws: SageMaker (DescribeEndpoint -> EndpointConfig -> Model -> ``ModelPackageName``); local: the local
endpoint's live state file (:mod:`mlpipe.services.local_endpoints`, which the blue/green switch of
:mod:`mlpipe.local.blue_green` writes). :mod:`mlpipe.services.endpoint_smoke_test` checks what an endpoint answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mlpipe.config import PipelineConfig


class Endpoints(Protocol):
    def runtime_client(self) -> Any: ...

    def serving_arn(self) -> str | None: ...


def capture_root(cfg: PipelineConfig) -> str:
    """Where the endpoint captures requests and responses (SageMaker's DestinationS3Uri; the local endpoint's
    capture folder): ``deployment.data_capture.destination``, else ``<lake>/capture``; files land in
    ``<root>/<endpoint>/<variant>/YYYY/MM/DD/HH/``."""
    from mlpipe.lake import LakeLayout

    return cfg.deployment.data_capture.destination or LakeLayout.from_config(cfg).capture()
