"""mlpipe.tasks.manifest: record_manifest writes the run manifest into the configured lake."""

from __future__ import annotations

import json
import types

from mlpipe.config import load_config
from mlpipe.lake import LakeLayout, to_path
from mlpipe.manifest import TableLanding
from mlpipe.tasks.manifest import record_manifest


def test_the_manifest_lands_in_the_lake_with_the_totals(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_ENV", "local")
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    layout = LakeLayout.from_config(load_config())
    ds = "2026-11-01"
    a = TableLanding("oltp", "customers", ds, layout.bronze("oltp", "customers", ds), files_in=1, files_out=1,
                     rows_in=5, rows_out=5)
    b = TableLanding("partner", "accounts", ds, layout.bronze("partner", "accounts", ds), files_in=1, files_out=1,
                     rows_in=4, rows_out=3, rows_quarantined=1)
    out = record_manifest([[a.to_dict()], [b.to_dict()]], ds=ds, dag_run=types.SimpleNamespace(dag_id="ml_ingest"))
    uri = layout.manifest("ml_ingest", ds)
    assert uri.startswith(tmp_path.as_uri())
    assert out == {"manifest": uri, "files_in": 2, "files_out": 2, "files_quarantined": 0, "rows_in": 9,
                   "rows_out": 8, "rows_quarantined": 1}
    doc = json.loads(to_path(uri).read_text())
    assert [TableLanding.from_dict(t) for t in doc["tables"]] == [a, b] and doc["ds"] == ds
