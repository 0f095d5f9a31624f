"""mlpipe.tasks.ingestion_local: land_source runs the local engine of the source's kind and emits its events."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.sdk.execution_time.context import OutletEventAccessors
from mlpipe.config import load_config
from mlpipe.dagkit import bronze_asset
from mlpipe.errors import MlPipeError, SourceUnavailableError
from mlpipe.lake import LakeLayout, to_path
from mlpipe.tasks.ingestion_local import land_source, run_engine

DS = "2026-11-01"
CSV = "customer_id,company_size,industry,credit_band\n1,10,retail,A\n,12,media,B\n3,7,tech,C\n"


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_ENV", "local")
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    landing = tmp_path / "data" / "sources" / "landing" / "partner"
    landing.mkdir(parents=True)
    (landing / "accounts_20261101.csv").write_text(CSV)
    return load_config()


def test_the_drop_lands_and_its_event_carries_the_counts(cfg):
    events = OutletEventAccessors()
    outlet = bronze_asset(cfg, "partner", "accounts")
    (out,) = land_source("partner", ds=DS, outlets=[outlet], outlet_events=events)
    partition = LakeLayout.from_config(cfg).bronze("partner", "accounts", DS)
    assert (out["partition_uri"], out["rows_in"], out["rows_out"], out["rows_quarantined"]) == (partition, 3, 2, 1)
    assert events[outlet].extra == {"ds": DS, "partition": partition, "rows": 2, "rows_quarantined": 1}
    assert (to_path(partition) / "_SUCCESS").exists()


def test_without_the_outlet_the_task_fails(cfg):
    with pytest.raises(MlPipeError, match="partner.accounts landed .* but this task has no outlet"):
        land_source("partner", ds=DS, outlets=[bronze_asset(cfg, "oltp", "customers")],
                    outlet_events=OutletEventAccessors())


def test_each_kind_runs_its_own_engine(cfg):
    layout = LakeLayout.from_config(cfg)
    (drop,) = run_engine(cfg.source("partner"), dt.date(2026, 11, 1), layout)
    assert drop.table == "accounts" and drop.rows_out == 2
    with pytest.raises(SourceUnavailableError, match="clickstream"):  # no share directory here: the DataSync engine
        run_engine(cfg.source("clickstream"), dt.date(2026, 11, 1), layout)
    with pytest.raises(SourceUnavailableError, match="oltp"):  # no database file: the DMS engine
        run_engine(cfg.source("oltp"), dt.date(2026, 11, 1), layout)
