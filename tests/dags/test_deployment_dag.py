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


LOCAL_ENDPOINT = {("resolve_version", "deploy_endpoint"), ("deploy_endpoint", "smoke_test"),
                  ("resolve_version", "smoke_test")}
LOCAL_BATCH = {("resolve_version", "batch_transform")}
AWS_MODEL = {("resolve_version", "create_model")}
AWS_ENDPOINT = {("create_model", "create_endpoint_config"), ("create_endpoint_config", "deploy_endpoint"),
                ("deploy_endpoint", "smoke_test"), ("resolve_version", "smoke_test")}
AWS_BATCH = {("resolve_version", "prepare_transform_input"), ("prepare_transform_input", "find_transform_job"),
             ("create_model", "find_transform_job"), ("resolve_version", "find_transform_job"),
             ("find_transform_job", "batch_transform")}


@pytest.mark.parametrize(("env", "mode", "expected"), [
    ("local", "both", LOCAL_ENDPOINT | LOCAL_BATCH),
    ("local", "endpoint", LOCAL_ENDPOINT),
    ("local", "batch", LOCAL_BATCH),
    ("aws-dev", "both", AWS_MODEL | AWS_ENDPOINT | AWS_BATCH),
    ("aws-dev", "endpoint", AWS_MODEL | AWS_ENDPOINT),
    ("aws-dev", "batch", AWS_MODEL | AWS_BATCH),
])
def test_the_task_graph_of_each_stack_and_mode(monkeypatch, env, mode, expected):
    """One create_model for both the endpoint and the transform job; smoke_test after the deployment."""
    assert edges(load(monkeypatch, env, mode)) == expected


def test_scheduled_on_model_asset(monkeypatch):
    dag = load(monkeypatch, "local")
    assert "model.mlpipe-churn" in repr(dag.timetable.asset_condition)
