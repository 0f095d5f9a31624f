"""ml_monitoring's task bodies on a throwaway lake: the drift check end to end on a small synthetic model and
gold partition (no Spark), and the retraining request: Asset event with its extra, cool-down, config hash."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowSkipException
from mlpipe.config import load_config
from mlpipe.dagkit import retrain_asset
from mlpipe.lake import to_path
from mlpipe.tasks.monitoring import (
    MonitoringError,
    check_drift,
    config_changes,
    report_uris,
    request_retraining,
    state_uri,
)
from mlpipe.tasks.training import tuning_config_hash

DS = "2026-11-03"


@pytest.fixture
def cfg(tmp_path):
    return load_config("local", environ={"MLPIPE__LAKE__ROOT": f"file://{tmp_path / 'lake'}"})


class Events(dict):
    """``outlet_events`` as the task sees it: ``outlet_events[asset].extra = {...}``."""

    def __missing__(self, key):
        self[key] = SimpleNamespace(extra=None)
        return self[key]


def checked(cfg, status="drift", changed=False, ds=DS):
    return {"ds": ds, "verdict": {"status": status, "checks": {"features.gold": status},
                                  "reasons": ["features.gold: monthly_price: PSI 3.1 >= 0.2"] if status == "drift" else []},
            "config_change": {"training": {"serving": "0badc0de", "current": tuning_config_hash(cfg), "changed": changed}},
            "report": report_uris(cfg, ds)["html"], "summary": report_uris(cfg, ds)["json"],
            "model": {"version": 2}}


def request(cfg, doc):
    asset = retrain_asset(cfg)
    events = Events()
    try:
        out = request_retraining(doc, cfg, outlets=[asset], outlet_events=events)
    except AirflowSkipException as exc:
        return None, str(exc), events
    return out, None, events


def test_drift_emits_the_retrain_event_then_the_cooldown_suppresses_the_next(cfg):
    out, skipped, events = request(cfg, checked(cfg))
    assert skipped is None and out["requested"]
    extra = events[retrain_asset(cfg)].extra
    assert extra["ds"] == DS and extra["trigger"] == "drift" and "monthly_price" in extra["reasons"][0]
    state = json.loads(to_path(state_uri(cfg)).read_text())
    assert state["last_request"]["ds"] == DS and len(state["history"]) == 1
    # the next day (24 h of logical time < cooldown_hours 72): suppressed, no event, the state is unchanged
    out, skipped, events = request(cfg, checked(cfg, ds="2026-11-04"))
    assert out is None and "cool-down" in skipped and "48 of monitoring.cooldown_hours=72" in skipped
    assert retrain_asset(cfg) not in events
    assert json.loads(to_path(state_uri(cfg)).read_text())["last_request"]["ds"] == DS
    # a rerun of the same date is suppressed too (the event was emitted once already)
    assert "cool-down" in request(cfg, checked(cfg))[1]
    # after the cool-down: requested again
    out, skipped, events = request(cfg, checked(cfg, ds="2026-11-06"))
    assert out["requested"] and events[retrain_asset(cfg)].extra["ds"] == "2026-11-06"
    assert len(json.loads(to_path(state_uri(cfg)).read_text())["history"]) == 2


def test_no_drift_no_change_is_skipped_with_the_reason(cfg):
    out, skipped, events = request(cfg, checked(cfg, status="ok"))
    assert out is None and "no retraining for dt=2026-11-03: verdict ok" in skipped and not events
    assert not to_path(state_uri(cfg)).exists()
    out, skipped, _ = request(cfg, checked(cfg, status="insufficient_data"))
    assert out is None and "insufficient_data" in skipped


def test_a_config_hash_change_triggers_without_drift(cfg):
    out, skipped, events = request(cfg, checked(cfg, status="ok", changed=True))
    assert skipped is None
    extra = events[retrain_asset(cfg)].extra
    assert extra["trigger"] == "config_change" and "0badc0de" in extra["reasons"][0]


def test_config_changes_reads_the_hash_from_the_tuning_job_name(cfg, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"config_hash": "feedbeef"}))
    storage = SimpleNamespace(read_json=lambda uri: json.loads(to_path(uri).read_text()))
    same = config_changes(cfg, {"tuning_job_name": f"ml-training-20261101-{tuning_config_hash(cfg)}",
                                  "feature_spec_uri": spec.as_uri()}, storage)
    assert not same["training"]["changed"] and same["features"]["changed"]  # feedbeef is not this config's
    other = load_config("local", environ={"MLPIPE__LAKE__ROOT": cfg.lake.root, "MLPIPE__TRAINING__NUM_ROUND": "77"})
    changed = config_changes(other, {"tuning_job_name": f"ml-training-20261101-{tuning_config_hash(cfg)}-r2"},
                               storage)
    assert changed["training"]["changed"] and changed["training"]["serving"] == tuning_config_hash(cfg)
    assert changed["features"] == {"serving": None, "current": changed["features"]["current"], "changed": False}


# ---- check_drift end to end on a synthetic model -------------------------------------------------------------------


def _frame(rng, n, *, shift=0.0, split="score", as_of="2026-11-03", label=False):
    tenure = rng.integers(1, 700, n).astype(float)
    price = rng.choice([7.99, 12.99, 19.99], n, p=[0.45, 0.4, 0.15]) * (1.0 + shift)
    plan = rng.choice(["basic", "standard", "premium"], n)
    logit = -2.0 - tenure / 400 + (plan == "basic") * 0.8
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return pd.DataFrame({"customer_id": np.arange(n), "as_of": pd.Timestamp(as_of).date(), "split": split,
                         "tenure_days": tenure, "monthly_price": np.round(price, 2), "plan": plan,
                         "churned": y if label else np.nan})


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A model directory as train.py writes it (model.json, feature_schema.json, baseline.json)."""
    import xgboost as xgb
    from mlpipe.tasks.training import workload

    data, baseline = workload("data"), workload("baseline")
    rng = np.random.default_rng(0)
    train, valid = _frame(rng, 3000, label=True), _frame(rng, 1000, label=True)
    schema = data.infer_schema(train, "churned", ["customer_id", "as_of", "split"])
    X, y = data.encode(train, schema), data.labels(train, "churned")
    Xv, yv = data.encode(valid, schema), data.labels(valid, "churned")
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1}, xgb.DMatrix(
        X, label=y, enable_categorical=True), num_boost_round=20)
    pv = booster.predict(xgb.DMatrix(Xv, enable_categorical=True))
    out = tmp_path_factory.mktemp("model")
    booster.save_model(str(out / "model.json"))
    (out / "feature_schema.json").write_text(json.dumps(schema.to_dict()))
    doc = baseline.training_baseline(X, y, yv, pv, schema, 0.5, baseline.fit_naive_baseline(X, y, schema))
    (out / "baseline.json").write_text(json.dumps(doc))
    return out


def _gold(cfg, frame):
    part = to_path(f"{cfg.lake.root}/gold/{cfg.features.gold.name}/dt={DS}")
    part.mkdir(parents=True)
    frame.to_parquet(part / "part-00000.parquet", index=False)


def _serving(model_dir, cfg):
    return lambda _cfg, _work: {"group": "mlpipe-churn", "version": 2, "arn": "local:mlpipe-churn/2",
                                "source": "test", "model_dir": str(model_dir), "test_auc": 0.7,
                                "tuning_job_name": f"ml-training-20261101-{tuning_config_hash(cfg)}"}


@pytest.mark.parametrize("shift", [0.0, 0.2])
def test_check_drift_writes_the_report_and_finds_a_planted_price_shift(cfg, model_dir, monkeypatch, shift):
    rng = np.random.default_rng(5)
    _gold(cfg, pd.concat([_frame(rng, 900, shift=shift),
                          _frame(rng, 800, split="train", as_of="2026-10-04", label=True)], ignore_index=True))
    monkeypatch.setattr("mlpipe.tasks.monitoring.serving_model", _serving(model_dir, cfg))
    out = check_drift(DS, cfg)
    summary = json.loads(to_path(out["summary"]).read_text())
    page = to_path(out["report"]).read_text()
    assert out["report"].endswith(f"reports/monitoring/dt={DS}/drift.html") and "<h1>Drift report" in page
    gold = summary["populations"]["gold"]
    assert gold["rows"] == 900 and summary["performance"]["rows"] == 800
    assert summary["predictions"]["gold"]["status"] in ("ok", "drift")
    assert summary["verdict"]["checks"]["features.capture"] == "not_available"  # nothing captured here
    if shift:
        assert out["verdict"]["status"] == "drift" and "monthly_price" in gold["drifted"]
    else:
        assert out["verdict"]["status"] == "ok" and gold["drifted"] == [], gold["reasons"]
    out2, skipped, events = request(cfg, out)
    assert (out2 is not None) == bool(shift)
    summary = json.loads(to_path(out["summary"]).read_text())
    assert summary["retrain"]["decision"] == ("requested" if shift else "not requested")
    assert "Retraining: " in to_path(out["report"]).read_text()


def test_check_drift_without_gold_says_what_to_run(cfg, model_dir, monkeypatch):
    monkeypatch.setattr("mlpipe.tasks.monitoring.serving_model", _serving(model_dir, cfg))
    with pytest.raises(MonitoringError, match="run ml_features for 2026-11-03 first"):
        check_drift(DS, cfg)


def test_the_serving_model_is_the_live_endpoints_version_else_the_newest_approved(cfg, model_dir, tmp_path):
    """One way on both stacks: the endpoint's package ARN (here the local live state file), else the registry's
    newest Approved version; the model directory and the registered facts come with it."""
    import tarfile

    from mlpipe.services import registry_for
    from mlpipe.services.local_endpoints import write_live
    from mlpipe.tasks.monitoring import serving_model

    cfg = cfg.model_copy(update={"deployment": cfg.deployment.model_copy(update={
        "local": cfg.deployment.local.model_copy(update={"run_dir": str(tmp_path / "run")})})})
    group = cfg.training.registry.model_package_group
    tar = tmp_path / "model.tar.gz"
    with tarfile.open(tar, "w:gz") as out:
        for f in model_dir.iterdir():
            out.add(f, arcname=f.name)
    registry = registry_for(cfg)
    with pytest.raises(MonitoringError, match=f"no model is serving: .*'{group}' has no Approved version"):
        serving_model(cfg, tmp_path / "w0")
    first = registry.register(group, model_uri=str(model_dir), tuning_job_name="t1", metrics={"test_auc": 0.71},
                              lineage={"ds": "2026-10-01"}, approval_status="Approved")
    registry.register(group, model_uri=tar.as_uri(), tuning_job_name="t2", metrics={"test_auc": 0.74},
                      lineage={"ds": "2026-10-02"}, approval_status="Approved")
    newest = serving_model(cfg, tmp_path / "w1")
    assert (newest["version"], newest["test_auc"], newest["trained_ds"]) == (2, 0.74, "2026-10-02")
    assert newest["source"] == f"newest Approved package of {group} (no endpoint)"
    assert newest["model_dir"] == str(tmp_path / "w1" / "model") and (tmp_path / "w1/model/baseline.json").is_file()
    write_live(tmp_path / "run", cfg.deployment.endpoint_name, {"version": 1, "arn": first.arn, "url": "http://x"})
    live = serving_model(cfg, tmp_path / "w2")
    assert (live["version"], live["arn"], live["model_dir"]) == (1, first.arn, str(model_dir))
    assert live["source"] == f"endpoint {cfg.deployment.endpoint_name}" and live["tuning_job_name"] == "t1"
