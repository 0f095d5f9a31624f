"""ml_features' shared task bodies: the job spec written where LakeLayout says, and the quality gate on result.json
files: pass, fail (a message that says what and where), warn."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
from mlpipe.config import load_config
from mlpipe.dagkit import gold_asset
from mlpipe.errors import DataQualityError, MlPipeError
from mlpipe.lake import LakeLayout, to_path
from mlpipe.tasks.feature_spec import job_spec
from mlpipe.tasks.features import quality_gate, resolve_ds, step_outputs, write_spec

DS = "2026-11-01"


@pytest.fixture
def cfg(tmp_path: Path):
    return load_config("local", environ={"MLPIPE__LAKE__ROOT": f"file://{tmp_path / 'lake'}"})


def _issue(expectation: str, column: str | None, observed, severity: str = "error") -> dict:
    return {"expectation": expectation, "column": column, "severity": severity, "observed": observed,
            "details": None}


def lake(cfg) -> LakeLayout:
    return LakeLayout.from_config(cfg)


def _write(cfg, layer: str, table: str, *, success: bool = True, failed=(), warnings=()) -> dict:
    root = lake(cfg).root
    doc = {
        "success": success, "dataset": f"{layer}.{table}", "ds": DS, "rows": 120,
        "partition_uri": f"{root}/{layer}/{table}/dt={DS}",
        "quarantine_uri": f"{root}/quarantine/{layer}/{table}/dt={DS}",
        "report_uri": f"{root}/quality/{layer}/{table}/dt={DS}/report.html",
        "failed": list(failed), "warnings": list(warnings), "reconciliation": {"rows_in": 125, "rows_out": 120},
    }
    path = to_path(lake(cfg).quality_result(layer, table, DS))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return doc


def _spec(cfg, silver=("customers", "events"), gold="churn_features") -> dict:
    """What write_spec returns (step_outputs of a job spec: each dataset's outputs from LakeLayout)."""
    def dataset(layer: str, name: str) -> dict:
        return {"name": name, "dataset": f"{layer}.{name}", "outputs": lake(cfg).dataset_outputs(layer, name, DS)}

    spec = {"ds": DS, "lake_root": lake(cfg).root, "silver": {"tables": [dataset("silver", t) for t in silver]},
            "gold": dataset("gold", gold)}
    return {"ds": DS, "spec_uri": "file:///x/spec.json", "outputs": step_outputs(spec)}


def _outlet_events():
    return defaultdict(lambda: SimpleNamespace(extra=None))


def test_a_passing_gate_returns_the_partitions_and_emits_the_gold_event(cfg):
    """The Asset event carries the date, partition and rows of the dataset the Asset names (gold.<name>)."""
    _write(cfg, "gold", "churn_features")
    asset = gold_asset(cfg, "churn_features")
    events = _outlet_events()
    summary = quality_gate("gold", _spec(cfg), outlets=[asset], outlet_events=events, cfg=cfg)
    assert summary["success"] is True
    assert summary["partitions"] == {"churn_features": f"{lake(cfg).root}/gold/churn_features/dt={DS}"}
    assert events[asset].extra == {"ds": DS, "partition": summary["partitions"]["churn_features"], "rows": 120}


def test_a_failed_gate_names_every_failed_expectation_with_quarantine_and_report(cfg, caplog):
    _write(cfg, "silver", "customers")
    bad = _write(cfg, "silver", "events", success=False, failed=[
        _issue("expect_column_values_to_not_be_null", "customer_id", 17),
        _issue("expect_column_values_to_be_in_set", "event_type", ["teleport"]),
        _issue("expect_table_row_count_to_be_between", None, 0),
    ])
    events = _outlet_events()
    with caplog.at_level(logging.INFO), pytest.raises(DataQualityError) as err:
        quality_gate("silver", _spec(cfg), outlets=[], outlet_events=events, cfg=cfg)
    message = str(err.value)
    assert f"silver quality gate failed for dt={DS}: 1 of 2 datasets" in message
    assert ("silver.events: expect_column_values_to_not_be_null on column customer_id (severity error): observed 17"
            in message)
    assert "silver.events: expect_column_values_to_be_in_set on column event_type" in message
    assert "'teleport'" in message
    assert "silver.events: expect_table_row_count_to_be_between (severity error): observed 0" in message
    assert f"silver.events: quarantine {bad['quarantine_uri']}" in message
    assert f"silver.events: report {bad['report_uri']}" in message
    assert "silver.customers" not in message, "a passing dataset is not reported as failed"
    assert bad["report_uri"] in caplog.text, "the report's path is logged"
    assert not events, "a failed gate emits no Asset event"


def test_warnings_are_logged_and_pass(cfg, caplog):
    _write(cfg, "silver", "customers", warnings=[_issue("expect_column_mean_to_be_between", "tenure_days", 401.5,
                                                        severity="warning")])
    with caplog.at_level(logging.INFO):
        summary = quality_gate("silver", _spec(cfg, silver=("customers",)), cfg=cfg)
    assert summary["datasets"][0]["warnings"] == 1
    assert "expect_column_mean_to_be_between on column tenure_days (severity warning): observed 401.5" in caplog.text


def test_a_missing_verdict_fails_and_says_which_step(cfg):
    _write(cfg, "silver", "customers")
    with pytest.raises(MlPipeError, match=r"no quality verdict at .*quality/silver/events/dt=2026-11-01/result.json: "
                                          r"the silver step did not finish silver.events"):
        quality_gate("silver", _spec(cfg), cfg=cfg)


def _event(ds: str) -> SimpleNamespace:
    return SimpleNamespace(extra={"ds": ds, "partition": "x"})


def test_the_date_comes_from_the_logical_date_else_from_the_bronze_events():
    assert resolve_ds("2026-11-05", None) == "2026-11-05"
    events = {"a": [_event("2026-11-01"), _event("2026-11-02")], "b": [_event("2026-11-02"), _event("2026-11-01")]}
    assert resolve_ds(None, events) == "2026-11-02"
    with pytest.raises(MlPipeError, match="do not share a date"):
        resolve_ds(None, {"a": [_event("2026-11-01")], "b": [_event("2026-11-02")]})
    with pytest.raises(MlPipeError, match="neither a logical date nor triggering bronze events"):
        resolve_ds(None, {})


def test_write_spec_writes_the_job_spec_where_the_lake_layout_says(cfg):
    summary = write_spec("2026-11-03", cfg=cfg)
    uri = lake(cfg).spec("ml_features", "2026-11-03")
    assert summary["ds"] == "2026-11-03" and summary["spec_uri"] == uri
    written = json.loads(to_path(uri).read_text())
    assert written == json.loads(json.dumps(job_spec(cfg, "2026-11-03"), default=str))
    assert summary["outputs"] == step_outputs(written)
    assert [e["name"] for e in summary["outputs"]["silver"]] == [t.name for t in cfg.features.silver]
    (gold,) = summary["outputs"]["gold"]
    assert gold == {"name": cfg.features.gold.name, "dataset": f"gold.{cfg.features.gold.name}",
                    "result": lake(cfg).quality_result("gold", cfg.features.gold.name, "2026-11-03")}


def test_step_outputs_read_the_verdicts_uris_from_the_spec_and_refuse_a_spec_without_them(cfg):
    spec = _spec(cfg)
    assert spec["outputs"]["silver"][1] == {"name": "events", "dataset": "silver.events",
                                            "result": lake(cfg).quality_result("silver", "events", DS)}
    bare = {"ds": DS, "lake_root": lake(cfg).root, "silver": {"tables": [{"name": "events", "dataset": "silver.events"}]},
            "gold": {"name": "churn_features", "dataset": "gold.churn_features"}}
    with pytest.raises(MlPipeError, match="'silver.events' has no outputs.result"):
        step_outputs(bare)
