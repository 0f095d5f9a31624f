"""The model registry service: SageMaker Model Registry semantics on both stacks.

One :class:`ModelPackage` type; :class:`ModelRegistry` is what every task body uses (register, get, the
newest Approved version, set a status). Behind it: the local MLflow-backed registry
(:mod:`mlpipe.services.local_registry`) and SageMaker's (:mod:`mlpipe.services.sagemaker_registry`).

Statuses: ``PendingManualApproval`` when registered (``Approved`` with auto-approve), then ``Approved`` or
``Rejected``; an ``Approved`` version can still be ``Rejected`` (a rollback); ``Rejected`` is final. Setting
the status a version has is a no-op. Only ``Approved`` versions are deployable. Both registries keep these
rules through the functions below (:func:`check_transition`, :func:`initial_status`...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from mlpipe.errors import MlPipeError

GROUP_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")   # ModelPackageGroupName


class ApprovalStatus(StrEnum):
    """SageMaker's ``ModelApprovalStatus``."""

    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


@dataclass(frozen=True)
class ModelPackage:
    """One version of a model package group (SageMaker: DescribeModelPackage)."""

    group: str
    version: int
    status: ApprovalStatus
    arn: str
    model_uri: str
    tuning_job_name: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    created_at: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def deployable(self) -> bool:
        return self.status is ApprovalStatus.APPROVED

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "version": self.version, "status": str(self.status), "arn": self.arn,
                "model_uri": self.model_uri, "tuning_job_name": self.tuning_job_name, "metrics": self.metrics,
                "lineage": self.lineage, "description": self.description, "created_at": self.created_at,
                "history": self.history, "metadata": self.metadata, "deployable": self.deployable}


# ---- the rules both registries keep ---------------------------------------------------------------------------

ALLOWED: dict[ApprovalStatus, frozenset[ApprovalStatus]] = {
    ApprovalStatus.PENDING: frozenset({ApprovalStatus.APPROVED, ApprovalStatus.REJECTED}),
    ApprovalStatus.APPROVED: frozenset({ApprovalStatus.REJECTED}),
    ApprovalStatus.REJECTED: frozenset(),
}


def check_group(group: str) -> None:
    """MlPipeError unless ``group`` is a valid ModelPackageGroupName."""
    if not GROUP_PATTERN.match(group or ""):
        raise MlPipeError(f"model package group {group!r}: 1-63 letters, digits and single hyphens "
                          f"(SageMaker's ModelPackageGroupName)")


def approval_status(value: ApprovalStatus | str) -> ApprovalStatus:
    """``value`` as an ApprovalStatus; MlPipeError naming the statuses there are otherwise."""
    try:
        return ApprovalStatus(value)
    except ValueError:
        raise MlPipeError(f"unknown approval status {value!r}; use one of {[str(s) for s in ApprovalStatus]}") from None


def initial_status(value: ApprovalStatus | str) -> ApprovalStatus:
    """The status a new version starts with: PendingManualApproval or Approved (auto-approve)."""
    status = approval_status(value)
    if status is ApprovalStatus.REJECTED:
        raise MlPipeError("a new version starts as PendingManualApproval or Approved, not Rejected")
    return status


def check_transition(package: ModelPackage, target: ApprovalStatus) -> None:
    """MlPipeError unless the state machine lets ``package`` go to ``target`` (the same status is allowed)."""
    if package.status is target or target in ALLOWED[package.status]:
        return
    where = f"version {package.version} of '{package.group}' from {package.status} to {target}"
    allowed = sorted(str(s) for s in ALLOWED[package.status])
    if allowed:
        raise MlPipeError(f"cannot change {where}; from {package.status} it can only go to {allowed}")
    raise MlPipeError(f"cannot change {where}: {package.status} is final; register a new version instead")


def not_deployable_error(package: ModelPackage, how_to_approve: str) -> MlPipeError:
    """Why ``package`` (not Approved) cannot be deployed, and what to do."""
    return MlPipeError(
        f"version {package.version} of '{package.group}' is {package.status}, and only Approved versions are "
        f"deployable" + (f"; approve it first ({how_to_approve})" if package.status is ApprovalStatus.PENDING
                         else "; Rejected is final, register a new version"))


def missing_version_error(group: str, version: int, known: list[int]) -> MlPipeError:
    return MlPipeError(f"model package group '{group}' has no version {version}"
                       + (f"; its versions are {known}" if known else " (it has no versions)"))


class ModelRegistry(Protocol):
    def register(self, group: str, *, model_uri: str, tuning_job_name: str, metrics: Mapping[str, float],
                 lineage: Mapping[str, Any], approval_status: ApprovalStatus | str,
                 description: str = "") -> ModelPackage:
        """A new version (idempotent: the version already registered for ``tuning_job_name`` is returned)."""
        ...

    def get(self, group: str, version: int) -> ModelPackage:
        """The version; MlPipeError naming the versions there are when it does not exist."""
        ...

    def find(self, group: str, tuning_job_name: str) -> ModelPackage | None:
        """The version registered for a tuning job, or None."""
        ...

    def get_by_arn(self, arn: str) -> ModelPackage:
        """The version whose ARN is ``arn`` (what an endpoint serves); MlPipeError when there is none."""
        ...

    def list(self, group: str) -> list[ModelPackage]:
        """Every version of the group, oldest first (empty when the group does not exist)."""
        ...

    def newest_approved(self, group: str) -> ModelPackage | None:
        """The newest Approved version (the champion), or None."""
        ...

    def require_deployable(self, group: str, version: int | None = None) -> ModelPackage:
        """The Approved version ``version`` (None: the newest); MlPipeError saying what to do otherwise."""
        ...

    def set_status(self, group: str, version: int, status: ApprovalStatus | str, *, by: str | None = None,
                   reason: str = "") -> ModelPackage:
        """Approve or reject (a no-op when it has that status already); MlPipeError for a change not allowed."""
        ...
