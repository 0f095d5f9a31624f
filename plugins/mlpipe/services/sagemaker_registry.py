"""The model registry service on SageMaker Model Registry, through the Amazon provider's ``SageMakerHook``.

A model package group's versions are SageMaker model packages. What :class:`ModelPackage` carries comes from
DescribeModelPackage: the ARN SageMaker gives (never built here), ``ModelApprovalStatus``, the model artifact
(``InferenceSpecification.Containers[0].ModelDataUrl``) and ``CustomerMetadataProperties`` (the metadata:
``tuning_job_name``, the metrics as numbers in text, ``ds``, ``lineage_uri``, ``report_uri``,
``best_training_job``), which is what ml_training's register operator writes. The lineage record itself stays
in the lake (``lineage_uri``); a package's ``lineage`` is ``{"uri": lineage_uri}``. SageMaker keeps no history
of status changes: ``history`` holds the last one (``LastModifiedTime`` and ``ApprovalDescription``).

The state machine is the local registry's (:mod:`mlpipe.services.registry`): Rejected is final, setting the
status a version has is a no-op, and registering again for a tuning job returns its version.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlpipe.defaults import SAGEMAKER_SERVING_PROGRAM, SAGEMAKER_SERVING_SUBMIT_DIRECTORY
from mlpipe.errors import ConfigError, MlPipeError
from mlpipe.services.registry import (
    ApprovalStatus,
    ModelPackage,
    approval_status,
    check_group,
    check_transition,
    initial_status,
    missing_version_error,
    not_deployable_error,
)

if TYPE_CHECKING:
    from mlpipe.config import PipelineConfig

log = logging.getLogger(__name__)

# CustomerMetadataProperties that are not metrics (the rest that parse as numbers are)
META_TUNING_JOB = "tuning_job_name"
META_BEST_TRAINING_JOB = "best_training_job"
META_DS = "ds"
META_LINEAGE_URI = "lineage_uri"
META_REPORT_URI = "report_uri"
NOT_METRICS = frozenset({META_TUNING_JOB, META_BEST_TRAINING_JOB, META_DS, META_LINEAGE_URI, META_REPORT_URI})
METADATA_VALUE_MAX = 256          # CustomerMetadataProperties: values of at most 256 characters
APPROVAL_DESCRIPTION_MAX = 1024


def inference_specification(cfg: PipelineConfig) -> dict[str, Any]:
    """CreateModelPackage's ``InferenceSpecification`` without the model (``register`` adds ``ModelDataUrl``):
    the training image serving through the project's handler, with the content types it accepts and answers."""
    from mlpipe.config.deployment import CONTENT_TYPES

    return {"Containers": [{"Image": cfg.training.sagemaker.image_uri,
                            "Environment": {"SAGEMAKER_PROGRAM": SAGEMAKER_SERVING_PROGRAM,
                                            "SAGEMAKER_SUBMIT_DIRECTORY": SAGEMAKER_SERVING_SUBMIT_DIRECTORY}}],
            "SupportedContentTypes": list(CONTENT_TYPES),
            "SupportedResponseMIMETypes": sorted(CONTENT_TYPES)}


def approve_command(arn: str) -> str:
    return f"`aws sagemaker update-model-package --model-package-arn {arn} --model-approval-status Approved`"


def registered_for(described: Mapping[str, Any], tuning_job_name: str) -> bool:
    """Whether a described package came from ``tuning_job_name``: its metadata says so, or its description
    ("... tuning job <name>", how versions registered before the metadata were found)."""
    if (described.get("CustomerMetadataProperties") or {}).get(META_TUNING_JOB) == tuning_job_name:
        return True
    pattern = rf"tuning job {re.escape(tuning_job_name)}(?![\w-])"
    return re.search(pattern, described.get("ModelPackageDescription") or "") is not None


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value or "")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def model_package(described: Mapping[str, Any]) -> ModelPackage:
    """A DescribeModelPackage answer as a :class:`ModelPackage`."""
    meta = dict(described.get("CustomerMetadataProperties") or {})
    metrics = {k: n for k, v in meta.items() if k not in NOT_METRICS and (n := _number(v)) is not None}
    containers = (described.get("InferenceSpecification") or {}).get("Containers") or [{}]
    status = ApprovalStatus(described.get("ModelApprovalStatus") or ApprovalStatus.PENDING)
    history = []
    if described.get("LastModifiedTime"):
        history.append({"status": str(status), "at": _iso(described["LastModifiedTime"]),
                        "reason": described.get("ApprovalDescription") or ""})
    return ModelPackage(
        group=described["ModelPackageGroupName"], version=int(described["ModelPackageVersion"]), status=status,
        arn=described["ModelPackageArn"], model_uri=containers[0].get("ModelDataUrl", ""),
        tuning_job_name=meta.get(META_TUNING_JOB, ""), metrics=metrics,
        lineage={"uri": meta[META_LINEAGE_URI]} if meta.get(META_LINEAGE_URI) else {},
        description=described.get("ModelPackageDescription") or "", created_at=_iso(described.get("CreationTime")),
        history=history, metadata=meta)


def customer_metadata(tuning_job_name: str, metrics: Mapping[str, float],
                      lineage: Mapping[str, Any]) -> dict[str, str]:
    """CreateModelPackage's ``CustomerMetadataProperties``, as ml_training's register operator writes them:
    the tuning job, each metric, and from ``lineage`` its ``ds``, ``uri`` (the lineage record),
    ``report_uri`` and best trial's name. The rest of the lineage stays in the record (values are short)."""
    meta = {META_TUNING_JOB: tuning_job_name, **{k: repr(float(v)) for k, v in metrics.items()}}
    best = (lineage.get("best_trial") or {}).get("name")
    for key, value in ((META_DS, lineage.get("ds")), (META_LINEAGE_URI, lineage.get("uri")),
                       (META_REPORT_URI, lineage.get("report_uri")), (META_BEST_TRAINING_JOB, best)):
        if value:
            meta[key] = str(value)
    too_long = sorted(k for k, v in meta.items() if len(v) > METADATA_VALUE_MAX)
    if too_long:
        raise MlPipeError(f"CustomerMetadataProperties {too_long} are longer than {METADATA_VALUE_MAX} characters "
                          f"(SageMaker's limit): shorten the tuning job name or the lake's URIs")
    return meta


class SageMakerModelRegistry:
    """SageMaker Model Registry through ``hook`` (a ``SageMakerHook``); ``inference_specification`` is what
    :func:`inference_specification` builds (the model's URI is added per version)."""

    def __init__(self, hook: Any, inference_specification: Mapping[str, Any], group_description: str = "") -> None:
        self.hook = hook
        self.inference_specification = dict(inference_specification)
        self.group_description = group_description

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> SageMakerModelRegistry:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        if cfg.aws is None:
            raise ConfigError(f"the SageMaker model registry needs the 'aws' section (stack '{cfg.stack}'); the "
                              f"local stack registers in the local registry")
        return cls(SageMakerHook(aws_conn_id=cfg.aws.conn_id, region_name=cfg.aws.region),
                   inference_specification(cfg),
                   f"mlpipe {cfg.environment}: {cfg.features.gold.name} -> {cfg.training.label}")

    @property
    def client(self) -> Any:
        return self.hook.conn

    # ---- reading -----------------------------------------------------------------------------------------------

    def _summaries(self, group: str, **filters: Any) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group, **filters)
        return [s for page in pages for s in page.get("ModelPackageSummaryList", [])]

    def _describe(self, arn: str) -> dict[str, Any]:
        return self.client.describe_model_package(ModelPackageName=arn)

    def list(self, group: str) -> list[ModelPackage]:
        """Every version of ``group``, oldest first (an unknown group has none)."""
        check_group(group)
        packages = [model_package(self._describe(s["ModelPackageArn"])) for s in self._summaries(group)]
        return sorted(packages, key=lambda p: p.version)

    def get(self, group: str, version: int) -> ModelPackage:
        check_group(group)
        summaries = self._summaries(group)
        for summary in summaries:
            if int(summary.get("ModelPackageVersion", 0)) == version:
                return model_package(self._describe(summary["ModelPackageArn"]))
        raise missing_version_error(group, version, sorted(int(s.get("ModelPackageVersion", 0)) for s in summaries))

    def get_by_arn(self, arn: str) -> ModelPackage:
        """DescribeModelPackage of ``arn`` (one request: what an endpoint's model names)."""
        from botocore.exceptions import ClientError

        try:
            return model_package(self._describe(arn))
        except ClientError as exc:
            raise MlPipeError(f"model package {arn} cannot be described: {exc}") from None

    def find(self, group: str, tuning_job_name: str) -> ModelPackage | None:
        """The version registered from ``tuning_job_name`` (its metadata, or "tuning job <name>" in its
        description), if any."""
        check_group(group)
        for summary in sorted(self._summaries(group), key=lambda s: int(s.get("ModelPackageVersion", 0))):
            described = self._describe(summary["ModelPackageArn"])
            if registered_for(described, tuning_job_name):
                return model_package(described)
        return None

    def newest_approved(self, group: str) -> ModelPackage | None:
        """The newest Approved version (the champion), or None."""
        check_group(group)
        newest = self.client.list_model_packages(
            ModelPackageGroupName=group, ModelApprovalStatus=str(ApprovalStatus.APPROVED), SortBy="CreationTime",
            SortOrder="Descending", MaxResults=1).get("ModelPackageSummaryList", [])
        return model_package(self._describe(newest[0]["ModelPackageArn"])) if newest else None

    def require_deployable(self, group: str, version: int | None = None) -> ModelPackage:
        """``version`` (default: the newest Approved one) if it is Approved; else :class:`MlPipeError`."""
        if version is None:
            package = self.newest_approved(group)
            if package is None:
                raise MlPipeError(
                    f"model package group '{group}' has no Approved version to deploy; approve one with "
                    f"{approve_command('<its ModelPackageArn>')} (`aws sagemaker list-model-packages "
                    f"--model-package-group-name {group}` lists the versions and their ARNs)")
            return package
        package = self.get(group, version)
        if not package.deployable:
            raise not_deployable_error(package, approve_command(package.arn))
        return package

    # ---- writing -----------------------------------------------------------------------------------------------

    def register(self, group: str, *, model_uri: str, tuning_job_name: str,
                 metrics: Mapping[str, float] | None = None, lineage: Mapping[str, Any] | None = None,
                 approval_status: ApprovalStatus | str = ApprovalStatus.PENDING,
                 description: str = "") -> ModelPackage:
        """CreateModelPackage in ``group`` (created if new), or the version ``tuning_job_name`` registered before.

        ``lineage`` gives the metadata its ``ds``, ``uri``, ``report_uri``, ``best_trial.name``, and the
        package's ``ModelMetrics`` its ``evaluation_uri``.
        """
        check_group(group)
        if not tuning_job_name:
            raise MlPipeError("tuning_job_name is required: it makes a retried registration find its version")
        status = initial_status(approval_status)
        lineage = lineage or {}
        meta = customer_metadata(tuning_job_name, metrics or {}, lineage)
        existing = self.find(group, tuning_job_name)
        if existing is not None:
            log.info("%s version %d was registered from tuning job %s before: reusing it",
                     group, existing.version, tuning_job_name)
            return existing
        self.hook.create_model_package_group(group, self.group_description)   # when missing
        spec = copy.deepcopy(self.inference_specification)
        for container in spec["Containers"]:
            container["ModelDataUrl"] = model_uri
        request: dict[str, Any] = {
            "ModelPackageGroupName": group, "ModelApprovalStatus": str(status), "InferenceSpecification": spec,
            "CustomerMetadataProperties": meta}
        if description:
            request["ModelPackageDescription"] = description
        if lineage.get("evaluation_uri"):
            request["ModelMetrics"] = {"ModelQuality": {"Statistics": {
                "ContentType": "application/json", "S3Uri": lineage["evaluation_uri"]}}}
        arn = self.client.create_model_package(**request)["ModelPackageArn"]
        package = model_package(self._describe(arn))
        log.info("registered %s version %d (%s) from tuning job %s", group, package.version, status, tuning_job_name)
        return package

    def set_status(self, group: str, version: int, status: ApprovalStatus | str, *, by: str | None = None,
                   reason: str = "") -> ModelPackage:
        """UpdateModelPackage to ``status`` if the state machine allows it; ``ApprovalDescription`` carries the
        reason (and who, when given)."""
        target = approval_status(status)
        package = self.get(group, version)
        if package.status is target:
            return package
        check_transition(package, target)
        request: dict[str, Any] = {"ModelPackageArn": package.arn, "ModelApprovalStatus": str(target)}
        note = f"{by}: {reason}" if by and reason else (by or reason)
        if note:
            request["ApprovalDescription"] = note[:APPROVAL_DESCRIPTION_MAX]
        if package.metadata:
            # the same properties again: SageMaker keeps them anyway; moto drops what an update leaves out
            request["CustomerMetadataProperties"] = package.metadata
        self.client.update_model_package(**request)
        log.info("%s version %d: %s -> %s (%s)", group, version, package.status, target, note or "no reason given")
        return self.get(group, version)
