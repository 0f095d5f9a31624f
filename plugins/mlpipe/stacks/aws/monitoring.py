"""AWS stack: which model package is serving (ml_monitoring), and its model artifact from S3.

The endpoint (``deployment.endpoint_name``) -> its EndpointConfig -> the production variant's Model -> the
model package it was created from (``Containers[0].ModelPackageName``, as ml_deployment creates it); without
an endpoint (``deployment.mode: batch``, or not deployed yet) the newest Approved package of the group. The
package's ``ModelDataUrl`` (``model.tar.gz``) is downloaded through the stack's storage and unpacked into
``workdir``, where ``baseline.json`` and ``feature_schema.json`` sit beside the model.
"""

from __future__ import annotations

import logging
import tarfile
from pathlib import Path
from typing import Any

from mlpipe.config import PipelineConfig
from mlpipe.errors import MlPipeError

log = logging.getLogger(__name__)


def _client(cfg: PipelineConfig) -> Any:
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    return SageMakerHook(aws_conn_id=cfg.aws.conn_id, region_name=cfg.aws.region).get_conn()  # type: ignore[union-attr]


def endpoint_package_arn(sm: Any, endpoint_name: str) -> str | None:
    """The model package ARN behind ``endpoint_name``'s first production variant, or None (no such endpoint)."""
    from botocore.exceptions import ClientError

    try:
        ep = sm.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ValidationException", "ResourceNotFound"):
            return None
        raise
    config = sm.describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])
    model_name = config["ProductionVariants"][0]["ModelName"]
    model = sm.describe_model(ModelName=model_name)
    containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
    return containers[0].get("ModelPackageName")


def serving_model(cfg: PipelineConfig, workdir: Path) -> dict[str, Any]:
    from mlpipe.stacks import get_stack

    group = cfg.training.registry.model_package_group
    sm = _client(cfg)
    arn = endpoint_package_arn(sm, cfg.deployment.endpoint_name) if cfg.deployment.endpoint else None
    source = f"endpoint {cfg.deployment.endpoint_name}"
    if arn is None:
        found = sm.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                                       SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
        items = found.get("ModelPackageSummaryList") or []
        if not items:
            raise MlPipeError(f"no model is serving: endpoint {cfg.deployment.endpoint_name} does not exist and model "
                              f"package group '{group}' has no Approved version; run ml_training and ml_deployment")
        arn, source = items[0]["ModelPackageArn"], f"newest Approved package of {group} (no endpoint)"
    desc = sm.describe_model_package(ModelPackageName=arn)
    meta = desc.get("CustomerMetadataProperties") or {}
    model_uri = (desc.get("InferenceSpecification", {}).get("Containers") or [{}])[0].get("ModelDataUrl")
    if not model_uri:
        raise MlPipeError(f"model package {arn} has no ModelDataUrl; register it with the model artifact")
    storage = get_stack(cfg).storage()
    tar_path = workdir / "model.tar.gz"
    storage.download(model_uri, str(tar_path))
    model_dir = workdir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path) as tar:
        tar.extractall(model_dir, filter="data")
    if not (model_dir / "baseline.json").is_file():
        raise MlPipeError(f"{model_uri} holds no baseline.json: the model was trained before the baseline existed; "
                          f"retrain it with include/training/train.py")
    lineage: dict[str, Any] = {}
    if meta.get("lineage_uri"):
        try:
            lineage = storage.read_json(meta["lineage_uri"])
        except Exception as exc:  # noqa: BLE001 - the lineage only adds the feature-config comparison
            log.warning("cannot read the lineage %s: %s", meta["lineage_uri"], exc)
    auc = meta.get("test_auc")
    return {"group": group, "version": int(desc.get("ModelPackageVersion", 0)), "arn": arn, "source": source,
            "model_dir": str(model_dir), "model_uri": model_uri, "tuning_job_name": meta.get("tuning_job_name", ""),
            "test_auc": float(auc) if auc not in (None, "", "None") else None,
            "trained_ds": meta.get("ds") or lineage.get("ds"), "feature_spec_uri": lineage.get("feature_job_spec_uri")}
