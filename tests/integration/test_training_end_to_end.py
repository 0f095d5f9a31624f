"""ml_training end to end on the local stack: `airflow dags test` after ml_ingest and ml_features, one date, a
small sample and a tiny trial budget; a version is registered whose test AUC beats the naive baseline."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from mlpipe.config import load_config
from mlpipe.lake import to_path
from mlpipe.tasks.training import training_root

from devtools.airflow_local import airflow_env, dags_test, migrate

pytestmark = pytest.mark.slow

DAY = dt.date(2026, 11, 1)
SMALL = {"MLPIPE__SAMPLE__CUSTOMERS": "1500", "MLPIPE__SAMPLE__EVENTS": "30000", "MLPIPE__SAMPLE__HISTORY_DAYS": "120",
         "MLPIPE__TRAINING__TUNING__MAX_JOBS": "2", "MLPIPE__TRAINING__TUNING__MAX_PARALLEL_JOBS": "1",
         "MLPIPE__TRAINING__NUM_ROUND": "100", "MLPIPE__TRAINING__EARLY_STOPPING_ROUNDS": "10",
         "MLPIPE__TRAINING__EVALUATION__BASELINE_MARGIN": "0.0"}


@pytest.mark.xfail(
    reason="issue 4 (Training) is open: on the small CI sample the tuned model's test AUC (0.67) does not yet "
    "beat the naive baseline (0.68), so the gate rightly registers nothing",
    strict=False,
)
def test_training_registers_a_model_that_beats_the_naive_baseline(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    env = airflow_env(tmp_path / "airflow", extra={"MLPIPE_HOME": str(tmp_path), **SMALL})
    cfg = load_config(environ=env)
    from mlpipe.sample import generate

    generate(cfg, [DAY])
    migrate(env)
    ds = DAY.isoformat()
    for dag_id in ("ml_ingest", "ml_features", "ml_training"):
        assert dags_test(dag_id, ds, env, log_file=tmp_path / f"{dag_id}.log") == "success", dag_id

    root = to_path(training_root(cfg, ds))
    split = json.loads((root / "split.json").read_text())
    assert all(split["rows"][c] > 0 for c in ("train", "validation", "test")) and split["gold_files"]
    evaluation = json.loads((root / "evaluation" / "evaluation.json").read_text())
    assert evaluation["model"]["auc"] > evaluation["baselines"]["naive"]["auc"]
    assert (root / "evaluation" / "report.html").is_file() and (root / "evaluation" / "roc.png").is_file()
    lineage = json.loads((root / "lineage.json").read_text())
    assert lineage["model_version"] == 1 and lineage["tuning_job_name"]
    from mlpipe.local.registry import LocalModelRegistry

    (package,) = LocalModelRegistry.from_config(cfg).list(cfg.training.registry.model_package_group)
    assert package.tuning_job_name == lineage["tuning_job_name"] and package.metrics["test_auc"] > 0.5
