"""mlpipe.manifest: a landing whose counts do not add up is refused; the manifest totals every table."""

from __future__ import annotations

import pytest
from mlpipe.manifest import TableLanding, build_manifest


def landing(**counts) -> TableLanding:
    return TableLanding(source="s", table="t", ds="2026-11-01", partition_uri="file:///x", **counts)


def test_rows_must_add_up():
    with pytest.raises(ValueError, match=r"rows_in \(10\) != rows_out \(8\) \+ rows_quarantined \(1\); a row was lost"):
        landing(rows_in=10, rows_out=8, rows_quarantined=1)


def test_manifest_totals_and_round_trip():
    a = landing(files_in=2, files_out=2, rows_in=10, rows_out=9, rows_quarantined=1)
    b = landing(files_in=1, files_out=0, files_quarantined=1, rows_in=5, rows_out=0, rows_quarantined=5)
    doc = build_manifest("ml_ingest", "2026-11-01", [a, b])
    assert doc["totals"] == {"files_in": 3, "files_out": 2, "files_quarantined": 1,
                             "rows_in": 15, "rows_out": 9, "rows_quarantined": 6}
    assert [TableLanding.from_dict(t) for t in doc["tables"]] == [a, b]
