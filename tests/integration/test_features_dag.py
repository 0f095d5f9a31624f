"""ml_features end to end on the local stack: `airflow dags test` after ml_ingest, one date, a small sample."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from mlpipe.config import load_config
from mlpipe.dagkit import lake
from mlpipe.lake import SUCCESS_MARKER, to_path
from mlpipe.tasks.features import DAG_ID, step_outputs

from devtools.airflow_local import airflow_env, dags_test, migrate

pytestmark = pytest.mark.slow

DAY = dt.date(2026, 11, 1)
SMALL = {"MLPIPE__SAMPLE__CUSTOMERS": "200", "MLPIPE__SAMPLE__EVENTS": "5000", "MLPIPE__SAMPLE__HISTORY_DAYS": "20"}


def test_features_build_silver_and_gold_behind_their_gates(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    env = airflow_env(tmp_path / "airflow", extra={"MLPIPE_HOME": str(tmp_path), **SMALL})
    cfg = load_config(environ=env)
    from mlpipe.sample import generate

    generate(cfg, [DAY])
    migrate(env)
    ds = DAY.isoformat()
    assert dags_test("ml_ingest", ds, env, log_file=tmp_path / "ingest.log") == "success"
    assert dags_test("ml_features", ds, env, log_file=tmp_path / "features.log") == "success"

    layout = lake(cfg)
    outputs = step_outputs(json.loads(to_path(layout.spec(DAG_ID, ds)).read_text()))
    assert [e["name"] for e in outputs["silver"]] == [t.name for t in cfg.features.silver]
    for entries in outputs.values():
        for entry in entries:
            result = json.loads(to_path(entry["result"]).read_text())
            assert result["success"] is True, result["failed"]
            assert result["ds"] == ds and result["dataset"] == entry["dataset"]
            assert to_path(result["report_uri"]).is_file(), result["report_uri"]
            partition = to_path(result["partition_uri"])
            assert (partition / SUCCESS_MARKER).exists() and any(partition.glob("*.parquet")), partition
    gold = to_path(layout.gold(cfg.features.gold.name, ds))
    assert (gold / SUCCESS_MARKER).exists() and any(gold.glob("*.parquet"))
    log = (tmp_path / "features.log").read_text()
    assert f"gold.{cfg.features.gold.name} dt={ds}: passed" in log, "gate_gold logs its verdict and the report"
