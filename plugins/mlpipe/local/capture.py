"""Data capture of the local endpoint, in the layout and line format of SageMaker's data capture.

SageMaker's endpoint with a ``DataCaptureConfig`` writes sampled requests and responses to::

    <DestinationS3Uri>/<endpoint>/<variant>/YYYY/MM/DD/HH/<MM>-<SS>-<mmm>-<uuid>.jsonl

one JSON line per captured invocation (UTC hour of the inference time)::

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "1,2,3", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                        "data": "0.93\\n", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2026-11-03T09:15:02Z"},
     "eventVersion": "0"}

``encoding`` is ``CSV`` or ``JSON`` for the content types listed in ``CaptureContentTypeHeader`` (text is
kept as is) and ``BASE64`` otherwise. ``CaptureWriter`` does the same into a local directory: sampling is
deterministic (after ``n`` invocations exactly ``floor(n * percentage / 100)`` are captured, evenly spread),
the request path only appends to an in-memory buffer, and a background thread writes the buffer out every
``flush_interval_s`` and on ``close()`` (the endpoint's shutdown). Only successful invocations are captured,
as on SageMaker. Each worker process of the endpoint has its own writer and its own files.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

DEFAULT_FLUSH_INTERVAL_S = 1.0
DEFAULT_MAX_BUFFERED = 50_000


@dataclass(frozen=True)
class CaptureConfig:
    """What to capture and where; mirrors SageMaker's ``DataCaptureConfig``.

    ``directory`` is the capture root (SageMaker's ``DestinationS3Uri``); ``sampling_percentage`` is
    ``InitialSamplingPercentage`` (0-100); ``capture_input``/``capture_output`` are the ``CaptureOptions``;
    the content-type lists are ``CaptureContentTypeHeader``.
    """

    directory: Path
    sampling_percentage: float = 100.0
    capture_input: bool = True
    capture_output: bool = True
    csv_content_types: tuple[str, ...] = ("text/csv",)
    json_content_types: tuple[str, ...] = ("application/json",)
    flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S
    max_buffered: int = DEFAULT_MAX_BUFFERED

    def __post_init__(self) -> None:
        object.__setattr__(self, "directory", Path(self.directory))
        if not 0 <= self.sampling_percentage <= 100:
            raise ValueError(f"sampling_percentage must be between 0 and 100, got {self.sampling_percentage}")
        if not (self.capture_input or self.capture_output):
            raise ValueError("capture_input and capture_output are both off: nothing would be captured")
        if self.flush_interval_s <= 0:
            raise ValueError(f"flush_interval_s must be > 0, got {self.flush_interval_s}")

    def to_dict(self) -> dict:
        return {"directory": str(self.directory), "sampling_percentage": self.sampling_percentage,
                "capture_input": self.capture_input, "capture_output": self.capture_output,
                "csv_content_types": list(self.csv_content_types),
                "json_content_types": list(self.json_content_types),
                "flush_interval_s": self.flush_interval_s, "max_buffered": self.max_buffered}

    @classmethod
    def from_dict(cls, raw: dict) -> CaptureConfig:
        raw = dict(raw)
        for key in ("csv_content_types", "json_content_types"):
            if key in raw:
                raw[key] = tuple(raw[key])
        return cls(**raw)


class Sampler:
    """Deterministic sampling: invocation ``n`` (1-based) is captured when ``floor(n*p/100)`` steps up."""

    def __init__(self, percentage: float) -> None:
        self._p = percentage
        self._n = 0
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        with self._lock:
            self._n += 1
            n = self._n
        return int(n * self._p // 100) > int((n - 1) * self._p // 100)


def capture_path(directory: Path, endpoint: str, variant: str, when: dt.datetime, file_id: str) -> Path:
    """``<directory>/<endpoint>/<variant>/YYYY/MM/DD/HH/<MM>-<SS>-<mmm>-<id>.jsonl`` (UTC)."""
    return (directory / endpoint / variant / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}" / f"{when:%H}"
            / f"{when:%M-%S}-{when.microsecond // 1000:03d}-{file_id}.jsonl")


class CaptureWriter:
    """Buffers sampled invocations and writes them as SageMaker capture lines from a background thread."""

    def __init__(self, config: CaptureConfig, endpoint: str, variant: str) -> None:
        self.config = config
        self.endpoint = endpoint
        self.variant = variant
        self._sample = Sampler(config.sampling_percentage)
        self._buffer: collections.deque = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file: IO[str] | None = None
        self._file_hour: str | None = None
        self.captured = 0  # offered and sampled
        self.written = 0
        self.dropped = 0  # buffer full (the writer could not keep up)
        self._csv = {c.lower() for c in config.csv_content_types}
        self._json = {c.lower() for c in config.json_content_types}

    # -- request path -----------------------------------------------------------------------------------
    def offer(self, input_type: str | None, input_body: bytes, output_type: str | None, output_body: bytes,
              inference_id: str | None = None) -> bool:
        """Capture this invocation if it is sampled; never blocks. Returns whether it was sampled."""
        if not self._sample():
            return False
        self.captured += 1
        if len(self._buffer) >= self.config.max_buffered:
            self.dropped += 1
            return True
        self._buffer.append((dt.datetime.now(dt.UTC), input_type, input_body, output_type, output_body,
                             inference_id))
        if len(self._buffer) >= 1000:
            self._wake.set()
        return True

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"capture-{self.endpoint}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Write everything buffered, then stop the background thread and close the file."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.dropped:
            log.warning("data capture dropped %d sampled invocations (buffer of %d full)", self.dropped,
                        self.config.max_buffered)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.config.flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - keep serving; the log says why capture failed
                log.exception("data capture flush failed")

    def flush(self) -> None:
        """Write the buffered lines (called by the background thread, and by close())."""
        buf = self._buffer
        while buf:
            lines: list[str] = []
            hour = None
            while buf:
                item = buf[0]
                item_hour = f"{item[0]:%Y%m%d%H}"
                if hour is None:
                    hour = item_hour
                elif item_hour != hour:
                    break
                buf.popleft()
                lines.append(self._line(*item))
            self._write(hour, lines)

    def _write(self, hour: str | None, lines: list[str]) -> None:
        if not lines:
            return
        if self._file is None or self._file_hour != hour:
            if self._file is not None:
                self._file.close()
            now = dt.datetime.now(dt.UTC)
            when = now if f"{now:%Y%m%d%H}" == hour else dt.datetime.strptime(hour, "%Y%m%d%H").replace(tzinfo=dt.UTC)
            path = capture_path(self.config.directory, self.endpoint, self.variant, when, uuid.uuid4().hex)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
            self._file_hour = hour
        self._file.write("".join(lines))
        self._file.flush()
        self.written += len(lines)

    # -- line format ------------------------------------------------------------------------------------
    def _encode(self, content_type: str | None, body: bytes, mode: str) -> dict:
        media = (content_type or "").split(";", 1)[0].strip().lower()
        encoding = "CSV" if media in self._csv else "JSON" if media in self._json else "BASE64"
        if encoding != "BASE64":
            try:
                data = body.decode("utf-8")
            except UnicodeDecodeError:
                encoding = "BASE64"
        if encoding == "BASE64":
            data = base64.b64encode(body).decode("ascii")
        return {"observedContentType": content_type or "", "mode": mode, "data": data, "encoding": encoding}

    def _line(self, when: dt.datetime, input_type: str | None, input_body: bytes, output_type: str | None,
              output_body: bytes, inference_id: str | None) -> str:
        capture: dict = {}
        if self.config.capture_input:
            capture["endpointInput"] = self._encode(input_type, input_body, "INPUT")
        if self.config.capture_output:
            capture["endpointOutput"] = self._encode(output_type, output_body, "OUTPUT")
        meta = {"eventId": str(uuid.uuid4()), "inferenceTime": f"{when:%Y-%m-%dT%H:%M:%SZ}"}
        if inference_id:
            meta["inferenceId"] = inference_id
        return json.dumps({"captureData": capture, "eventMetadata": meta, "eventVersion": "0"},
                          separators=(",", ":")) + "\n"
