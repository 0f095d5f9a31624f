"""Data defects the generator can inject on chosen dates, to exercise quality gates and quarantine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import numpy as np

from mlpipe.errors import ConfigError

DEFECTS: dict[str, str] = {
    "nulls": "null customer_id in some events; empty required fields in the partner CSV",
    "out_of_range": "negative payment amounts and a negative price in the database, event_ts far in the "
                    "future, negative company_size in the partner CSV",
    "duplicate_keys": "repeated event_id in the clickstream; duplicate customer_id rows in the partner CSV",
    "renamed_column": "the partner CSV header says creditBand instead of credit_band",
    "malformed": "truncated / invalid JSON lines in the clickstream; partner CSV rows with the wrong field count",
    "late_drop": "the partner file lands in <landing>/_late/ (deliver_late_drop moves it into place)",
    "missing_drop": "no partner file for the date",
}
RATE = {"nulls": 0.02, "out_of_range": 0.01, "duplicate_keys": 0.01, "malformed": 0.005}


def validate_defects(defects: Mapping[dt.date, Iterable[str]] | None) -> dict[dt.date, frozenset[str]]:
    """The defects per date as frozensets; unknown names raise ConfigError listing the allowed ones."""
    out: dict[dt.date, frozenset[str]] = {}
    for day, names in (defects or {}).items():
        chosen = frozenset(names)
        unknown = sorted(chosen - DEFECTS.keys())
        if unknown:
            raise ConfigError(f"unknown defect(s) {unknown} for {day}; allowed: {', '.join(sorted(DEFECTS))}")
        if {"late_drop", "missing_drop"} <= chosen:
            raise ConfigError(f"{day}: late_drop and missing_drop exclude each other; choose one")
        out[day] = chosen
    return out


def parse_defect_args(items: Iterable[str]) -> dict[dt.date, frozenset[str]]:
    """Parse CLI values like ``2026-11-03=nulls,malformed`` (a date may be given more than once)."""
    parsed: dict[dt.date, set[str]] = {}
    for item in items:
        day_text, sep, names = item.partition("=")
        try:
            day = dt.date.fromisoformat(day_text.strip())
        except ValueError:
            raise ConfigError(f"--defects {item!r}: expected YYYY-MM-DD=name[,name...]") from None
        if not sep or not names.strip():
            raise ConfigError(f"--defects {item!r}: name at least one defect; allowed: {', '.join(sorted(DEFECTS))}")
        parsed.setdefault(day, set()).update(n.strip() for n in names.split(",") if n.strip())
    return validate_defects(parsed)


def pick_rows(rng: np.random.Generator, n: int, defects: frozenset[str], order: tuple[str, ...],
              at_least: int = 1) -> dict[str, np.ndarray]:
    """Disjoint, sorted row indices for each defect of ``order`` that is in ``defects``.

    Each gets about its rate of the ``n`` rows and at least ``at_least`` while rows remain, so that
    one defect never hides another (a truncated line cannot also show a null).
    """
    shuffled = rng.permutation(n)
    out: dict[str, np.ndarray] = {}
    pos = 0
    for name in order:
        if name not in defects:
            continue
        k = max(int(rng.binomial(n, RATE.get(name, 0.01))), at_least)
        out[name] = np.sort(shuffled[pos: pos + k])
        pos += len(out[name])
    return out


def truncate(line: str, rng: np.random.Generator) -> str:
    """A JSON line cut somewhere in its middle (no longer valid JSON)."""
    return line[: int(rng.integers(1, max(2, len(line) - 1)))]
