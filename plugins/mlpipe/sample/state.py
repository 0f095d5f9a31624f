"""The simulation's state between days, persisted so that a later call continues where one stopped.

Saved under ``<sources>/_generator_state/`` as ``state.json`` (scalars) and ``arrays.npz`` (one array
per customer attribute), swapped in atomically after every simulated day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from mlpipe.config.model import SampleConfig
from mlpipe.errors import ConfigError
from mlpipe.lake import SUCCESS_MARKER, atomic_partition

STATE_JSON = "state.json"
ARRAYS_NPZ = "arrays.npz"
FORMAT_VERSION = 1
NEVER = -(10**6)  # an ordinal long before any simulated day

# status codes
ACTIVE, CANCELLED, ERASED = 0, 1, 2

# per-customer arrays (index = customer_id - 1) and their dtypes
CUSTOMER_ARRAYS: dict[str, str] = {
    "sat": "f8",  # latent satisfaction
    "signup_ord": "i4",
    "signup_sec": "i4",
    "plan": "i1",
    "price": "f8",
    "status": "i1",
    "cancel_ord": "i4",
    "next_bill_ord": "i4",
    "device": "i1",
    "country": "i1",
    "email_ver": "i2",
    "opt_in": "?",
    "company_size": "i4",
    "industry": "i1",
    "credit_band": "i1",
    "partner_ord": "i4",
    "last_pay_id": "i8",
    "last_pay_ord": "i4",
    "last_fail_ord": "i4",
}
# failed payments waiting for a retry
RETRY_ARRAYS: dict[str, str] = {"retry_pay_id": "i8", "retry_cust": "i8", "retry_ord": "i4", "retry_attempt": "i1"}


@dataclass
class SimState:
    """Everything the next simulated day depends on (randomness is re-seeded per day)."""

    seed: int
    customers: int
    history_days: int
    events: int
    first_ord: int  # first history day
    first_requested_ord: int  # first non-history day (the partner's full file)
    last_ord: int  # last day generated; first_ord - 1 before any
    next_payment_id: int = 1
    drift_from_ord: int | None = None
    repriced: bool = False
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def fresh(cls, sample: SampleConfig, first_requested_ord: int) -> SimState:
        state = cls(
            seed=sample.seed,
            customers=sample.customers,
            history_days=sample.history_days,
            events=sample.events,
            first_ord=first_requested_ord - sample.history_days,
            first_requested_ord=first_requested_ord,
            last_ord=first_requested_ord - sample.history_days - 1,
        )
        state.arrays = {name: np.zeros(0, dtype=dtype) for name, dtype in {**CUSTOMER_ARRAYS, **RETRY_ARRAYS}.items()}
        return state

    @property
    def n(self) -> int:
        """Customers created so far (ids 1..n)."""
        return len(self.arrays["sat"])

    def drift_on(self, ordinal: int) -> bool:
        return self.drift_from_ord is not None and ordinal >= self.drift_from_ord

    def check_matches(self, sample: SampleConfig, state_dir: Path) -> None:
        """Raise ConfigError when the saved simulation was made with other sample settings."""
        saved = {k: getattr(self, k) for k in ("seed", "customers", "history_days", "events")}
        wanted = {k: getattr(sample, k) for k in saved}
        if saved != wanted:
            changed = {k: f"{saved[k]} -> {wanted[k]}" for k in saved if saved[k] != wanted[k]}
            raise ConfigError(
                f"sample settings changed since the sources were generated ({changed}); the simulation in "
                f"{state_dir} cannot continue with them. Run `python -m mlpipe.sample reset` to start over, "
                "or restore the old settings"
            )

    def append(self, group: dict[str, str], values: dict[str, np.ndarray]) -> None:
        """Append rows to every array of ``group`` (CUSTOMER_ARRAYS or RETRY_ARRAYS)."""
        for name, dtype in group.items():
            self.arrays[name] = np.concatenate([self.arrays[name], np.asarray(values[name], dtype=dtype)])

    def keep_retries(self, mask: np.ndarray) -> None:
        for name in RETRY_ARRAYS:
            self.arrays[name] = self.arrays[name][mask]


def save_state(state: SimState, state_dir: Path) -> None:
    scalars = {f.name: getattr(state, f.name) for f in fields(state) if f.name != "arrays"}
    with atomic_partition(state_dir) as tmp:
        (tmp / STATE_JSON).write_text(json.dumps({"format": FORMAT_VERSION, **scalars}, indent=2, sort_keys=True))
        np.savez(tmp / ARRAYS_NPZ, **state.arrays)


def load_state(state_dir: Path) -> SimState | None:
    """The saved state, or None when nothing was generated yet."""
    if not (state_dir / SUCCESS_MARKER).exists():
        return None
    raw: dict[str, Any] = json.loads((state_dir / STATE_JSON).read_text())
    if raw.pop("format", None) != FORMAT_VERSION:
        raise ConfigError(f"{state_dir}: written by another version of the generator; run "
                          "`python -m mlpipe.sample reset` and generate again")
    state = SimState(**raw)
    with np.load(state_dir / ARRAYS_NPZ, allow_pickle=False) as npz:
        state.arrays = {name: npz[name] for name in {**CUSTOMER_ARRAYS, **RETRY_ARRAYS}}
    return state

