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


def pick(rng: np.random.Generator, n: int, defect: str, at_least_one: bool = True) -> np.ndarray:
    """Sorted distinct indices of the rows a defect hits (its rate, and at least one when asked)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = int(rng.binomial(n, RATE.get(defect, 0.01)))
    k = min(n, max(k, 1 if at_least_one else 0))
    return np.sort(rng.choice(n, k, replace=False))


def truncate(line: str, rng: np.random.Generator) -> str:
    """A JSON line cut somewhere in its middle (no longer valid JSON)."""
    return line[: int(rng.integers(1, max(2, len(line) - 1)))]
