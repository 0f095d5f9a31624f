"""Clickstream JSON lines for one day, generated and written in bounded chunks (streaming).

``<share>/YYYY/MM/DD/events-0000.jsonl``, ``events-0001.jsonl``, ... (a new file every
``EVENTS_PER_FILE`` lines). Customers are processed in chunks of about ``CHUNK_EVENTS`` expected
events, each with its own random stream, so memory stays bounded at any size and the output depends
only on (seed, day, state). The day's folder is built aside and swapped in whole.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from mlpipe.sample.catalog import (
    DEVICE_LOYALTY,
    DEVICE_PROBS,
    DEVICES,
    DRIFT_DEVICE_PROBS,
    EVENT_TYPE_PROBS,
    EVENT_TYPES,
    EVENTS_PER_SESSION,
    PAGE_BY_TYPE,
    PAGE_VIEW_PAGES,
    SAT_BUCKET_EDGES,
    SESSION_SECONDS,
    TITLES,
)
from mlpipe.sample.defects import pick_rows, truncate
from mlpipe.sample.seeding import EVENT_DEFECTS, EVENTS, rng_for
from mlpipe.sample.simulate import DayOutcome
from mlpipe.sample.state import SimState

EVENTS_PER_FILE = 250_000
CHUNK_EVENTS = 100_000
CHUNK_MAX_CUSTOMERS = 50_000
DAY_MS = 86_400_000
FUTURE_DAYS = 3650  # out_of_range: event_ts ten years ahead
FILE_NAME = "events-{:04d}.jsonl"


class _RollingWriter:
    """Writes lines into events-NNNN.jsonl files of at most ``per_file`` lines each."""

    def __init__(self, directory: Path, per_file: int):
        self.directory, self.per_file = directory, per_file
        self.files: list[Path] = []
        self.lines = 0
        self._fh: TextIO | None = None
        self._in_file = 0

    def write(self, lines: list[str]) -> None:
        if self._fh is None:
            self._open_next()
        pos = 0
        while pos < len(lines):
            if self._in_file >= self.per_file:
                self._open_next()
            take = lines[pos: pos + self.per_file - self._in_file]
            assert self._fh is not None
            self._fh.writelines(take)
            self._in_file += len(take)
            self.lines += len(take)
            pos += len(take)

    def _open_next(self) -> None:
        self.close()
        path = self.directory / FILE_NAME.format(len(self.files))
        self.files.append(path)
        self._fh = path.open("w", encoding="utf-8", newline="\n")
        self._in_file = 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def write_day(day_dir: Path, state: SimState, outcome: DayOutcome, defects: frozenset[str]) -> tuple[int, int]:
    """Write the day's events under ``day_dir`` (replacing it); returns (lines, files)."""
    day_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = day_dir.parent / f".{day_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        writer = _RollingWriter(tmp, EVENTS_PER_FILE)
        next_no = 0
        for number, part in enumerate(_chunks(outcome.expected_events)):
            lines, next_no = _chunk_lines(state, outcome, part, number, next_no, defects)
            writer.write(lines)
        if not writer.files:
            writer.write([])
        writer.close()
        old = day_dir.parent / f".{day_dir.name}.old-{uuid.uuid4().hex[:8]}"
        if day_dir.exists():
            os.rename(day_dir, old)
        os.rename(tmp, day_dir)
        shutil.rmtree(old, ignore_errors=True)
        return writer.lines, len(writer.files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _chunks(expected: np.ndarray) -> Iterator[slice]:
    """Consecutive customer ranges of about CHUNK_EVENTS expected events (and CHUNK_MAX_CUSTOMERS)."""
    start = 0
    while start < len(expected):
        cum = np.cumsum(expected[start: start + CHUNK_MAX_CUSTOMERS])
        size = min(int(np.searchsorted(cum, CHUNK_EVENTS)) + 1, len(cum))
        yield slice(start, start + size)
        start += size


def _chunk_lines(state: SimState, outcome: DayOutcome, part: slice, number: int, first_no: int,
                 defects: frozenset[str]) -> tuple[list[str], int]:
    """The JSON lines of one chunk of customers, sorted by time, and the next event number."""
    a = state.arrays
    rng = rng_for(state.seed, outcome.ordinal, EVENTS, number)
    who, not_before = outcome.online[part], outcome.not_before_sec[part] * 1000
    n = rng.poisson(outcome.expected_events[part])
    sessions = np.where(n > 0, np.minimum(n, 1 + rng.poisson(n / EVENTS_PER_SESSION)), 0)
    total = int(n.sum())
    cust = np.repeat(who, n)
    # sessions start at random times (after signup for new customers); events follow within the session
    session_nb = np.repeat(not_before, sessions)
    session_start = session_nb + (rng.random(int(sessions.sum())) * (DAY_MS - session_nb)).astype(np.int64)
    local_session = (rng.random(total) * np.repeat(sessions, n)).astype(np.int64)
    session_index = np.repeat(np.cumsum(sessions) - sessions, n) + local_session
    ms = np.minimum(session_start[session_index] + rng.integers(0, SESSION_SECONDS * 1000, total), DAY_MS - 1)
    order = np.argsort(ms, kind="stable")
    cust, local_session, ms = cust[order], local_session[order], ms[order]
    # what they do depends on satisfaction; where they do it on their device (and the drift)
    bucket = np.digitize(a["sat"][cust], SAT_BUCKET_EDGES)
    cum = np.cumsum(np.asarray(EVENT_TYPE_PROBS), axis=1)
    cum /= cum[:, -1:]
    kind = np.minimum((rng.random(total)[:, None] > cum[bucket]).sum(axis=1), len(EVENT_TYPES) - 1)
    page_pick = rng.integers(0, len(PAGE_VIEW_PAGES), total)
    title = rng.integers(1, TITLES + 1, total)
    mix = DRIFT_DEVICE_PROBS if outcome.drift else DEVICE_PROBS
    device = np.where(rng.random(total) < DEVICE_LOYALTY, a["device"][cust], rng.choice(len(DEVICES), total, p=mix))
    if outcome.drift:
        mobile = rng.random(total) < 0.5
        device = np.where(mobile, 1 + rng.integers(0, 2, total), device)
    day = dt.date.fromordinal(outcome.ordinal)
    start_ms = np.datetime64(day.isoformat(), "ms")
    ts = ms.astype("timedelta64[ms]") + start_ms
    ids: list[int | None] = (cust + 1).tolist()
    drng = rng_for(state.seed, outcome.ordinal, EVENT_DEFECTS, number)
    hit = pick_rows(drng, total, defects, ("nulls", "out_of_range", "malformed", "duplicate_keys"),
                      at_least=1 if number == 0 else 0)
    for k in hit.get("nulls", []):
        ids[k] = None
    ts[hit.get("out_of_range", [])] += np.timedelta64(FUTURE_DAYS, "D")
    ts_text = np.char.add(np.datetime_as_string(ts, unit="ms"), "Z").tolist()
    stamp = f"{day:%Y%m%d}"
    template = np.where(kind == 0, np.asarray(PAGE_VIEW_PAGES)[page_pick], np.asarray(PAGE_BY_TYPE)[kind])
    pages = [p.format(n=t) if "{" in p else p for p, t in zip(template.tolist(), title.tolist(), strict=True)]
    columns = zip(range(first_no, first_no + total), ids, (cust + 1).tolist(), local_session.tolist(),
                  np.asarray(EVENT_TYPES)[kind].tolist(), pages, np.asarray(DEVICES)[device].tolist(), ts_text,
                  strict=True)
    lines = [
        f'{{"event_id": "ev-{stamp}-{no:09d}", "customer_id": {"null" if cid is None else cid}, '
        f'"session_id": "s-{stamp}-{owner}-{sess}", "event_type": "{etype}", "page": "{page}", '
        f'"device": "{dev}", "event_ts": "{when}"}}\n'
        for no, cid, owner, sess, etype, page, dev, when in columns
    ]
    return _corrupt(lines, drng, hit), first_no + total


def _corrupt(lines: list[str], rng: np.random.Generator, hit: dict[str, np.ndarray]) -> list[str]:
    """Apply the line-level defects: truncated lines, and repeated events."""
    for k in hit.get("malformed", []):
        lines[k] = truncate(lines[k].rstrip("\n"), rng) + "\n"
    repeat = set(hit.get("duplicate_keys", np.zeros(0, dtype=np.int64)).tolist())
    return [line for k, line in enumerate(lines) for _ in range(2 if k in repeat else 1)] if repeat else lines
