"""The ModelRegistry contract (mlpipe.services.registry), here against the local registry (MLflow).

tests/aws/test_sagemaker_registry_contract.py runs these same tests against SageMakerModelRegistry on the moto
server: each test takes the ``registry`` fixture of the module that runs it and a fresh model package group.
"""

from __future__ import annotations

import itertools

import pytest
from mlpipe.errors import MlPipeError
from mlpipe.services.local_registry import LocalModelRegistry
from mlpipe.services.registry import ApprovalStatus, ModelPackage, ModelRegistry

_groups = itertools.count(1)
METRICS = {"validation:auc": 0.8125, "test_auc": 0.78, "test_aucpr": 0.4}


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> LocalModelRegistry:
    return LocalModelRegistry(tmp_path_factory.mktemp("registry"))


@pytest.fixture
def group() -> str:
    return f"contract-{next(_groups)}"


def register(registry: ModelRegistry, group: str, job: str, **kw) -> ModelPackage:
    return registry.register(group, model_uri=f"s3://lake/training/{job}/output/model.tar.gz", tuning_job_name=job,
                             metrics=METRICS, lineage={"ds": "2026-11-01"}, **kw)


def test_a_version_starts_pending_with_what_was_registered(registry, group):
    v1 = register(registry, group, "hpo-a", approval_status="PendingManualApproval", description="first")
    v2 = register(registry, group, "hpo-b", approval_status=ApprovalStatus.PENDING)
    assert (v1.version, v2.version) == (1, 2) and (v1.group, v2.group) == (group, group)
    assert v1.status is ApprovalStatus.PENDING and not v1.deployable
    got = registry.get(group, 1)
    assert got == v1
    assert got.model_uri == "s3://lake/training/hpo-a/output/model.tar.gz" and got.tuning_job_name == "hpo-a"
    assert got.metrics == METRICS and got.description == "first"
    assert got.arn and got.arn != registry.get(group, 2).arn
    assert [p.version for p in registry.list(group)] == [1, 2]
    assert got.to_dict()["status"] == "PendingManualApproval" and got.to_dict()["deployable"] is False


def test_an_unknown_group_has_no_versions(registry, group):
    assert registry.list(group) == [] and registry.newest_approved(group) is None
    assert registry.find(group, "hpo-a") is None


def test_registration_is_idempotent_by_tuning_job_name(registry, group):
    first = register(registry, group, "hpo-2026-11-01-abc")
    again = register(registry, group, "hpo-2026-11-01-abc")
    assert again == first and first.version == 1 and len(registry.list(group)) == 1
    assert registry.find(group, "hpo-2026-11-01-abc") == first and registry.find(group, "other") is None
    assert register(registry, group, "hpo-2026-11-02-def").version == 2


def test_only_approved_versions_are_deployable_and_the_newest_is_the_champion(registry, group):
    for job in ("a", "b", "c"):
        register(registry, group, job)
    with pytest.raises(MlPipeError, match="has no Approved version to deploy; approve one with"):
        registry.require_deployable(group)
    with pytest.raises(MlPipeError, match="version 1 of '.*' is PendingManualApproval, and only Approved versions "
                                          "are deployable; approve it first"):
        registry.require_deployable(group, 1)
    approved = registry.set_status(group, 1, "Approved", by="alice", reason="beats baseline")
    assert approved.status is ApprovalStatus.APPROVED and approved.deployable
    assert registry.get(group, 1).status is ApprovalStatus.APPROVED
    registry.set_status(group, 2, ApprovalStatus.APPROVED)
    assert registry.newest_approved(group).version == 2 == registry.require_deployable(group).version
    assert registry.require_deployable(group, 1).version == 1
    registry.set_status(group, 2, "Rejected", reason="rollback")          # Approved -> Rejected
    assert registry.newest_approved(group).version == 1
    assert registry.set_status(group, 3, "Rejected").status is ApprovalStatus.REJECTED   # Pending -> Rejected
    with pytest.raises(MlPipeError, match="Rejected is final, register a new version"):
        registry.require_deployable(group, 3)
    assert [p.status for p in registry.list(group)] == [ApprovalStatus.APPROVED, ApprovalStatus.REJECTED,
                                                         ApprovalStatus.REJECTED]


@pytest.mark.parametrize(("start", "target", "message"), [
    ("Rejected", "Approved", "from Rejected to Approved: Rejected is final; register a new version instead"),
    ("Approved", "PendingManualApproval",
     r"from Approved to PendingManualApproval; from Approved it can only go to \['Rejected'\]"),
    ("PendingManualApproval", "Deployed", "unknown approval status 'Deployed'; use one of"),
])
def test_changes_the_state_machine_forbids_raise(registry, group, start, target, message):
    register(registry, group, "job")
    if start != "PendingManualApproval":
        registry.set_status(group, 1, start)
    with pytest.raises(MlPipeError, match=message):
        registry.set_status(group, 1, target)
    assert registry.get(group, 1).status == start


def test_the_same_status_again_is_a_no_op(registry, group):
    register(registry, group, "job")
    first = registry.set_status(group, 1, "Approved", reason="first")
    again = registry.set_status(group, 1, "Approved", reason="again")
    assert again == first == registry.get(group, 1) and again.status is ApprovalStatus.APPROVED


def test_auto_approve_and_bad_input(registry, group):
    assert register(registry, group, "auto", approval_status="Approved").deployable
    assert registry.newest_approved(group).version == 1
    with pytest.raises(MlPipeError, match="starts as PendingManualApproval or Approved, not Rejected"):
        register(registry, group, "x", approval_status="Rejected")
    with pytest.raises(MlPipeError, match="tuning_job_name is required"):
        register(registry, group, "")
    with pytest.raises(MlPipeError, match="model package group 'bad_name': 1-63 letters, digits and single hyphens"):
        registry.list("bad_name")
    with pytest.raises(MlPipeError, match=r"has no version 9; its versions are \[1\]"):
        registry.get(group, 9)
    with pytest.raises(MlPipeError, match=r"has no version 2; its versions are \[1\]"):
        registry.set_status(group, 2, "Approved")
    assert len(registry.list(group)) == 1


def test_a_version_is_found_by_its_arn(registry, group):
    v1, v2 = register(registry, group, "hpo-arn-1"), register(registry, group, "hpo-arn-2")
    assert registry.get_by_arn(v2.arn) == v2 and registry.get_by_arn(v1.arn) == v1
    with pytest.raises(MlPipeError):
        registry.get_by_arn(v2.arn.rsplit("/", 1)[0] + "/99")
