"""mlpipe.lake: the layout, and partitions replaced whole (a rerun never duplicates, a failure leaves the old)."""

from __future__ import annotations

import pytest
from mlpipe.lake import SUCCESS_MARKER, LakeLayout, atomic_partition, committed_partitions, to_path


def test_layout_uris():
    lake = LakeLayout("s3://bucket/lake")
    assert lake.bronze("oltp", "customers", "2026-11-01") == "s3://bucket/lake/bronze/oltp/customers/dt=2026-11-01"
    assert lake.bronze("oltp", "customers") == "s3://bucket/lake/bronze/oltp/customers"
    assert lake.quarantine("partner", "accounts", "2026-11-02") == (
        "s3://bucket/lake/quarantine/partner/accounts/dt=2026-11-02")
    assert lake.manifest("ml_ingest", "2026-11-01") == "s3://bucket/lake/manifests/ml_ingest/dt=2026-11-01.json"


def test_every_area_of_the_lake_as_the_module_docstring_spells_it():
    lake = LakeLayout("s3://bucket/lake/")
    ds = "2026-11-01"
    assert lake.state("dms", "oltp") == "s3://bucket/lake/_state/dms/oltp"
    assert lake.spec("ml_features", ds) == "s3://bucket/lake/_specs/ml_features/dt=2026-11-01/spec.json"
    assert lake.dataset("silver", "events", ds) == "s3://bucket/lake/silver/events/dt=2026-11-01"
    assert lake.dataset("silver", "events") == "s3://bucket/lake/silver/events"
    assert lake.gold("churn", ds) == "s3://bucket/lake/gold/churn/dt=2026-11-01"
    assert lake.gold("churn") == "s3://bucket/lake/gold/churn"
    assert lake.dataset_quarantine("silver", "events", ds) == "s3://bucket/lake/quarantine/silver/events/dt=2026-11-01"
    assert lake.quality("gold", "churn", ds) == "s3://bucket/lake/quality/gold/churn/dt=2026-11-01"
    assert lake.quality_result("gold", "churn", ds) == "s3://bucket/lake/quality/gold/churn/dt=2026-11-01/result.json"
    assert lake.quality_report("gold", "churn", ds) == "s3://bucket/lake/quality/gold/churn/dt=2026-11-01/report.html"
    assert lake.dataset_outputs("silver", "events", ds) == {
        "partition": "s3://bucket/lake/silver/events/dt=2026-11-01",
        "quarantine": "s3://bucket/lake/quarantine/silver/events/dt=2026-11-01",
        "quarantine_rows": "s3://bucket/lake/quarantine/silver/events/dt=2026-11-01/rows",
        "result": "s3://bucket/lake/quality/silver/events/dt=2026-11-01/result.json",
        "report": "s3://bucket/lake/quality/silver/events/dt=2026-11-01/report.html",
    }
    assert lake.training("churn", ds) == "s3://bucket/lake/training/churn/dt=2026-11-01"
    assert lake.model_versions("churn") == "s3://bucket/lake/registry/churn"
    assert lake.retrain("churn") == "s3://bucket/lake/retrain/churn"
    assert lake.local_registry() == "s3://bucket/lake/registry"
    assert lake.unpacked_model("churn", 3) == "s3://bucket/lake/models/churn/v3"
    assert lake.predictions(ds) == "s3://bucket/lake/predictions/dt=2026-11-01"
    assert lake.staging("ml_deployment", "scoring", ds) == "s3://bucket/lake/_staging/ml_deployment/scoring/dt=2026-11-01"
    assert lake.capture() == "s3://bucket/lake/capture"
    assert lake.deployment_record("churn-dev", ds) == "s3://bucket/lake/deployment/churn-dev/dt=2026-11-01/deployment.json"
    assert lake.reports("monitoring", ds) == "s3://bucket/lake/monitoring/dt=2026-11-01"
    assert lake.reports("monitoring") == "s3://bucket/lake/monitoring"


def test_relative_local_root_becomes_absolute(monkeypatch, tmp_path):
    from mlpipe.config import load_config

    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    lake = LakeLayout.from_config(load_config("local", environ={}))
    assert lake.root == (tmp_path / "data" / "lake").as_uri()
    assert to_path(lake.bronze("a", "b", "2026-11-01")) == tmp_path / "data/lake/bronze/a/b/dt=2026-11-01"


def test_atomic_partition_replaces_whole(tmp_path):
    dest = tmp_path / "t" / "dt=2026-11-01"
    with atomic_partition(dest) as tmp:
        (tmp / "a.parquet").write_text("first")
        (tmp / "b.parquet").write_text("first")
    with atomic_partition(dest) as tmp:
        (tmp / "a.parquet").write_text("second")
    assert sorted(p.name for p in dest.iterdir()) == [SUCCESS_MARKER, "a.parquet"]
    assert (dest / "a.parquet").read_text() == "second"
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["dt=2026-11-01"], "no temporaries left behind"


def test_failed_write_leaves_the_old_partition(tmp_path):
    dest = tmp_path / "t" / "dt=2026-11-01"
    with atomic_partition(dest) as tmp:
        (tmp / "a.parquet").write_text("good")
    with pytest.raises(RuntimeError), atomic_partition(dest) as tmp:
        (tmp / "a.parquet").write_text("half")
        raise RuntimeError("crash mid-write")
    assert (dest / "a.parquet").read_text() == "good"
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["dt=2026-11-01"]


def test_committed_partitions_ignores_incomplete(tmp_path):
    table = tmp_path / "t"
    with atomic_partition(table / "dt=2026-11-02"):
        pass
    (table / "dt=2026-11-01").mkdir()  # no _SUCCESS: not committed
    assert [p.name for p in committed_partitions(table)] == ["dt=2026-11-02"]
    assert committed_partitions(tmp_path / "missing") == []
