"""ml_training's shared task bodies: the time split (through the storage service), the promotion gate, the
report (from evaluation.json and the figures beside it), the lineage."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pandas as pd
import pytest
from mlpipe.config import load_config
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout, to_path
from mlpipe.tasks.training import (
    promotion_gate,
    promotion_verdict,
    split,
    split_frame,
    training_root,
    write_lineage,
    write_report,
)

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
    parts, stats = split_frame(gold(), cfg, DS)
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
        split_frame(df[df["as_of"] < dt.date(2026, 8, 25)], cfg, DS)


def test_split_task_reads_gold_and_writes_the_channels_where_the_lake_layout_says(cfg):
    layout = LakeLayout.from_config(cfg)
    partition = to_path(layout.gold(cfg.features.gold.name, DS))
    partition.mkdir(parents=True)
    frame = gold()
    frame.iloc[:50].to_parquet(partition / "part-00000.parquet", index=False)
    frame.iloc[50:].to_parquet(partition / "part-00001.parquet", index=False)
    out = split(ds=DS, cfg=cfg)
    root = layout.training(cfg.training.registry.model_package_group, DS)
    assert out["root"] == root == training_root(cfg, DS)
    assert sorted(out["gold_files"]) == [f"{layout.gold(cfg.features.gold.name, DS)}/part-0000{i}.parquet"
                                         for i in (0, 1)]
    assert all(v.startswith("sha256:") for v in out["gold_files"].values())
    assert out["feature_spec_uri"] == layout.spec("ml_features", DS)
    parts, _ = split_frame(frame, cfg, DS)
    for name in ("train", "validation", "test"):
        written = pd.read_parquet(to_path(f"{root}/{name}/part-0.parquet"))
        assert out["channels"][name] == f"{root}/{name}" and len(written) == len(parts[name]) > 0
    assert json.loads(to_path(out["split_uri"]).read_text())["rows"] == out["rows"]


def test_split_without_gold_says_to_run_ml_features(cfg):
    with pytest.raises(MlPipeError, match="run ml_features for 2026-11-01 first"):
        split(ds=DS, cfg=cfg)


def evaluation(auc: float, naive: float = 0.6) -> dict:
    return {"model": {"auc": auc}, "baselines": {"naive": {"auc": naive}}}


def test_gate_registers_without_champion_and_rejects_a_worse_challenger(cfg):
    assert promotion_verdict(evaluation(0.8), cfg, None)["register"] is True
    worse = promotion_verdict(evaluation(0.8), cfg, {"version": 3, "auc": 0.9})
    assert worse["register"] is False and "champion v3" in worse["reasons"][0]
    assert promotion_verdict(evaluation(0.59), cfg, None)["register"] is False   # below the naive baseline
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="not registering"):
        promotion_gate({"evaluation": evaluation(0.8), "champion": {"version": 1, "auc": 0.95}}, cfg)
    assert promotion_gate({"evaluation": evaluation(0.8), "champion": None}, cfg)["register"] is True


PNG = b"\x89PNG\r\n\x1a\n-not-really-an-image"


def test_report_renders_the_evaluation_and_inlines_its_figures(cfg):
    root = training_root(cfg, DS)
    folder = to_path(f"{root}/evaluation")
    folder.mkdir(parents=True)
    doc = {**evaluation(0.81), "rows": 40, "threshold": 0.5, "confusion": {"tp": 3, "fp": 1, "fn": 2, "tn": 34},
           "calibration": [{"bin": "0.0-0.1", "n": 40, "mean_score": 0.05, "positive_rate": 0.125}],
           "images": {"ROC": "roc.png"}}
    (folder / "evaluation.json").write_text(json.dumps(doc))
    (folder / "roc.png").write_bytes(PNG)
    tuned = {"name": "ml-training-20261101-abc", "best": {"name": "trial-1", "objective": 0.8}}
    out = write_report(cfg, {"ds": DS, "root": root}, tuned, {"version": 2, "auc": 0.7}, {"spot saving": "61.0%"})
    assert out["evaluation"] == doc and out["champion"] == {"version": 2, "auc": 0.7}
    assert out["evaluation_uri"] == f"{root}/evaluation/evaluation.json"
    html = to_path(out["report_uri"]).read_text()
    assert "data:image/png;base64," + base64.b64encode(PNG).decode() in html
    assert "confusion tp</td><td>3" in html and "0.1250" in html and "61.0%" in html
    assert "PASS beats_naive_baseline" in html and "PASS not_worse_than_champion" in html


def test_report_without_evaluation_fails_saying_so(cfg):
    with pytest.raises(MlPipeError, match="evaluate.py wrote nothing"):
        write_report(cfg, {"ds": DS, "root": training_root(cfg, DS)}, {"name": "x", "best": {}}, None)


def test_lineage_is_written_next_to_the_channels(cfg):
    root = training_root(cfg, DS)
    split_doc = {"ds": DS, "root": root, "gold_partition": "g", "gold_files": {"g/a": "sha256:1"}, "channels": {},
                 "windows": {}, "rows": {}}
    tuned = {"name": "tj", "best": {"name": "trial-1", "hyperparameters": {}, "metrics": {}, "objective": 0.8}}
    uri = write_lineage(split_doc, tuned, {"evaluation_uri": "e", "report_uri": "r"}, cfg)
    doc = json.loads(to_path(uri).read_text())
    assert uri == f"{root}/lineage.json" and doc["tuning_job_name"] == "tj" and doc["data"]["gold_files"]
