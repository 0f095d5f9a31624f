"""ml_features' wiring on both stacks: scheduled on the bronze Assets, the gold Asset only from the gold gate,
the gates between the steps, and (aws) a cluster that is always terminated."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from mlpipe.config import load_config
from mlpipe.dagkit import bronze_assets

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["local", "aws-dev", "aws-dev-serverless"])
def features(request, monkeypatch):
    env = request.param.removesuffix("-serverless")
    monkeypatch.setenv("PIPELINE_ENV", env)
    if request.param.endswith("serverless"):
        monkeypatch.setenv("MLPIPE__EMR__MODE", "serverless")
    return runpy.run_path(str(ROOT / "dags" / "ml_features.py"))["dag"], load_config()


def _upstream(dag, task_id: str) -> set[str]:
    return dag.get_task(task_id).get_flat_relative_ids(upstream=True)


def test_scheduled_on_every_bronze_asset(features):
    dag, cfg = features
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAll", "every bronze table, not any of them"
    assert {a.name: a.uri for a in condition.objects} == {a.name: a.uri for a in bronze_assets(cfg).values()}


def test_the_gold_asset_is_emitted_only_by_the_gold_gate(features):
    dag, cfg = features
    emitting = {t.task_id: [a.name for a in t.outlets] for t in dag.tasks if t.outlets}
    assert emitting == {"gate_gold": [f"gold.{cfg.features.gold.name}"]}
    (asset,) = dag.get_task("gate_gold").outlets
    assert asset.group == "gold" and asset.uri.endswith(f"/gold/{cfg.features.gold.name}")


def test_gates_stand_between_the_steps(features):
    dag, _ = features
    silver = {t.task_id for t in dag.tasks if t.task_id.startswith("silver.")}
    gold = {t.task_id for t in dag.tasks if t.task_id.startswith("gold.")}
    assert silver and gold
    assert "write_spec" in _upstream(dag, "gate_silver") and silver <= _upstream(dag, "gate_silver")
    for task_id in gold:
        assert "gate_silver" in _upstream(dag, task_id), f"{task_id} must wait for the silver gate"
    assert gold <= _upstream(dag, "gate_gold")
    for t in dag.tasks:  # a failed gate stops what follows: nothing but the cluster teardown ignores failures
        assert t.trigger_rule == "all_success" or t.task_id == "terminate_cluster", t.task_id


def test_aws_runs_each_step_on_emr_and_always_releases_the_cluster(features):
    dag, cfg = features
    if cfg.stack != "aws":
        assert {type(t).__name__ for t in dag.tasks if "." in t.task_id} == {"LocalSparkSubmitOperator"}
        return
    registered = {t.task_id for t in dag.tasks if t.task_id.startswith("register_partitions.")}
    assert registered and all("gate_gold" in _upstream(dag, t) for t in registered)
    if cfg.emr.mode == "serverless":
        assert {type(t).__name__ for t in dag.tasks if t.task_id.split(".")[0] in ("silver", "gold")} == {
            "FeaturesJobRunOperator"}
        return
    terminate = dag.get_task("terminate_cluster")
    assert terminate.trigger_rule == "all_done"
    steps = {t.task_id for t in dag.tasks if t.task_id.split(".")[0] in ("silver", "gold")}
    assert steps | {"create_cluster", "gate_silver"} <= _upstream(dag, "terminate_cluster")
    assert "write_spec" in _upstream(dag, "create_cluster")
    assert all(getattr(dag.get_task(t), "deferrable", True) for t in steps if t.endswith("wait_for_step"))
