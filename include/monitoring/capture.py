"""SageMaker data capture -> the captured feature rows and scores.

The endpoint's ``DataCaptureConfig`` writes ``<destination>/<endpoint>/<variant>/YYYY/MM/DD/HH/*.jsonl`` (the
UTC hour of the inference), one JSON line per captured invocation (the local endpoint writes the same, see
``mlpipe.local.capture``)::

    {"captureData": {"endpointInput":  {"observedContentType": "application/json", "mode": "INPUT",
                                        "data": "{\\"instances\\": [...]}", "encoding": "JSON"},
                     "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                        "data": "{\\"predictions\\": [{\\"score\\": 0.1}]}", "encoding": "JSON"}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2026-11-03T09:15:02Z"}, "eventVersion": "0"}

Inputs are the serving contract's requests (``include/serving/inference.py``): CSV rows in the feature
schema's order, or JSON ``{"instances": [...]}`` of rows or records, a single record, a list of rows or one
row. Outputs are ``{"predictions": [{"score": p}, ...]}`` or CSV lines. ``encoding`` ``BASE64`` is decoded
first. A line that cannot be parsed is counted in ``unreadable``, never fatal (the report says how many).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Captured:
    """What the capture lines held: feature rows (as records), scores, and the bookkeeping."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    invocations: int = 0
    unreadable: int = 0
    first: str | None = None
    last: str | None = None

    def frame(self, names: Sequence[str]) -> pd.DataFrame:
        return pd.DataFrame.from_records(self.rows, columns=list(names)) if self.rows else \
            pd.DataFrame(columns=list(names))

    def summary(self) -> dict[str, Any]:
        return {"invocations": self.invocations, "rows": len(self.rows), "scores": len(self.scores),
                "unreadable_lines": self.unreadable, "first_inference": self.first, "last_inference": self.last}


def hour_prefixes(day: dt.date, days: int = 1) -> list[str]:
    """``YYYY/MM/DD/HH`` of every hour of ``days`` days ending with ``day`` (the capture layout's folders)."""
    start = dt.datetime.combine(day - dt.timedelta(days=days - 1), dt.time())
    return [f"{start + dt.timedelta(hours=h):%Y/%m/%d/%H}" for h in range(24 * days)]


def _decode(part: dict[str, Any]) -> tuple[str, str]:
    data = part.get("data") or ""
    if str(part.get("encoding", "")).upper() == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
    media = str(part.get("observedContentType") or "").split(";", 1)[0].strip().lower()
    return media, data


def parse_input(media: str, data: str, names: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of one request as ``{feature: value}`` records (values not yet encoded)."""
    if media == "text/csv":
        reader = csv.reader(io.StringIO(data))
        return [{n: (v if v != "" else None) for n, v in zip(names, row, strict=False)} for row in reader if row]
    doc = json.loads(data)
    if isinstance(doc, dict) and "instances" in doc:
        items = doc["instances"]
    elif isinstance(doc, dict):
        items = [doc]
    elif isinstance(doc, list) and doc and isinstance(doc[0], list | dict):
        items = doc
    else:
        items = [doc]
    out = []
    for item in items:
        if isinstance(item, dict) and "features" in item and isinstance(item["features"], list):
            item = item["features"]
        if isinstance(item, dict):
            out.append({n: item.get(n) for n in names})
        else:
            out.append(dict(zip(names, item, strict=False)))
    return out


def parse_output(media: str, data: str) -> list[float]:
    """The scores of one response."""
    if media == "text/csv":
        return [float(line.split(",")[0]) for line in data.splitlines() if line.strip()]
    doc = json.loads(data)
    preds = doc["predictions"] if isinstance(doc, dict) else doc
    out = []
    for p in preds:
        if isinstance(p, dict):
            out.append(float(p["score"]) if "score" in p else float(max(p["scores"])))
        else:
            out.append(float(p))
    return out


def read_lines(lines: Iterable[str], names: Sequence[str], into: Captured | None = None) -> Captured:
    """Parse capture lines (one JSON document each) into ``into`` (a new :class:`Captured` by default)."""
    cap = into or Captured()
    for line in lines:
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            data = doc.get("captureData") or {}
            rows = parse_input(*_decode(data["endpointInput"]), names) if "endpointInput" in data else []
            scores = parse_output(*_decode(data["endpointOutput"])) if "endpointOutput" in data else []
        except (ValueError, KeyError, TypeError, AttributeError):
            cap.unreadable += 1
            continue
        cap.invocations += 1
        cap.rows.extend(rows)
        cap.scores.extend(scores)
        when = (doc.get("eventMetadata") or {}).get("inferenceTime")
        if when:
            cap.first = min(cap.first or when, when)
            cap.last = max(cap.last or when, when)
    return cap


__all__ = ["Captured", "hour_prefixes", "parse_input", "parse_output", "read_lines"]
