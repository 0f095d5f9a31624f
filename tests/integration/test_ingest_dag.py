"""ml_ingest through real Airflow on the local stack: `airflow dags test`, reruns, `airflow backfill create`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from mlpipe.config import load_config
from mlpipe.dagkit import lake, source_tables
from mlpipe.lake import SUCCESS_MARKER, to_path

from devtools.airflow_local import airflow_env, dags_test, migrate
from devtools.backfill import backfill

pytestmark = pytest.mark.slow

DATES = [dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)]
SMALL = {"MLPIPE__SAMPLE__CUSTOMERS": "300", "MLPIPE__SAMPLE__EVENTS": "20000", "MLPIPE__SAMPLE__HISTORY_DAYS": "30"}


def _prepare(home: Path) -> tuple[dict[str, str], object]:
    env = airflow_env(home / "airflow", extra={"MLPIPE_HOME": str(home), **SMALL})
    cfg = load_config(environ=env)
    from mlpipe.sample import generate

    generate(cfg, DATES)
    migrate(env)
    return env, cfg


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _manifest(cfg, ds: str) -> dict:
    return json.loads(to_path(lake(cfg).manifest("ml_ingest", ds)).read_text())


def test_dags_test_lands_every_table_and_a_rerun_replaces_the_partition(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    env, cfg = _prepare(tmp_path)
    layout = lake(cfg)
    for day in DATES[:2]:
        assert dags_test("ml_ingest", day.isoformat(), env, log_file=tmp_path / f"{day}.log") == "success"

    ds = DATES[1].isoformat()
    manifest = _manifest(cfg, ds)
    assert {(t["source"], t["table"]) for t in manifest["tables"]} == set(source_tables(cfg))
    for t in manifest["tables"]:
        assert t["rows_in"] == t["rows_out"] + t["rows_quarantined"]
    assert manifest["totals"]["rows_out"] > 0
    cdc = next(t for t in manifest["tables"] if t["table"] == "payments")
    assert cdc["details"]["mode"] == "cdc" and cdc["rows_out"] > 0
    clicks = next(t for t in manifest["tables"] if t["table"] == "events")
    assert clicks["rows_out"] > 0, "the day's clickstream files land with their own date"

    before = {pair: _snapshot(to_path(layout.bronze(*pair, ds))) for pair in source_tables(cfg)}
    assert dags_test("ml_ingest", ds, env, log_file=tmp_path / "rerun.log") == "success"
    after = {pair: _snapshot(to_path(layout.bronze(*pair, ds))) for pair in source_tables(cfg)}
    assert after == before, "a rerun of the same logical date must give the identical partition"
    assert _manifest(cfg, ds)["totals"] == manifest["totals"]


def test_backfill_create_gives_one_partition_per_day(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    env, cfg = _prepare(tmp_path)
    monkeypatch.setenv("AIRFLOW_HOME", env["AIRFLOW_HOME"])
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)
    runs = backfill("ml_ingest", DATES[0].isoformat(), DATES[-1].isoformat(), home=Path(env["AIRFLOW_HOME"]),
                    timeout=900)
    assert [(r["logical_date"][:10], r["state"]) for r in runs] == [(d.isoformat(), "success") for d in DATES]
    layout = lake(cfg)
    for pair in source_tables(cfg):
        partitions = sorted(p.name for p in to_path(layout.bronze(*pair)).glob("dt=*"))
        assert partitions == [f"dt={d}" for d in DATES], pair
        for name in partitions:
            assert (to_path(layout.bronze(*pair)) / name / SUCCESS_MARKER).exists()


def test_a_missing_drop_waits_then_fails_clearly_and_the_other_branches_land(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    env = airflow_env(tmp_path / "airflow", extra={
        "MLPIPE_HOME": str(tmp_path), **SMALL,
        "MLPIPE__SOURCES__2__SENSOR_TIMEOUT_SECONDS": "4", "MLPIPE__SOURCES__2__POKE_INTERVAL_SECONDS": "1",
    })
    cfg = load_config(environ=env)
    from mlpipe.sample import generate

    generate(cfg, DATES[:1], defects={DATES[0]: {"missing_drop", "malformed"}})
    migrate(env)
    log = tmp_path / "missing.log"
    with pytest.raises(RuntimeError):
        dags_test("ml_ingest", DATES[0].isoformat(), env, log_file=log)
    text = log.read_text()
    drop = f"accounts_{DATES[0].strftime('%Y%m%d')}.csv"
    assert f"the partner drop {tmp_path}/data/sources/landing/partner/{drop} did not arrive within 4 s" in text
    assert "sources[partner].sensor_timeout_seconds" in text
    layout = lake(cfg)
    assert not to_path(layout.bronze("partner", "accounts", DATES[0].isoformat())).exists()
    events = to_path(layout.bronze("clickstream", "events", DATES[0].isoformat()))
    assert (events / SUCCESS_MARKER).exists(), "the other branches still land"
    rejects = list(to_path(layout.quarantine("clickstream", "events", DATES[0].isoformat())).rglob("*.rejects.jsonl"))
    assert rejects and all('"_reason"' in p.read_text() for p in rejects), "malformed lines are quarantined"
