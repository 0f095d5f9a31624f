"""The local model registry (MLflow) keeps SageMaker Model Registry semantics (states, deployability, idempotency).

What every registry does is tests/unit/services/test_registry_contract.py (run against this one too); here
what is the local one's own: the lineage and status history it keeps, the MLflow alias ``champion``, its ARN
and its place in the lake. One registry (one MLflow SQLite database, created once: MLflow's migrations take
seconds) serves the module; each test uses its own model package group.
"""

from __future__ import annotations

import itertools

import pytest
from mlpipe.errors import ConfigError, MlPipeError
from mlpipe.services.local_registry import LocalModelRegistry
from mlpipe.services.registry import ApprovalStatus

_groups = itertools.count(1)


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> LocalModelRegistry:
    return LocalModelRegistry(tmp_path_factory.mktemp("registry"))


@pytest.fixture
def group() -> str:
    return f"churn-{next(_groups)}"


def register(registry: LocalModelRegistry, group: str, job: str, **kw):
    return registry.register(group, model_uri=f"file:///lake/models/{job}/model.tar.gz", tuning_job_name=job,
                             metrics={"validation:auc": 0.8, "test:auc": 0.78}, **kw)


def test_versions_start_pending_and_count_up(registry, group):
    v1 = register(registry, group, "hpo-a", lineage={"ds": "2026-11-01", "gold": "gold/customer_features/dt=2026-11-01"},
                  description="first", by="ci")
    v2 = register(registry, group, "hpo-b")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.status is ApprovalStatus.PENDING and not v1.deployable
    got = registry.get(group, 1)
    assert got.model_uri == "file:///lake/models/hpo-a/model.tar.gz" and got.tuning_job_name == "hpo-a"
    assert got.metrics == {"validation:auc": 0.8, "test:auc": 0.78} and got.lineage["ds"] == "2026-11-01"
    assert got.description == "first" and got.history[0]["by"] == "ci" and got.arn == f"local:model-package/{group}/1"
    assert [p.version for p in registry.list(group)] == [1, 2]


def test_approve_then_reject_and_only_approved_is_deployable(registry, group):
    for job in ("a", "b", "c"):
        register(registry, group, job)
    with pytest.raises(MlPipeError, match="has no Approved version to deploy; approve one"):
        registry.require_deployable(group)
    with pytest.raises(MlPipeError, match="version 1 of '.*' is PendingManualApproval, and only Approved versions are deployable; approve it first"):
        registry.require_deployable(group, 1)
    approved = registry.set_status(group, 1, "Approved", by="alice", reason="beats baseline")
    assert approved.status is ApprovalStatus.APPROVED and approved.deployable
    assert approved.history[-1] | {"at": None} == {"status": "Approved", "from": "PendingManualApproval", "by": "alice",
                                                   "reason": "beats baseline", "at": None}
    registry.set_status(group, 2, ApprovalStatus.APPROVED)
    assert registry.newest_approved(group).version == 2 == registry.require_deployable(group).version
    assert str(registry.client.get_model_version_by_alias(group, "champion").version) == "2"
    registry.set_status(group, 2, "Rejected", reason="rollback")                  # Approved -> Rejected
    assert registry.newest_approved(group).version == 1
    assert str(registry.client.get_model_version_by_alias(group, "champion").version) == "1"
    assert registry.set_status(group, 3, "Rejected").status is ApprovalStatus.REJECTED   # Pending -> Rejected
    with pytest.raises(MlPipeError, match="Rejected is final, register a new version"):
        registry.require_deployable(group, 3)


def test_same_status_again_is_a_no_op(registry, group):
    register(registry, group, "job")
    first = registry.set_status(group, 1, "Approved")
    again = registry.set_status(group, 1, "Approved")
    assert again.status is ApprovalStatus.APPROVED and len(again.history) == len(first.history) == 2


def test_the_registry_lives_in_the_local_lake(tmp_path):
    from mlpipe.config import load_config
    from mlpipe.lake import LakeLayout
    from mlpipe.services import registry_for

    local = load_config("local", environ={"MLPIPE_HOME": str(tmp_path)})
    assert LocalModelRegistry.from_config(local).root.as_uri() == LakeLayout.from_config(local).local_registry()
    assert isinstance(registry_for(local), LocalModelRegistry) and registry_for(local).root == \
        LocalModelRegistry.from_config(local).root
    with pytest.raises(ConfigError, match="stack 'aws' registers in SageMaker Model Registry"):
        LocalModelRegistry.from_config(load_config("aws-dev", environ={}))
