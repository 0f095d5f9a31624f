"""The local model registry: SageMaker Model Registry semantics on MLflow's model registry (SQLite).

- A **model package group** (MLflow: a registered model) holds **versions** 1..n (MLflow: model versions).
- Each version has a ``ModelApprovalStatus``: ``PendingManualApproval`` when registered (or ``Approved``
  with auto-approve), then ``Approved`` or ``Rejected``; an ``Approved`` version can still be ``Rejected``
  (a rollback). ``Rejected`` is final: register a new version instead. Any other change raises
  :class:`~mlpipe.errors.MlPipeError` saying what is allowed. Setting the status a version already has
  is a no-op, so a retried approve/reject task succeeds.
- Only ``Approved`` versions are deployable (:meth:`LocalModelRegistry.newest_approved`); the newest one also
  carries the MLflow alias ``champion``.
- Each version records its model artifact URI, metrics, lineage (data, code, tuning trial...), the
  **tuning job name** that produced it, and every status change (who, when, why). Registering again
  with the same tuning job name returns the version registered before instead of adding another, so a
  retried registration task is idempotent.

Everything lives in :meth:`LakeLayout.local_registry <mlpipe.lake.LakeLayout.local_registry>` (``mlflow.db``);
a file lock serialises writers. MLflow is imported only when the registry is used (it takes seconds). Its
command line is :mod:`mlpipe.local.registry` (``make approve VERSION=n``, ``make reject VERSION=n``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import json
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from mlflow import MlflowClient

    from mlpipe.config import PipelineConfig

log = logging.getLogger(__name__)

DB_FILE = "mlflow.db"
ARN_PREFIX = "local:model-package/"
CHAMPION_ALIAS = "champion"
TAG_STATUS = "ModelApprovalStatus"
TAG_TUNING_JOB = "mlpipe.tuning_job_name"
TAG_MODEL_URI = "mlpipe.model_uri"
TAG_METRICS = "mlpipe.metrics"
TAG_LINEAGE = "mlpipe.lineage"
TAG_HISTORY = "mlpipe.history"
TAG_CREATED = "mlpipe.created_at"

def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class LocalModelRegistry:
    """The registry under ``root`` (a directory; created on first use)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self._client: MlflowClient | None = None
        self._lock_depth = 0

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> LocalModelRegistry:
        """The registry of a local-stack configuration (:meth:`LakeLayout.local_registry`)."""
        from mlpipe.lake import LakeLayout, to_path

        if cfg.stack != "local":
            raise ConfigError(f"the local model registry serves the 'local' stack; stack '{cfg.stack}' registers "
                              f"in SageMaker Model Registry (group {cfg.training.registry.model_package_group})")
        return cls(to_path(LakeLayout.from_config(cfg).local_registry()))

    # ---- MLflow plumbing ---------------------------------------------------------------------------------------

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self.root.mkdir(parents=True, exist_ok=True)
            for name in ("alembic", "mlflow.store.db.utils", "mlflow.store.model_registry"):
                logging.getLogger(name).setLevel(logging.WARNING)
            from mlflow import MlflowClient

            uri = f"sqlite:///{self.root / DB_FILE}"
            with self._lock():
                self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return self._client

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """An exclusive lock across processes (re-entrant within this object)."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _group_exists(self, group: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(group)
        except MlflowException:
            return False
        return True

    @staticmethod
    def _package(mv: Any) -> ModelPackage:
        tags = dict(mv.tags or {})
        return ModelPackage(
            group=mv.name, version=int(mv.version), status=ApprovalStatus(tags.get(TAG_STATUS, ApprovalStatus.PENDING)),
            arn=f"{ARN_PREFIX}{mv.name}/{int(mv.version)}",
            model_uri=tags.get(TAG_MODEL_URI, mv.source), tuning_job_name=tags.get(TAG_TUNING_JOB, ""),
            metrics=json.loads(tags.get(TAG_METRICS, "{}")), lineage=json.loads(tags.get(TAG_LINEAGE, "{}")),
            description=mv.description or "", created_at=tags.get(TAG_CREATED, ""),
            history=json.loads(tags.get(TAG_HISTORY, "[]")),
        )

    def _sync_champion(self, group: str) -> None:
        package = self.newest_approved(group)
        if package is not None:
            self.client.set_registered_model_alias(group, CHAMPION_ALIAS, str(package.version))
        else:
            from mlflow.exceptions import MlflowException

            with contextlib.suppress(MlflowException):
                self.client.delete_registered_model_alias(group, CHAMPION_ALIAS)

    # ---- reading -----------------------------------------------------------------------------------------------

    def groups(self) -> list[str]:
        """The model package groups there are."""
        return sorted(m.name for m in self.client.search_registered_models())

    def list(self, group: str) -> list[ModelPackage]:
        """Every version of ``group``, oldest first (an unknown group has none)."""
        check_group(group)
        versions = self.client.search_model_versions(f"name='{group}'")
        return sorted((self._package(mv) for mv in versions), key=lambda p: p.version)

    def get(self, group: str, version: int) -> ModelPackage:
        packages = self.list(group)
        for package in packages:
            if package.version == version:
                return package
        raise missing_version_error(group, version, [p.version for p in packages])

    def get_by_arn(self, arn: str) -> ModelPackage:
        """The version of ``local:model-package/<group>/<version>`` (the ARNs this registry gives)."""
        group, _, version = arn.removeprefix(ARN_PREFIX).rpartition("/")
        if not arn.startswith(ARN_PREFIX) or not group or not version.isdigit():
            raise MlPipeError(f"{arn!r} is not a local model package ARN ({ARN_PREFIX}<group>/<version>)")
        return self.get(group, int(version))

    def find(self, group: str, tuning_job_name: str) -> ModelPackage | None:
        """The version registered from ``tuning_job_name``, if any."""
        matches = [p for p in self.list(group) if p.tuning_job_name == tuning_job_name]
        return matches[0] if matches else None

    def newest_approved(self, group: str) -> ModelPackage | None:
        """The newest Approved version (the champion, what a deployment picks), or None."""
        approved = [p for p in self.list(group) if p.deployable]
        return approved[-1] if approved else None

    def require_deployable(self, group: str, version: int | None = None) -> ModelPackage:
        """``version`` (default: the newest Approved one) if it is Approved; else :class:`MlPipeError`."""
        how = f"`make approve VERSION=N` or `python -m mlpipe.local.registry approve --version N --group {group}`"
        if version is None:
            package = self.newest_approved(group)
            if package is None:
                raise MlPipeError(f"model package group '{group}' has no Approved version to deploy; approve one "
                                  f"with {how}")
            return package
        package = self.get(group, version)
        if not package.deployable:
            raise not_deployable_error(package, how.replace("VERSION=N", f"VERSION={version}")
                                       .replace("--version N", f"--version {version}"))
        return package

    # ---- writing -----------------------------------------------------------------------------------------------

    def register(self, group: str, *, model_uri: str, tuning_job_name: str,
                 metrics: Mapping[str, float] | None = None, lineage: Mapping[str, Any] | None = None,
                 approval_status: ApprovalStatus | str = ApprovalStatus.PENDING, description: str = "",
                 by: str | None = None) -> ModelPackage:
        """Add a version to ``group`` (created if new), or return the one ``tuning_job_name`` registered before.

        ``approval_status`` is PendingManualApproval or Approved (auto-approve); ``by`` who registered it.
        """
        check_group(group)
        if not tuning_job_name:
            raise MlPipeError("tuning_job_name is required: it makes a retried registration find its version")
        status = initial_status(approval_status)
        with self._lock():
            existing = self.find(group, tuning_job_name) if self._group_exists(group) else None
            if existing is not None:
                log.info("%s version %d was registered from tuning job %s before: reusing it",
                         group, existing.version, tuning_job_name)
                return existing
            if not self._group_exists(group):
                self.client.create_registered_model(group, description=f"model package group {group}")
            now = now_utc()
            history = [{"status": str(status), "at": now, "by": by or current_user(), "reason": "registered"}]
            mv = self.client.create_model_version(
                group, source=model_uri, description=description,
                tags={TAG_STATUS: str(status), TAG_TUNING_JOB: tuning_job_name, TAG_MODEL_URI: model_uri,
                      TAG_METRICS: json.dumps(dict(metrics or {}), sort_keys=True),
                      TAG_LINEAGE: json.dumps(dict(lineage or {}), sort_keys=True, default=str),
                      TAG_HISTORY: json.dumps(history), TAG_CREATED: now})
            package = self._package(self.client.get_model_version(group, mv.version))
            if status is ApprovalStatus.APPROVED:
                self._sync_champion(group)
        log.info("registered %s version %d (%s) from tuning job %s", group, package.version, status, tuning_job_name)
        return package

    def set_status(self, group: str, version: int, status: ApprovalStatus | str, *, by: str | None = None,
                   reason: str = "") -> ModelPackage:
        """Move a version to ``status`` if the state machine allows it (see the module docstring)."""
        target = approval_status(status)
        with self._lock():
            package = self.get(group, version)
            if package.status is target:
                return package
            check_transition(package, target)
            history = [*package.history, {"status": str(target), "from": str(package.status), "at": now_utc(),
                                          "by": by or current_user(), "reason": reason}]
            self.client.set_model_version_tag(group, str(version), TAG_STATUS, str(target))
            self.client.set_model_version_tag(group, str(version), TAG_HISTORY, json.dumps(history))
            self._sync_champion(group)
            updated = self.get(group, version)
        log.info("%s version %d: %s -> %s (%s)", group, version, package.status, target, reason or "no reason given")
        return updated
