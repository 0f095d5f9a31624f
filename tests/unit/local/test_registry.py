"""The local model registry keeps SageMaker Model Registry semantics (states, deployability, idempotency).

One registry (one MLflow SQLite database, created once: MLflow's migrations take seconds) serves the
module; each test uses its own model package group.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlpipe.errors import ConfigError, MlPipeError
from mlpipe.local.registry import ApprovalStatus, LocalModelRegistry, main

ROOT = Path(__file__).resolve().parents[3]
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


def test_registration_is_idempotent_by_tuning_job_name(registry, group):
    first = register(registry, group, "hpo-2026-11-01-abc")
    again = register(registry, group, "hpo-2026-11-01-abc")
    assert again.version == first.version == 1 and len(registry.list(group)) == 1
    assert registry.find(group, "hpo-2026-11-01-abc").version == 1 and registry.find(group, "other") is None
    assert register(registry, group, "hpo-2026-11-02-def").version == 2


def test_approve_then_reject_and_only_approved_is_deployable(registry, group):
    for job in ("a", "b", "c"):
        register(registry, group, job)
    with pytest.raises(MlPipeError, match="has no Approved version to deploy; approve one"):
        registry.require_deployable(group)
    with pytest.raises(MlPipeError, match="version 1 of '.*' is PendingManualApproval, and only Approved versions are deployable; approve it first"):
        registry.require_deployable(group, 1)
    approved = registry.approve(group, 1, by="alice", reason="beats baseline")
    assert approved.status is ApprovalStatus.APPROVED and approved.deployable
    assert approved.history[-1] | {"at": None} == {"status": "Approved", "from": "PendingManualApproval", "by": "alice",
                                                   "reason": "beats baseline", "at": None}
    registry.approve(group, 2)
    assert registry.deployable(group).version == 2 == registry.require_deployable(group).version
    assert str(registry.client.get_model_version_by_alias(group, "champion").version) == "2"
    registry.reject(group, 2, reason="rollback")                  # Approved -> Rejected
    assert registry.deployable(group).version == 1
    assert str(registry.client.get_model_version_by_alias(group, "champion").version) == "1"
    assert registry.reject(group, 3).status is ApprovalStatus.REJECTED   # Pending -> Rejected
    with pytest.raises(MlPipeError, match="Rejected is final, register a new version"):
        registry.require_deployable(group, 3)


@pytest.mark.parametrize(("start", "target", "message"), [
    ("Rejected", "Approved", "from Rejected to Approved: Rejected is final; register a new version instead"),
    ("Approved", "PendingManualApproval", "from Approved to PendingManualApproval; from Approved it can only go to ['Rejected']"),
    ("PendingManualApproval", "Deployed", "unknown approval status 'Deployed'; use one of"),
])
def test_illegal_transitions_raise(registry, group, start, target, message):
    register(registry, group, "job")
    if start != "PendingManualApproval":
        registry.update_status(group, 1, start)
    with pytest.raises(MlPipeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        registry.update_status(group, 1, target)


def test_same_status_again_is_a_no_op(registry, group):
    register(registry, group, "job")
    first = registry.approve(group, 1)
    again = registry.approve(group, 1)
    assert again.status is ApprovalStatus.APPROVED and len(again.history) == len(first.history) == 2


def test_auto_approve_and_bad_input(registry, group):
    assert register(registry, group, "auto", approval_status="Approved").deployable
    assert registry.deployable(group).version == 1
    with pytest.raises(MlPipeError, match="starts as PendingManualApproval or Approved, not Rejected"):
        register(registry, group, "x", approval_status="Rejected")
    with pytest.raises(MlPipeError, match="tuning_job_name is required"):
        register(registry, group, "")
    with pytest.raises(MlPipeError, match="model package group 'bad_name': 1-63 letters, digits and single hyphens"):
        registry.list("bad_name")
    with pytest.raises(MlPipeError, match=r"has no version 9; its versions are \[1\]"):
        registry.get(group, 9)


def test_cli_lists_approves_and_rejects(registry, group, capsys):
    register(registry, group, "cli-1")
    register(registry, group, "cli-2")
    base = ["--group", group, "--registry", str(registry.root)]
    assert main(["approve", "--version", "2", "--reason", "looks good", *base]) == 0
    assert capsys.readouterr().out.strip() == f"{group} version 2: Approved"
    assert main(["reject", "--version", "1", *base]) == 0
    assert main(["list", *base]) == 0
    out = capsys.readouterr().out
    assert "Approved *" in out and "Rejected" in out and "cli-2" in out
    assert main(["approve", "--version", "1", *base]) == 1
    assert "error: cannot change version 1 of" in capsys.readouterr().err
    assert main(["list", "--json", *base]) == 0
    assert [v["status"] for v in json.loads(capsys.readouterr().out)] == ["Rejected", "Approved"]


def test_cli_runs_as_a_module(registry, group):
    """`make approve VERSION=n` runs `python -m mlpipe.local.registry approve --version n`."""
    register(registry, group, "module-run")
    out = subprocess.run([sys.executable, "-m", "mlpipe.local.registry", "approve", "--version", "1", "--group", group,
                          "--registry", str(registry.root)], capture_output=True, text=True, cwd=ROOT,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT / 'include'}:{ROOT}"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{group} version 1: Approved" and registry.get(group, 1).deployable


def test_the_registry_lives_in_the_local_lake(tmp_path):
    from mlpipe.config import load_config

    local = load_config("local", environ={"MLPIPE_HOME": str(tmp_path)})
    assert LocalModelRegistry.from_config(local).root.name == "registry"
    with pytest.raises(ConfigError, match="stack 'aws' registers in SageMaker Model Registry"):
        LocalModelRegistry.from_config(load_config("aws-dev", environ={}))
