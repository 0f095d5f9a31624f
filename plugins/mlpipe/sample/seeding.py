"""Independent, reproducible random streams: one per (seed, day, purpose[, chunk])."""

from __future__ import annotations

import numpy as np

# purposes, so that e.g. changing how events are drawn never changes the database's history
SIMULATION = 1
EVENTS = 2
EVENT_DEFECTS = 3
PARTNER = 4
PARTNER_DEFECTS = 5
DB_DEFECTS = 6


def rng_for(seed: int, ordinal: int, purpose: int, *extra: int) -> np.random.Generator:
    """The generator for one purpose on one day (``ordinal`` = date.toordinal())."""
    return np.random.default_rng(np.random.SeedSequence([seed % (1 << 64), ordinal, purpose, *extra]))
