"""The serving-endpoint service: how a task reaches the endpoint of ``deployment.endpoint_name``.

- ``runtime_client()``: a boto3 ``sagemaker-runtime`` client that reaches it (the smoke test sends through it);
- ``serving_arn()``: the model package ARN behind the endpoint's traffic now, or None (no endpoint).

aws: SageMaker (DescribeEndpoint -> EndpointConfig -> Model -> ``ModelPackageName``); local: the local
endpoint's live state file (:mod:`mlpipe.local.live`).
"""

from __future__ import annotations

from typing import Any, Protocol


class Endpoints(Protocol):
    def runtime_client(self) -> Any: ...

    def serving_arn(self) -> str | None: ...
