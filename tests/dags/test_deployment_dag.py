"""ml_deployment imports on both stacks, is scheduled on the model Asset, and has the documented task graph."""

from __future__ import annotations

import runpy

import pytest

from tests.conftest import ROOT


def load(monkeypatch, env: str, mode: str = "both"):
    monkeypatch.setenv("PIPELINE_ENV", env)
    monkeypatch.setenv("MLPIPE__DEPLOYMENT__MODE", mode)
    return runpy.run_path(str(ROOT / "dags" / "ml_deployment.py"))["dag"]


def edges(dag) -> set[tuple[str, str]]:
    return {(u, t.task_id) for t in dag.tasks for u in t.upstream_task_ids}


def test_local_graph(monkeypatch):
    dag = load(monkeypatch, "local")
    assert {("resolve_version", "deploy_endpoint"), ("deploy_endpoint", "smoke_test"),
            ("resolve_version", "batch_transform")} <= edges(dag)


def test_aws_graph(monkeypatch):
    dag = load(monkeypatch, "aws-dev")
    assert {("resolve_version", "create_model"), ("create_model", "create_endpoint_config"),
            ("create_endpoint_config", "deploy_endpoint"), ("deploy_endpoint", "smoke_test"),
            ("resolve_version", "prepare_transform_input"), ("prepare_transform_input", "find_transform_job"),
            ("create_model", "find_transform_job"), ("find_transform_job", "batch_transform")} <= edges(dag)


@pytest.mark.parametrize(("mode", "present", "absent"), [("endpoint", "smoke_test", "batch_transform"),
                                                          ("batch", "batch_transform", "smoke_test")])
def test_mode(monkeypatch, mode, present, absent):
    ids = {t.task_id for t in load(monkeypatch, "local", mode).tasks}
    assert present in ids and absent not in ids


def test_scheduled_on_model_asset(monkeypatch):
    dag = load(monkeypatch, "local")
    assert "model.mlpipe-churn" in repr(dag.timetable.asset_condition)
