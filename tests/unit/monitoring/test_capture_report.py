"""Capture lines as the local endpoint writes them (SageMaker's format) parse back into rows and scores; the
HTML report shows the verdict, the plots and, later, the retraining decision."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from mlpipe.local.capture import CaptureConfig, CaptureWriter
from monitoring import capture, report

NAMES = ["tenure_days", "plan", "monthly_price"]


def test_capture_written_by_the_local_endpoint_parses_back(tmp_path):
    writer = CaptureWriter(CaptureConfig(directory=tmp_path, flush_interval_s=0.05), "ep", "AllTraffic")
    writer.offer("application/json", json.dumps({"instances": [{"tenure_days": 10, "plan": "basic",
                                                                "monthly_price": 7.99},
                                                               [20, "premium", None]]}).encode(),
                 "application/json", json.dumps({"predictions": [{"score": 0.1}, {"score": 0.7}]}).encode())
    writer.offer("text/csv", b"30,standard,12.99\n", "text/csv", b"0.25\n")
    writer.close()
    files = sorted(tmp_path.glob("ep/AllTraffic/*/*/*/*/*.jsonl"))
    assert len(files) == 1
    got = capture.read_lines(files[0].read_text().splitlines() + ["{not json", ""], NAMES)
    assert got.invocations == 2 and got.unreadable == 1
    assert got.scores == [0.1, 0.7, 0.25]
    frame = got.frame(NAMES)
    assert frame["plan"].tolist() == ["basic", "premium", "standard"]
    assert frame["tenure_days"].tolist()[:2] == [10, 20] and frame["tenure_days"].tolist()[2] == "30"
    assert frame["monthly_price"].isna().tolist() == [False, True, False]
    hour = files[0].relative_to(tmp_path / "ep" / "AllTraffic").as_posix()[:13]
    assert hour in capture.hour_prefixes(dt.datetime.now(dt.UTC).date())


def test_hour_prefixes_cover_whole_days():
    hours = capture.hour_prefixes(dt.date(2026, 11, 3), days=2)
    assert len(hours) == 48 and hours[0] == "2026/11/02/00" and hours[-1] == "2026/11/03/23"


def test_report_has_verdict_plots_and_the_retraining_decision():
    summary = {"ds": "2026-11-03", "model": {"group": "g", "version": 3},
               "verdict": {"status": "drift", "checks": {"features.gold": "drift"}, "reasons": ["price moved"]},
               "thresholds": {"psi": 0.2},
               "populations": {"gold": {"status": "drift", "rows": 900, "features": {
                   "price": {"kind": "numeric", "status": "drift", "psi": 1.2, "p_value": 0.0, "edges": [1.0, 2.0],
                             "baseline_fractions": [0.3, 0.4, 0.3], "fractions": [0.1, 0.2, 0.7],
                             "missing": {"baseline": 0.0, "live": 0.0}, "reasons": ["PSI 1.2"]},
                   "plan": {"kind": "categorical", "status": "ok", "psi": 0.01, "categories": ["a", "b", "__new__"],
                            "baseline_fractions": [0.5, 0.5, 0.0], "fractions": [0.5, 0.5, 0.0],
                            "new_categories": {}, "missing": {}, "reasons": []}}}},
               "predictions": {"gold": {"status": "ok", "rows": 900, "edges": [0.5], "baseline_fractions": [0.9, 0.1],
                                        "fractions": [0.88, 0.12]}},
               "performance": {"status": "insufficient_data", "reasons": ["10 labelled rows"]}}
    page = report.render(summary)
    assert "Verdict: <b style='color:#b00'>drift</b>" in page and "price moved" in page
    assert page.count("data:image/png;base64,") == 3
    amended = report.add_retrain(page, {"decision": "requested", "reasons": ["price moved"]})
    assert "Retraining: requested" in amended and report.RETRAIN_MARK not in amended
    with pytest.raises(ValueError, match="retraining mark"):
        report.add_retrain("<html></html>", {"decision": "x"})
