"""Data capture in process: deterministic sampling, SageMaker's layout and line format, background flush."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlpipe.local.capture import CaptureConfig, CaptureWriter, Sampler, capture_path


@settings(deadline=None)  # what it checks is the count; timing under a loaded CI machine is not
@given(pct=st.floats(0, 100), n=st.integers(0, 3000))
def test_sampling_captures_exactly_the_fraction(pct: float, n: int) -> None:
    sample = Sampler(pct)
    assert sum(sample() for _ in range(n)) == int(n * pct // 100)


def test_sampling_is_evenly_spread() -> None:
    sample = Sampler(20)
    assert [i for i in range(1, 21) if sample()] == [5, 10, 15, 20]


def test_capture_path_is_sagemakers_layout() -> None:
    when = dt.datetime(2026, 11, 3, 9, 5, 7, 123456, tzinfo=dt.UTC)
    path = capture_path(Path("/cap"), "churn", "AllTraffic", when, "abc")
    assert path == Path("/cap/churn/AllTraffic/2026/11/03/09/05-07-123-abc.jsonl")


def test_invalid_configs_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        CaptureConfig(tmp_path, 150)
    with pytest.raises(ValueError, match="nothing would be captured"):
        CaptureConfig(tmp_path, capture_input=False, capture_output=False)
    cfg = CaptureConfig(tmp_path, 12.5, capture_output=False)
    assert CaptureConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def _lines(root: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(root.rglob("*.jsonl")) for line in f.read_text().splitlines()]


def test_background_flush_writes_without_close(tmp_path: Path) -> None:
    writer = CaptureWriter(CaptureConfig(tmp_path, flush_interval_s=0.05), "ep", "AllTraffic")
    writer.start()
    try:
        for i in range(5):
            assert writer.offer("text/csv", f"{i},1".encode(), "text/csv", b"0.5\n")
        deadline = time.monotonic() + 5
        while len(_lines(tmp_path)) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [line["captureData"]["endpointInput"]["data"] for line in _lines(tmp_path)] == [
            f"{i},1" for i in range(5)]
    finally:
        writer.close()
    assert writer.written == 5 and writer.dropped == 0


def test_encodings_options_and_inference_id(tmp_path: Path) -> None:
    writer = CaptureWriter(CaptureConfig(tmp_path, capture_output=False), "ep", "blue")
    writer.offer("application/json; charset=utf-8", b'{"a": 1}', "application/json", b"{}", "id-1")
    writer.offer("application/x-npy", b"\x93NUMPY", "text/csv", b"1\n")
    writer.close()
    first, second = _lines(tmp_path)
    assert first["captureData"] == {"endpointInput": {"observedContentType": "application/json; charset=utf-8",
                                                      "mode": "INPUT", "data": '{"a": 1}', "encoding": "JSON"}}
    assert first["eventMetadata"]["inferenceId"] == "id-1"
    assert second["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert base64.b64decode(second["captureData"]["endpointInput"]["data"]) == b"\x93NUMPY"
    assert "inferenceId" not in second["eventMetadata"]
    assert all(p.relative_to(tmp_path).parts[:2] == ("ep", "blue") for p in tmp_path.rglob("*.jsonl"))


def test_each_hour_goes_to_its_own_directory(tmp_path: Path) -> None:
    writer = CaptureWriter(CaptureConfig(tmp_path), "ep", "AllTraffic")
    for hour in (22, 23, 23):
        writer._buffer.append((dt.datetime(2026, 11, 2, hour, 59, tzinfo=dt.UTC), "text/csv", b"1", "text/csv", b"0", None))
    writer.close()
    files = sorted(p.relative_to(tmp_path).parent.as_posix() for p in tmp_path.rglob("*.jsonl"))
    assert files == ["ep/AllTraffic/2026/11/02/22", "ep/AllTraffic/2026/11/02/23"]
    assert [line["eventMetadata"]["inferenceTime"][11:13] for line in _lines(tmp_path)] == ["22", "23", "23"]


def test_a_full_buffer_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    writer = CaptureWriter(CaptureConfig(tmp_path, max_buffered=3), "ep", "AllTraffic")
    for _ in range(5):
        writer.offer("text/csv", b"1", "text/csv", b"0")
    writer.close()
    assert (writer.captured, writer.written, writer.dropped) == (5, 3, 2)
