"""The chain under a real scheduler: Airflow 3.3.1's own components, no `airflow dags test`.

`airflow api-server`, `scheduler` (LocalExecutor), `dag-processor` and `triggerer` run from .venv against a
throwaway AIRFLOW_HOME (SQLite metadata DB, one task at a time) on the local stack with a small sample:

1. one `ml_ingest` run triggered through the REST API for a date sets off `ml_features`, `ml_training` and
   `ml_deployment` through their Asset events alone, each run succeeding and processing that same date (what it
   wrote in the lake for the date, the date in its XCom, and the upstream events it was created from);
2. an unpaused `ml_ingest` left to its schedule (`@daily`, catchup off) creates one run, for yesterday (UTC), and
   lands yesterday's bronze partitions.

``[scheduler] use_job_schedule`` stays on: with it off the scheduler creates neither scheduled nor
Asset-triggered runs. Every process started here is stopped (process groups) when a test ends, also on failure.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from mlpipe.config import load_config
from mlpipe.dagkit import lake, source_tables
from mlpipe.lake import SUCCESS_MARKER, to_path

from devtools.airflow_local import AirflowServices, airflow_services, free_port, services_env

pytestmark = pytest.mark.slow

DAGS = ["ml_ingest", "ml_features", "ml_training", "ml_deployment", "ml_monitoring"]
DAY = dt.date(2026, 11, 1)
SMALL = {"MLPIPE__SAMPLE__CUSTOMERS": "1000", "MLPIPE__SAMPLE__EVENTS": "30000", "MLPIPE__SAMPLE__HISTORY_DAYS": "120",
         "MLPIPE__TRAINING__TUNING__MAX_JOBS": "2", "MLPIPE__TRAINING__NUM_ROUND": "100"}
# 29 February: ml_ingest's schedule does not come due while test 1 runs, so its only run is the triggered one.
NEVER_DUE = "0 0 29 2 *"


@contextmanager
def running(home: Path, extra: dict[str, str]) -> Iterator[tuple[AirflowServices, Any]]:
    """The four components on ``home``'s AIRFLOW_HOME with the config overrides ``extra``; every DAG parsed."""
    env = services_env(home / "airflow", extra={"MLPIPE_HOME": str(home), **SMALL,
                                                "MLPIPE__DEPLOYMENT__LOCAL__PORT": str(free_port()), **extra})
    assert env.get("AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE", "True") == "True"
    cfg = load_config(environ=env)
    try:
        with airflow_services(env) as services:
            services.wait_for_dags(DAGS)
            yield services, cfg
    finally:
        from mlpipe.local.blue_green import spec_from_config, stop_all

        spec = spec_from_config(cfg)
        stop_all(spec.run_dir, spec.name)


def _generate(cfg: Any, day: dt.date) -> None:
    from mlpipe.sample import generate

    generate(cfg, [day])


def _only_run(services: AirflowServices, dag_id: str, timeout: float) -> dict[str, Any]:
    (run,) = services.wait_for_runs(dag_id, timeout=timeout)
    assert run["state"] == "success", f"{dag_id} {run['dag_run_id']}: {run['state']}; logs in {services.env['AIRFLOW_HOME']}"
    return run


def _events_from(services: AirflowServices, dag_id: str, run: dict[str, Any]) -> list[dict[str, Any]]:
    events = services.upstream_asset_events(dag_id, run["dag_run_id"])
    assert run["run_type"] == "asset_triggered" and events, f"{dag_id} was not created by Asset events: {run}"
    return events


def test_one_triggered_ingest_run_sets_off_features_training_and_deployment_for_its_date(tmp_path, monkeypatch):
    t0 = time.monotonic()
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    ds = DAY.isoformat()
    with running(tmp_path, {"MLPIPE__SCHEDULES__INGEST": NEVER_DUE,
                            "MLPIPE__TRAINING__EVALUATION__BASELINE_MARGIN": "0"}) as (services, cfg):
        _generate(cfg, DAY)
        layout = lake(cfg)
        for dag_id in ("ml_ingest", "ml_features", "ml_training", "ml_deployment"):
            services.set_paused(dag_id, False)
        services.request("POST", "dags/ml_ingest/dagRuns", {"dag_run_id": f"chain__{ds}",
                                                             "logical_date": f"{ds}T00:00:00Z"})
        ingest = _only_run(services, "ml_ingest", timeout=600)
        assert ingest["logical_date"].startswith(ds) and ingest["run_type"] == "manual"
        manifest = json.loads(to_path(layout.manifest("ml_ingest", ds)).read_text())
        assert {(t["source"], t["table"]) for t in manifest["tables"]} == set(source_tables(cfg))

        features = _only_run(services, "ml_features", timeout=900)
        events = _events_from(services, "ml_features", features)
        assert {e["source_run_id"] for e in events} == {ingest["dag_run_id"]}
        assert {e["name"] for e in events} == {f"bronze.{s}.{t}" for s, t in source_tables(cfg)}
        assert {e["extra"]["ds"] for e in events} == {ds}
        assert services.xcom("ml_features", features["dag_run_id"], "write_spec")["ds"] == ds
        gold = to_path(f"{layout.root}/gold/{cfg.features.gold.name}/dt={ds}")
        assert (gold / SUCCESS_MARKER).exists() and any(gold.glob("*.parquet")), gold

        training = _only_run(services, "ml_training", timeout=900)
        (gold_event,) = _events_from(services, "ml_training", training)
        assert gold_event["source_run_id"] == features["dag_run_id"] and gold_event["extra"]["ds"] == ds
        assert services.xcom("ml_training", training["dag_run_id"], "split")["ds"] == ds
        registered = services.xcom("ml_training", training["dag_run_id"], "register")
        assert registered["version"] == 1 and registered["status"] == "Approved", registered
        root = to_path(f"{layout.root}/training/{cfg.training.registry.model_package_group}/dt={ds}")
        assert json.loads((root / "lineage.json").read_text())["model_version"] == 1

        deployment = _only_run(services, "ml_deployment", timeout=600)
        (model_event,) = _events_from(services, "ml_deployment", deployment)
        assert model_event["source_run_id"] == training["dag_run_id"]
        assert (model_event["extra"]["version"], model_event["extra"]["ds"]) == (1, ds)
        resolved = services.xcom("ml_deployment", deployment["dag_run_id"], "resolve_version")
        assert (resolved["version"], resolved["ds"]) == (1, ds)
        record = json.loads(to_path(f"{layout.root}/deployment/{cfg.deployment.endpoint_name}/dt={ds}/"
                                    "deployment.json").read_text())
        assert record["version"] == 1, record
        assert any(to_path(f"{layout.root}/predictions/dt={ds}").rglob("*.parquet"))
        from mlpipe.local.blue_green import spec_from_config
        from mlpipe.services.local_endpoints import read_live

        spec = spec_from_config(cfg)
        assert read_live(spec.run_dir, spec.name)["version"] == 1

        assert services.dag_runs("ml_monitoring") == [], "ml_monitoring stays paused"
        assert len(services.dag_runs("ml_ingest")) == 1
    print(f"\nthe chain under a real scheduler: {time.monotonic() - t0:.0f} s")


def test_an_unpaused_ingest_left_to_its_schedule_processes_yesterday(tmp_path, monkeypatch):
    t0 = time.monotonic()
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    today = dt.datetime.now(dt.UTC).date()
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    with running(tmp_path, {"MLPIPE__SAMPLE__CUSTOMERS": "300", "MLPIPE__SAMPLE__EVENTS": "20000",
                            "MLPIPE__SAMPLE__HISTORY_DAYS": "30"}) as (services, cfg):
        assert cfg.schedules.ingest == "@daily"
        _generate(cfg, today - dt.timedelta(days=1))
        services.set_paused("ml_ingest", False)
        run = _only_run(services, "ml_ingest", timeout=600)
        assert run["run_type"] == "scheduled", run
        assert run["logical_date"].startswith(yesterday), run
        assert run["data_interval_start"].startswith(yesterday) and run["data_interval_end"].startswith(
            today.isoformat()), run
        layout = lake(cfg)
        assert services.xcom("ml_ingest", run["dag_run_id"], "record_manifest")["manifest"] == layout.manifest(
            "ml_ingest", yesterday)
        for pair in source_tables(cfg):
            partitions = sorted(p.name for p in to_path(layout.bronze(*pair)).glob("dt=*"))
            assert partitions == [f"dt={yesterday}"], pair
            assert (to_path(layout.bronze(*pair, yesterday)) / SUCCESS_MARKER).exists(), pair
        assert len(services.dag_runs("ml_ingest")) == 1, "catchup is off: one run, the newest complete day"
    print(f"\nml_ingest on its schedule: {time.monotonic() - t0:.0f} s")
