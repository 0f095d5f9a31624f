"""The local model registry: SageMaker Model Registry semantics on MLflow's model registry (SQLite).

- A **model package group** (MLflow: a registered model) holds **versions** 1..n (MLflow: model versions).
- Each version has a ``ModelApprovalStatus``: ``PendingManualApproval`` when registered (or ``Approved``
  with auto-approve), then ``Approved`` or ``Rejected``; an ``Approved`` version can still be ``Rejected``
  (a rollback). ``Rejected`` is final: register a new version instead. Any other change raises
  :class:`~mlpipe.errors.MlPipeError` saying what is allowed. Setting the status a version already has
  is a no-op, so a retried approve/reject task succeeds.
- Only ``Approved`` versions are deployable (:meth:`LocalModelRegistry.deployable`); the newest one also
  carries the MLflow alias ``champion``.
- Each version records its model artifact URI, metrics, lineage (data, code, tuning trial...), the
  **tuning job name** that produced it, and every status change (who, when, why). Registering again
  with the same tuning job name returns the version registered before instead of adding another, so a
  retried registration task is idempotent.

Everything lives under ``<lake>/registry/`` (``mlflow.db``); a file lock serialises writers. MLflow is
imported only when the registry is used (it takes seconds). The command line::

    python -m mlpipe.local.registry list [--group G]
    python -m mlpipe.local.registry approve --version N [--group G] [--reason TEXT]
    python -m mlpipe.local.registry reject  --version N [--group G] [--reason TEXT]

The group defaults to ``training.registry.model_package_group`` and the registry to the lake of
``$PIPELINE_ENV``'s configuration (``--registry DIR`` overrides it).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import getpass
import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpipe import defaults
from mlpipe.errors import ConfigError, MlPipeError

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from mlpipe.config import PipelineConfig

log = logging.getLogger(__name__)

GROUP_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")   # ModelPackageGroupName
DB_FILE = "mlflow.db"
CHAMPION_ALIAS = "champion"
TAG_STATUS = "ModelApprovalStatus"
TAG_TUNING_JOB = "mlpipe.tuning_job_name"
TAG_MODEL_URI = "mlpipe.model_uri"
TAG_METRICS = "mlpipe.metrics"
TAG_LINEAGE = "mlpipe.lineage"
TAG_HISTORY = "mlpipe.history"
TAG_CREATED = "mlpipe.created_at"


class ApprovalStatus(StrEnum):
    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


ALLOWED: dict[ApprovalStatus, frozenset[ApprovalStatus]] = {
    ApprovalStatus.PENDING: frozenset({ApprovalStatus.APPROVED, ApprovalStatus.REJECTED}),
    ApprovalStatus.APPROVED: frozenset({ApprovalStatus.REJECTED}),
    ApprovalStatus.REJECTED: frozenset(),
}


@dataclass(frozen=True)
class ModelPackage:
    """One version of a model package group (SageMaker: DescribeModelPackage)."""

    group: str
    version: int
    status: ApprovalStatus
    model_uri: str
    tuning_job_name: str
    metrics: dict[str, float] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    created_at: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def deployable(self) -> bool:
        return self.status is ApprovalStatus.APPROVED

    @property
    def arn(self) -> str:
        """A local stand-in for the ModelPackageArn: ``local:model-package/<group>/<version>``."""
        return f"local:model-package/{self.group}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "version": self.version, "status": str(self.status), "arn": self.arn,
                "model_uri": self.model_uri, "tuning_job_name": self.tuning_job_name, "metrics": self.metrics,
                "lineage": self.lineage, "description": self.description, "created_at": self.created_at,
                "history": self.history, "deployable": self.deployable}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LocalModelRegistry:
    """The registry under ``root`` (a directory; created on first use)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self._client: MlflowClient | None = None
        self._lock_depth = 0

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> LocalModelRegistry:
        """The registry of a local-stack configuration: ``<lake>/registry``."""
        from mlpipe.lake import LakeLayout, to_path

        if cfg.stack != "local":
            raise ConfigError(f"the local model registry serves the 'local' stack; stack '{cfg.stack}' registers "
                              f"in SageMaker Model Registry (group {cfg.training.registry.model_package_group})")
        return cls(to_path(f"{LakeLayout.from_config(cfg).root}/{defaults.LOCAL_REGISTRY_DIR}"))

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

    @staticmethod
    def _check_group(group: str) -> None:
        if not GROUP_PATTERN.match(group or ""):
            raise MlPipeError(f"model package group {group!r}: 1-63 letters, digits and single hyphens "
                              f"(SageMaker's ModelPackageGroupName)")

    def _group_exists(self, group: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(group)
        except MlflowException:
            return False
        return True

    def _versions(self, group: str) -> list[Any]:
        return list(self.client.search_model_versions(f"name='{group}'"))

    @staticmethod
    def _package(mv: Any) -> ModelPackage:
        tags = dict(mv.tags or {})
        return ModelPackage(
            group=mv.name, version=int(mv.version), status=ApprovalStatus(tags.get(TAG_STATUS, ApprovalStatus.PENDING)),
            model_uri=tags.get(TAG_MODEL_URI, mv.source), tuning_job_name=tags.get(TAG_TUNING_JOB, ""),
            metrics=json.loads(tags.get(TAG_METRICS, "{}")), lineage=json.loads(tags.get(TAG_LINEAGE, "{}")),
            description=mv.description or "", created_at=tags.get(TAG_CREATED, ""),
            history=json.loads(tags.get(TAG_HISTORY, "[]")),
        )

    def _sync_champion(self, group: str) -> None:
        approved = [p for p in self.list(group) if p.deployable]
        if approved:
            self.client.set_registered_model_alias(group, CHAMPION_ALIAS, str(approved[-1].version))
        else:
            from mlflow.exceptions import MlflowException

            with contextlib.suppress(MlflowException):
                self.client.delete_registered_model_alias(group, CHAMPION_ALIAS)

    # ---- reading -----------------------------------------------------------------------------------------------

    def groups(self) -> list[str]:
        return sorted(m.name for m in self.client.search_registered_models())

    def list(self, group: str) -> list[ModelPackage]:
        """Every version of ``group``, oldest first (an unknown group has none)."""
        self._check_group(group)
        return sorted((self._package(mv) for mv in self._versions(group)), key=lambda p: p.version)

    def get(self, group: str, version: int) -> ModelPackage:
        for package in self.list(group):
            if package.version == version:
                return package
        known = [p.version for p in self.list(group)]
        raise MlPipeError(f"model package group '{group}' has no version {version}"
                          + (f"; its versions are {known}" if known else " (it has no versions)"))

    def find(self, group: str, tuning_job_name: str) -> ModelPackage | None:
        """The version registered from ``tuning_job_name``, if any."""
        matches = [p for p in self.list(group) if p.tuning_job_name == tuning_job_name]
        return matches[0] if matches else None

    def deployable(self, group: str) -> ModelPackage | None:
        """The newest Approved version (what a deployment picks), or None."""
        approved = [p for p in self.list(group) if p.deployable]
        return approved[-1] if approved else None

    def require_deployable(self, group: str, version: int | None = None) -> ModelPackage:
        """``version`` (default: the newest Approved one) if it is Approved; else :class:`MlPipeError`."""
        if version is None:
            package = self.deployable(group)
            if package is None:
                raise MlPipeError(f"model package group '{group}' has no Approved version to deploy; approve one "
                                  f"with `python -m mlpipe.local.registry approve --version N --group {group}`")
            return package
        package = self.get(group, version)
        if not package.deployable:
            raise MlPipeError(f"version {version} of '{group}' is {package.status}, and only Approved versions are "
                              f"deployable" + ("; approve it first" if package.status is ApprovalStatus.PENDING
                                               else "; Rejected is final, register a new version"))
        return package

    # ---- writing -----------------------------------------------------------------------------------------------

    def register(self, group: str, *, model_uri: str, tuning_job_name: str,
                 metrics: Mapping[str, float] | None = None, lineage: Mapping[str, Any] | None = None,
                 approval_status: ApprovalStatus | str = ApprovalStatus.PENDING, description: str = "",
                 by: str | None = None) -> ModelPackage:
        """Add a version to ``group`` (created if new), or return the one ``tuning_job_name`` registered before.

        ``approval_status`` is PendingManualApproval or Approved (auto-approve); ``by`` who registered it.
        """
        self._check_group(group)
        if not tuning_job_name:
            raise MlPipeError("tuning_job_name is required: it makes a retried registration find its version")
        status = self._status(approval_status)
        if status is ApprovalStatus.REJECTED:
            raise MlPipeError("a new version starts as PendingManualApproval or Approved, not Rejected")
        with self._lock():
            existing = self.find(group, tuning_job_name) if self._group_exists(group) else None
            if existing is not None:
                log.info("%s version %d was registered from tuning job %s before: reusing it",
                         group, existing.version, tuning_job_name)
                return existing
            if not self._group_exists(group):
                self.client.create_registered_model(group, description=f"model package group {group}")
            now = _now()
            history = [{"status": str(status), "at": now, "by": by or _user(), "reason": "registered"}]
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

    def update_status(self, group: str, version: int, status: ApprovalStatus | str, *, by: str | None = None,
                      reason: str = "") -> ModelPackage:
        """Move a version to ``status`` if the state machine allows it (see the module docstring)."""
        target = self._status(status)
        with self._lock():
            package = self.get(group, version)
            if package.status is target:
                return package
            if target not in ALLOWED[package.status]:
                allowed = sorted(str(s) for s in ALLOWED[package.status])
                raise MlPipeError(
                    f"cannot change version {version} of '{group}' from {package.status} to {target}; from "
                    f"{package.status} it can only go to {allowed}" if allowed else
                    f"cannot change version {version} of '{group}' from {package.status} to {target}: "
                    f"{package.status} is final; register a new version instead")
            history = [*package.history, {"status": str(target), "from": str(package.status), "at": _now(),
                                          "by": by or _user(), "reason": reason}]
            self.client.set_model_version_tag(group, str(version), TAG_STATUS, str(target))
            self.client.set_model_version_tag(group, str(version), TAG_HISTORY, json.dumps(history))
            self._sync_champion(group)
            updated = self.get(group, version)
        log.info("%s version %d: %s -> %s (%s)", group, version, package.status, target, reason or "no reason given")
        return updated

    def approve(self, group: str, version: int, *, by: str | None = None, reason: str = "") -> ModelPackage:
        return self.update_status(group, version, ApprovalStatus.APPROVED, by=by, reason=reason)

    def reject(self, group: str, version: int, *, by: str | None = None, reason: str = "") -> ModelPackage:
        return self.update_status(group, version, ApprovalStatus.REJECTED, by=by, reason=reason)

    @staticmethod
    def _status(value: ApprovalStatus | str) -> ApprovalStatus:
        try:
            return ApprovalStatus(value)
        except ValueError:
            raise MlPipeError(f"unknown approval status {value!r}; use one of {[str(s) for s in ApprovalStatus]}") from None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# ---- command line ---------------------------------------------------------------------------------------------


def _table(packages: Sequence[ModelPackage]) -> str:
    rows = [("version", "status", "created", "tuning job", "metrics", "model")]
    for p in packages:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(p.metrics.items())[:4] if isinstance(v, int | float))
        rows.append((str(p.version), str(p.status) + (" *" if p.deployable else ""), p.created_at,
                     p.tuning_job_name, shown, p.model_uri))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlpipe.local.registry",
                                     description="The local model registry: list versions, approve or reject one.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--group", help="model package group (default: training.registry.model_package_group)")
    common.add_argument("--registry", help="registry directory (default: <lake>/registry of $PIPELINE_ENV)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", parents=[common], help="every version of the group").add_argument(
        "--json", action="store_true", help="print JSON instead of a table")
    for verb in ("approve", "reject"):
        p = sub.add_parser(verb, parents=[common], help=f"{verb} a version")
        p.add_argument("--version", type=int, required=True)
        p.add_argument("--reason", default="", help="why (kept in the version's history)")
        p.add_argument("--by", help="who (default: the current user)")
    args = parser.parse_args(argv)
    try:
        cfg = None
        if args.group is None or args.registry is None:
            from mlpipe.config import load_config

            cfg = load_config()
        group = args.group or cfg.training.registry.model_package_group  # type: ignore[union-attr]
        registry = LocalModelRegistry(args.registry) if args.registry else LocalModelRegistry.from_config(cfg)  # type: ignore[arg-type]
        if args.command == "list":
            packages = registry.list(group)
            if args.json:
                print(json.dumps([p.to_dict() for p in packages], indent=2))
            elif not packages:
                print(f"model package group '{group}' in {registry.root} has no versions")
            else:
                print(f"model package group '{group}' ({registry.root}); * = deployable")
                print(_table(packages))
            return 0
        action = registry.approve if args.command == "approve" else registry.reject
        package = action(group, args.version, by=args.by, reason=args.reason)
        print(f"{group} version {package.version}: {package.status}"
              + ("" if package.deployable else " (not deployable)"))
        return 0
    except MlPipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
