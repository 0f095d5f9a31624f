"""ml_training imports on both stacks, is scheduled on gold | retrain, and has exactly the edges of its stack."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EDGES = {
    "local": {
        ("split", "tune"), ("split", "evaluate"), ("split", "register"),
        ("tune", "evaluate"), ("tune", "register"),
        ("evaluate", "gate"), ("evaluate", "register"),
        ("gate", "register"),
    },
    "aws-dev": {
        ("split", "tune.find_job"), ("split", "tune.best"), ("split", "evaluate.report"), ("split", "lineage"),
        ("tune.find_job", "tune.tuning_job"), ("tune.find_job", "tune.best"), ("tune.tuning_job", "tune.best"),
        ("tune.best", "evaluate.champion"), ("tune.best", "evaluate.report"), ("tune.best", "lineage"),
        ("evaluate.champion", "evaluate.processing_job"), ("evaluate.champion", "evaluate.report"),
        ("evaluate.processing_job", "evaluate.report"),
        ("evaluate.report", "gate"), ("evaluate.report", "lineage"),
        ("gate", "lineage"), ("lineage", "register"),
    },
}


def load(monkeypatch, env: str):
    monkeypatch.setenv("PIPELINE_ENV", env)
    return runpy.run_path(str(ROOT / "dags" / "ml_training.py"))["dag"]


@pytest.mark.parametrize("env", ["local", "aws-dev"])
def test_training_dag_imports_and_listens_to_gold_and_retrain(monkeypatch, env):
    dag = load(monkeypatch, env)
    names = {a.name for a in dag.timetable.asset_condition.objects}
    assert any(n.startswith("gold.") for n in names) and any(n.startswith("retrain.") for n in names), names
    register = dag.get_task("register")
    assert [o.name for o in register.outlets][0].startswith("model.")
    assert "gate" in register.get_flat_relative_ids(upstream=True)


@pytest.mark.parametrize("env", sorted(EDGES))
def test_training_dag_has_exactly_its_stacks_edges(monkeypatch, env):
    dag = load(monkeypatch, env)
    edges = {(up, t.task_id) for t in dag.tasks for up in t.upstream_task_ids}
    assert edges == EDGES[env]
    assert set(dag.task_ids) == {task for edge in EDGES[env] for task in edge}
