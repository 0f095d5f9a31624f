"""Stack-agnostic deployment task logic: which version, the run date, the smoke-test checks."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from mlpipe.tasks import deployment as d


def ev(**extra):
    return SimpleNamespace(extra=extra)


def test_choose_version():
    assert d.choose_version([]) == (None, None)
    events = d.event_versions({"model": [ev(version=2, status="Approved", ds="2026-11-02"),
                                         ev(version=1, status="Approved")]})
    assert [e["version"] for e in events] == [1, 2]
    assert d.choose_version(events) == (2, None)
    version, reason = d.choose_version(d.event_versions({"m": [ev(version=3, status="PendingManualApproval")]}))
    assert version is None and "make approve VERSION=3" in reason
    assert d.run_date(None, events) == "2026-11-02"


def test_check_predictions():
    ok = json.dumps({"predictions": [{"score": 0.2}, {"score": 0.9}]}).encode()
    assert d.check_predictions(ok, 2) == [0.2, 0.9]
    with pytest.raises(d.SmokeTestError, match="2 rows sent but 1"):
        d.check_predictions(json.dumps({"predictions": [{"score": 0.2}]}).encode(), 2)
    with pytest.raises(d.SmokeTestError, match="invalid scores"):
        d.check_predictions(json.dumps({"predictions": [{"score": 1.5}]}).encode(), 1)
    with pytest.raises(d.SmokeTestError, match="not"):
        d.check_predictions(b"oops", 1)


def test_request_rows():
    assert d._rows("text/csv", "1,2\n3,4\n") == 2
    assert d._rows("application/json", '{"instances": [[1], [2], [3]]}') == 3
    assert d._rows("application/json", '{"a": 1}') == 1
