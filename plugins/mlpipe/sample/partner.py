"""The partner's daily CSV drop: every customer on the first requested date, then new and changed ones."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import numpy as np

from mlpipe.config.model import PipelineConfig
from mlpipe.errors import MlPipeError
from mlpipe.sample.catalog import CREDIT_BANDS, INDUSTRIES
from mlpipe.sample.defects import pick_rows
from mlpipe.sample.seeding import PARTNER_DEFECTS, rng_for
from mlpipe.sample.state import ERASED, SimState
from mlpipe.sample.targets import SampleTargets, sample_targets

COLUMNS = ("customer_id", "company_size", "industry", "credit_band", "updated_date")
RENAMED = {"credit_band": "creditBand"}


def partner_rows(state: SimState, ordinal: int) -> list[list[str]]:
    """The rows of the day's file, by customer_id (all customers on the first requested date)."""
    a = state.arrays
    alive = a["status"] != ERASED
    chosen = alive if ordinal == state.first_requested_ord else alive & (a["partner_ord"] == ordinal)
    return [
        [str(i + 1), str(int(a["company_size"][i])), INDUSTRIES[a["industry"][i]], CREDIT_BANDS[a["credit_band"][i]],
         dt.date.fromordinal(int(a["partner_ord"][i])).isoformat()]
        for i in np.flatnonzero(chosen)
    ]


def write_drop(targets: SampleTargets, state: SimState, ordinal: int, defects: frozenset[str]) -> Path | None:
    """Write the day's partner file (to _late/ for late_drop; nothing for missing_drop); returns its path."""
    if "missing_drop" in defects:
        return None
    day = dt.date.fromordinal(ordinal)
    rows = _corrupt(partner_rows(state, ordinal), rng_for(state.seed, ordinal, PARTNER_DEFECTS), defects)
    header = [RENAMED.get(col, col) if "renamed_column" in defects else col for col in COLUMNS]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = targets.drop_path(day, late="late_drop" in defects)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)
    return path


def deliver_late_drop(cfg: PipelineConfig, ds: dt.date) -> Path:
    """Move a late partner file from <landing>/_late/ into the landing directory; returns where it is now."""
    targets = sample_targets(cfg)
    late, final = targets.drop_path(ds, late=True), targets.drop_path(ds)
    if late.is_file():
        os.replace(late, final)
        return final
    if final.is_file():
        return final
    raise MlPipeError(f"no late partner drop for {ds}: neither {late} nor {final} exists; generate {ds} "
                      "with the late_drop defect first")


def _corrupt(rows: list[list[str]], rng: np.random.Generator, defects: frozenset[str]) -> list[list[str]]:
    """Row-level defects, each on rows of its own (blank fields, negative sizes, duplicates, bad widths)."""
    hit = pick_rows(rng, len(rows), defects, ("nulls", "out_of_range", "duplicate_keys", "malformed"))
    for k in hit.get("nulls", []):
        rows[k][int(rng.integers(0, 4))] = ""
    for k in hit.get("out_of_range", []):
        rows[k][1] = str(-abs(int(rows[k][1])))
    for n, k in enumerate(hit.get("malformed", [])):
        rows[k] = [*rows[k], "unexpected"] if n % 2 == 0 else rows[k][:-1]
    repeat = set(hit.get("duplicate_keys", np.zeros(0, dtype=np.int64)).tolist())
    out = []
    for k, row in enumerate(rows):
        out.append(row)
        if k in repeat:
            other = CREDIT_BANDS[(CREDIT_BANDS.index(row[3]) + 1) % len(CREDIT_BANDS)]
            out.append([*row[:3], other, row[4]])
    return out
