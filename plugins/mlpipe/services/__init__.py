"""Run-time services, chosen by the config's stack, with no Airflow operator in them.

- :func:`storage_for`: the lake's objects (:class:`~mlpipe.services.storage.Storage`, ``file://`` or ``s3://``).
- :func:`registry_for`: model versions (:class:`~mlpipe.services.registry.ModelRegistry`, MLflow or SageMaker).
- :func:`endpoints_for`: the serving endpoint (:class:`~mlpipe.services.endpoints.Endpoints`, local or SageMaker).

Task bodies use these and never ask which stack they run on. Each backend is imported when first asked for,
so a local task never imports boto3 and a DAG parse imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlpipe.config import PipelineConfig
    from mlpipe.services.endpoints import Endpoints
    from mlpipe.services.registry import ModelRegistry
    from mlpipe.services.storage import Storage


def storage_for(cfg: PipelineConfig) -> Storage:
    if cfg.stack == "local":
        from mlpipe.services.storage import LocalStorage

        return LocalStorage()
    from mlpipe.services.s3_storage import S3Storage

    assert cfg.aws is not None
    return S3Storage(cfg.aws.conn_id, cfg.aws.region, cfg.aws.kms_key_arn)


def registry_for(cfg: PipelineConfig) -> ModelRegistry:
    if cfg.stack == "local":
        from mlpipe.services.local_registry import LocalModelRegistry

        return LocalModelRegistry.from_config(cfg)
    from mlpipe.services.sagemaker_registry import SageMakerModelRegistry

    return SageMakerModelRegistry.from_config(cfg)


def endpoints_for(cfg: PipelineConfig) -> Endpoints:
    if cfg.stack == "local":
        from mlpipe.services.local_endpoints import LocalEndpoints

        return LocalEndpoints.from_config(cfg)
    from mlpipe.services.sagemaker_endpoints import SageMakerEndpoints

    return SageMakerEndpoints.from_config(cfg)
