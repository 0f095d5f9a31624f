"""ml_training imports on both stacks and is scheduled on gold | retrain."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("env", ["local", "aws-dev"])
def test_training_dag_imports_and_listens_to_gold_and_retrain(monkeypatch, env):
    monkeypatch.setenv("PIPELINE_ENV", env)
    dag = runpy.run_path(str(ROOT / "dags" / "ml_training.py"))["dag"]
    names = {a.name for a in dag.timetable.asset_condition.objects}
    assert any(n.startswith("gold.") for n in names) and any(n.startswith("retrain.") for n in names), names
    assert {"split", "gate", "register"} <= set(dag.task_ids)
    register = dag.get_task("register")
    assert [o.name for o in register.outlets][0].startswith("model.")
    assert "gate" in register.get_flat_relative_ids(upstream=True)
