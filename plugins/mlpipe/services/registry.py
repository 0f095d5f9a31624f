"""The model registry service: SageMaker Model Registry semantics on both stacks.

One :class:`ModelPackage` type; :class:`ModelRegistry` is what every task body uses (register, get, the
newest Approved version, set a status). Behind it: the local MLflow-backed registry
(:mod:`mlpipe.services.local_registry`) and SageMaker's (:mod:`mlpipe.services.sagemaker_registry`).

Statuses: ``PendingManualApproval`` when registered (``Approved`` with auto-approve), then ``Approved`` or
``Rejected``; only ``Approved`` versions are deployable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


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
