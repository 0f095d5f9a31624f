"""ml_training's task bodies: the time split, the gate, idempotent registration."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from mlpipe.config import load_config
from mlpipe.errors import MlPipeError
from mlpipe.tasks import training as t

DS = "2026-11-01"


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    monkeypatch.setenv("PIPELINE_ENV", "local")
    return load_config()


def gold(ds: str = DS) -> pd.DataFrame:
    day = dt.date.fromisoformat(ds)
    rows = []
    for back in (79, 72, 65, 58, 51, 44, 37, 30, 23, 2):   # snapshots; the last two have no matured label
        for c in range(10):
            rows.append({"customer_id": c, "as_of": day - dt.timedelta(days=back), "split": "x",
                         "x1": float(c), "churned": (c % 2) if back >= 30 else None})
    return pd.DataFrame(rows)


def test_split_is_by_time_without_overlap_or_future_rows(cfg):
    parts, stats = t.split_frame(gold(), cfg, DS)
    w = cfg.training.split.windows(DS)
    for name, df in parts.items():
        lo, hi = w[name]
        assert df["as_of"].min() >= lo and df["as_of"].max() < hi, name
    assert parts["train"]["as_of"].max() < parts["validation"]["as_of"].min()
    assert parts["validation"]["as_of"].max() < parts["test"]["as_of"].min()
    end = dt.date.fromisoformat(DS) - dt.timedelta(days=cfg.training.split.end_days)
    assert all(df["as_of"].max() < end and df["churned"].notna().all() for df in parts.values())
    assert sum(stats["rows"].values()) == sum(len(df) for df in parts.values())
    assert stats["rows_unlabelled"] == 20


def test_split_fails_clearly_on_an_empty_window(cfg):
    df = gold()
    with pytest.raises(MlPipeError, match="holds no labelled rows"):
        t.split_frame(df[df["as_of"] < dt.date(2026, 8, 25)], cfg, DS)


def evaluation(auc: float, naive: float = 0.6) -> dict:
    return {"model": {"auc": auc}, "baselines": {"naive": {"auc": naive}}}


def test_gate_registers_without_champion_and_rejects_a_worse_challenger(cfg):
    assert t.decide(evaluation(0.8), cfg, None)["register"] is True
    worse = t.decide(evaluation(0.8), cfg, {"version": 3, "auc": 0.9})
    assert worse["register"] is False and "champion v3" in worse["reasons"][0]
    assert t.decide(evaluation(0.59), cfg, None)["register"] is False   # below the naive baseline
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="not registering"):
        t.gate({"evaluation": evaluation(0.8), "champion": {"version": 1, "auc": 0.95}}, cfg)


def test_registration_is_idempotent_per_tuning_job(cfg, tmp_path):
    from mlpipe.stacks.local.training import register

    split = {"ds": DS, "root": f"file://{tmp_path}/tr", "gold_partition": "g", "gold_files": {"g/a": "sha256:1"},
             "channels": {}, "windows": {}, "rows": {}}
    tuned = {"name": "ml-training-20261101-abc123", "best": {"name": "trial-1", "metrics": {"validation:auc": 0.8},
                                                             "hyperparameters": {}, "objective": 0.8,
                                                             "model_dir": str(tmp_path), "model_uri": "file:///m"}}
    evaluated = {"evaluation": evaluation(0.8), "report_uri": "r", "evaluation_uri": "e"}
    first = register(split, tuned, evaluated, {"register": True}, cfg=cfg)
    again = register(split, tuned, evaluated, {"register": True}, cfg=cfg)
    assert first["version"] == again["version"] == 1
    assert first["status"] == ("Approved" if cfg.training.registry.auto_approve else "PendingManualApproval")
