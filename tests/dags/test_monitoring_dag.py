"""ml_monitoring imports on both stacks, runs daily, and its retraining task emits the Asset ml_training is
scheduled on."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("env", ["local", "aws-dev"])
def test_monitoring_dag_is_daily_and_feeds_the_retraining_asset(monkeypatch, env):
    monkeypatch.setenv("PIPELINE_ENV", env)
    ns = runpy.run_path(str(ROOT / "dags" / "ml_monitoring.py"))
    dag, cfg = ns["dag"], ns["cfg"]
    assert dag.dag_id == "ml_monitoring" and set(dag.task_ids) == {"check_drift", "request_retraining"}
    from mlpipe.dagkit import data_interval_schedule  # the day that ended: tests/dags/test_schedules.py

    assert dag.schedule == data_interval_schedule(cfg.schedules.monitoring)
    assert cfg.schedules.monitoring in ("@daily", "0 6 * * *")
    retrain = dag.get_task("request_retraining")
    assert {(u, t.task_id) for t in dag.tasks for u in t.upstream_task_ids} == {("check_drift", "request_retraining")}
    (outlet,) = retrain.outlets
    assert outlet.name == f"retrain.{cfg.training.registry.model_package_group}"
    training = runpy.run_path(str(ROOT / "dags" / "ml_training.py"))["dag"]
    assert outlet.name in {a.name for a in training.timetable.asset_condition.objects}
    assert {"mlpipe", "monitoring", f"stack:{cfg.stack}"} <= set(dag.tags) and dag.doc_md


def test_the_dag_file_imports_nothing_heavy():
    text = (ROOT / "dags" / "ml_monitoring.py").read_text()
    heavy = ("scipy", "pandas", "numpy", "matplotlib", "xgboost", "boto3", "monitoring.drift")
    top = [ln for ln in text.splitlines() if ln.startswith(("import ", "from "))]
    assert not [ln for ln in top if any(h in ln for h in heavy)], top
