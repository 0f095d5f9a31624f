"""One simulated day of the subscription business, as database changes plus who is online.

Each customer has a latent satisfaction that random-walks (AR(1)). Low satisfaction lowers engagement
(fewer clickstream events, more support and cancel-page visits), raises the chance that a monthly
payment fails and raises the churn hazard; new customers and the basic plan churn more, and a recent
payment failure both lowers satisfaction and raises the hazard. So "subscription cancelled within the
next 30 days" is learnable from recent engagement, payment failures, tenure and plan.

The day's randomness comes from ``rng_for(seed, day, SIMULATION)``: the same state and day always give
the same changes. :func:`simulate_day` mutates the state and returns the changes (with their simulated
second of the day) and the clickstream's inputs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mlpipe.sample.catalog import (
    BILLING_PERIOD_DAYS,
    CHURN_BASE,
    CHURN_NEW,
    CHURN_PLAN,
    CHURN_RECENT_FAILURE,
    CHURN_SAT,
    COMPANY_SIZE_CHANGE_RATE,
    COUNTRIES,
    COUNTRY_PROBS,
    CREDIT_BANDS,
    CREDIT_CHANGE_RATE,
    CREDIT_WORSENS_ON_FAILURE,
    CURRENCY,
    DEVICE_PROBS,
    DEVICES,
    DRIFT_COUNTRY,
    DRIFT_DEVICE_PROBS,
    DRIFT_EVENTS_FACTOR,
    DRIFT_NEW_COUNTRY_SHARE,
    DRIFT_PRICE_FACTOR,
    DRIFT_SIGNUP_FACTOR,
    EMAIL_CHANGE_RATE,
    ENGAGEMENT_NEW_CUSTOMER,
    ENGAGEMENT_PLAN,
    ENGAGEMENT_SAT,
    ERASURE_AFTER_DAYS,
    ERASURE_RATE,
    FAIL_BASE,
    FAIL_SAT,
    FIRST_NAMES,
    INDUSTRIES,
    INITIAL_MAX_TENURE_DAYS,
    LAST_NAMES,
    OPT_IN_FLIP_RATE,
    PLAN_CHANGE_RATE,
    PLAN_PRICES,
    PLAN_PROBS,
    PLANS,
    REFUND_PROB,
    REFUND_WINDOW_DAYS,
    RETRY_AFTER_DAYS,
    RETRY_SUCCESS,
    SAT_NOISE,
    SAT_PAYMENT_FAILURE_SHOCK,
    SAT_PERSISTENCE,
    SIGNUP_RATE,
    VOID_RATE,
)
from mlpipe.sample.seeding import DB_DEFECTS, SIMULATION, rng_for
from mlpipe.sample.state import ACTIVE, CANCELLED, CUSTOMER_ARRAYS, ERASED, NEVER, RETRY_ARRAYS, SimState

SECONDS_PER_DAY = 86_400
SUBSCRIPTION_ID_OFFSET = 1_000_000  # subscription_id = SUBSCRIPTION_ID_OFFSET + customer_id (one per customer)
Op = Literal["insert", "update", "delete"]


@dataclass(frozen=True)
class Change:
    """One row change at a simulated second of the day; ``order`` breaks ties in creation order."""

    sec: int
    order: int
    op: Op
    table: str
    values: dict[str, Any] = field(default_factory=dict)  # insert: the row; update: the new values
    where: dict[str, Any] = field(default_factory=dict)  # update/delete: column == value


@dataclass
class DayOutcome:
    """What a simulated day produced: database changes and the clickstream's inputs."""

    ordinal: int
    changes: list[Change]
    online: np.ndarray  # customer indices with events today
    expected_events: np.ndarray  # expected events per online customer
    not_before_sec: np.ndarray  # first second they can be online (signup time for new customers)
    drift: bool


class _Recorder:
    """Collects a day's changes with timestamps and a running tie-break order."""

    def __init__(self, day: dt.date):
        self.start = dt.datetime.combine(day, dt.time())
        self.changes: list[Change] = []

    def ts(self, sec: int) -> dt.datetime:
        return self.start + dt.timedelta(seconds=int(sec))

    def add(self, sec: int, op: Op, table: str, values: dict[str, Any] | None = None,
            where: dict[str, Any] | None = None) -> None:
        self.changes.append(Change(int(sec), len(self.changes), op, table, values or {}, where or {}))


def sub_id(i: int) -> int:
    return SUBSCRIPTION_ID_OFFSET + i + 1


def email(i: int, version: int) -> str:
    first, last = _name_parts(i)
    local = f"{first}.{last}".lower().replace("-", "")
    return f"{local}{i + 1}@example.com" if version == 0 else f"{local}{i + 1}.{version}@mail.example.net"


def _name_parts(i: int) -> tuple[str, str]:
    return FIRST_NAMES[(i * 7) % len(FIRST_NAMES)], LAST_NAMES[(i * 13 + i // 20) % len(LAST_NAMES)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _price(plan: int, drift: bool) -> float:
    return round(PLAN_PRICES[plan] * (DRIFT_PRICE_FACTOR if drift else 1.0), 2)


def _currency(country: int) -> str:
    return CURRENCY.get(COUNTRIES[country], "EUR")


def simulate_day(state: SimState, ordinal: int, defects: frozenset[str] = frozenset()) -> DayOutcome:
    """Advance ``state`` by one day and return that day's changes and clickstream inputs."""
    a = state.arrays
    day = dt.date.fromordinal(ordinal)
    rng = rng_for(state.seed, ordinal, SIMULATION)
    rec = _Recorder(day)
    drift = state.drift_on(ordinal)
    if state.n == 0:
        _create_customers(state, rec, rng, ordinal, state.customers, drift, initial=True)
    a["sat"][:] = SAT_PERSISTENCE * a["sat"] + SAT_NOISE * rng.standard_normal(state.n)
    online = np.flatnonzero(a["status"] == ACTIVE)
    if drift and not state.repriced:
        _reprice(state, rec, rng, np.flatnonzero(a["status"] != ERASED))
    new = _create_customers(state, rec, rng, ordinal, _signups(state, rng, drift), drift, initial=False)
    billed = _bill(state, rec, rng, ordinal, online)
    involuntary = _retry_failed(state, rec, rng, ordinal)
    churned = _churn(state, rec, rng, ordinal, online, involuntary)
    _void(state, rec, rng, billed, churned)
    stays = np.setdiff1d(online, churned)
    _change_plans(state, rec, rng, stays, drift)
    erased = _erase(state, rec, rng, ordinal)
    _change_contacts(state, rec, rng, erased)
    _change_partner_attributes(state, rng, ordinal)
    if "out_of_range" in defects:
        _out_of_range(state, rec, ordinal, stays)
    everyone = np.concatenate([online, new])
    not_before = np.concatenate([np.zeros(len(online), dtype=np.int64), a["signup_sec"][new].astype(np.int64)])
    rec.changes.sort(key=lambda ch: (ch.sec, ch.order))
    return DayOutcome(ordinal, rec.changes, everyone, _expected_events(state, ordinal, everyone, drift),
                      not_before, drift)


# ---------------------------------------------------------------- customers


def _signups(state: SimState, rng: np.random.Generator, drift: bool) -> int:
    return int(rng.poisson(state.customers * SIGNUP_RATE * (DRIFT_SIGNUP_FACTOR if drift else 1.0)))


def _create_customers(state: SimState, rec: _Recorder, rng: np.random.Generator, ordinal: int, count: int,
                      drift: bool, initial: bool) -> np.ndarray:
    """Append ``count`` customers and record their rows (initial ones signed up in the past)."""
    start = state.n
    if initial:
        signup_ord = ordinal - rng.integers(1, INITIAL_MAX_TENURE_DAYS + 1, count)
        periods = -(-(ordinal - signup_ord) // BILLING_PERIOD_DAYS)
        next_bill = signup_ord + periods * BILLING_PERIOD_DAYS
        sat = rng.normal(0.0, 1.0, count)
    else:
        signup_ord = np.full(count, ordinal)
        next_bill = signup_ord + BILLING_PERIOD_DAYS
        sat = rng.normal(0.3, 0.8, count)
    signup_sec = np.sort(rng.integers(0, SECONDS_PER_DAY - 60, count))
    plan = rng.choice(len(PLANS), count, p=PLAN_PROBS)
    country = rng.choice(len(COUNTRIES), count, p=np.array(COUNTRY_PROBS) / sum(COUNTRY_PROBS))
    if drift:
        country = np.where(rng.random(count) < DRIFT_NEW_COUNTRY_SHARE, COUNTRIES.index(DRIFT_COUNTRY), country)
    device_probs = DRIFT_DEVICE_PROBS if drift else DEVICE_PROBS
    band = np.clip(np.rint(2.0 - sat + rng.normal(0.0, 0.7, count)), 0, len(CREDIT_BANDS) - 1)
    values = {
        "sat": sat,
        "signup_ord": signup_ord,
        "signup_sec": signup_sec,
        "plan": plan,
        "price": [_price(int(p), drift) for p in plan],
        "status": np.full(count, ACTIVE),
        "cancel_ord": np.full(count, -1),
        "next_bill_ord": next_bill,
        "device": rng.choice(len(DEVICES), count, p=device_probs),
        "country": country,
        "email_ver": np.zeros(count),
        "opt_in": rng.random(count) < 0.4,
        "company_size": np.clip(np.exp(rng.normal(3.5, 1.6, count)), 1, 50_000).astype(np.int64),
        "industry": rng.integers(0, len(INDUSTRIES), count),
        "credit_band": band,
        "partner_ord": signup_ord,
        "last_pay_id": np.zeros(count),
        "last_pay_ord": np.full(count, NEVER),
        "last_fail_ord": np.full(count, NEVER),
    }
    state.append(CUSTOMER_ARRAYS, values)
    first_payment_fails = rng.random(count) < _sigmoid(FAIL_BASE + FAIL_SAT * sat)
    a = state.arrays
    for k in range(count):
        i = start + k
        signup_ts = dt.datetime.combine(dt.date.fromordinal(int(signup_ord[k])), dt.time()) + dt.timedelta(
            seconds=int(signup_sec[k]))
        sec = 0 if initial else int(signup_sec[k])
        first, last = _name_parts(i)
        rec.add(sec, "insert", "customers", {
            "customer_id": i + 1, "email": email(i, 0), "name": f"{first} {last}",
            "country": COUNTRIES[int(country[k])], "signup_ts": signup_ts,
            "marketing_opt_in": bool(a["opt_in"][i]), "updated_at": signup_ts,
        })
        rec.add(sec, "insert", "subscriptions", {
            "subscription_id": sub_id(i), "customer_id": i + 1, "plan": PLANS[int(plan[k])],
            "monthly_price": float(a["price"][i]), "status": "active", "started_at": signup_ts,
            "cancelled_at": None, "updated_at": signup_ts,
        })
        if not initial:
            _pay(state, rec, rng, i, sec + 1, ordinal, failed=bool(first_payment_fails[k]))
    return np.arange(start, state.n)


def _expected_events(state: SimState, ordinal: int, who: np.ndarray, drift: bool) -> np.ndarray:
    """Expected clickstream events per online customer: a fixed daily total split by engagement."""
    a = state.arrays
    tenure = ordinal - a["signup_ord"][who]
    weight = (np.exp(ENGAGEMENT_SAT * a["sat"][who]) * np.asarray(ENGAGEMENT_PLAN)[a["plan"][who]]
              * np.where(tenure < 30, ENGAGEMENT_NEW_CUSTOMER, 1.0))
    total = state.events / state.history_days * (DRIFT_EVENTS_FACTOR if drift else 1.0)
    return weight * (total / weight.sum()) if len(who) else weight


# ---------------------------------------------------------------- payments


def _pay(state: SimState, rec: _Recorder, rng: np.random.Generator, i: int, sec: int, ordinal: int,
         failed: bool) -> int:
    """Record a payment of customer ``i``'s current price; a failed one is queued for a retry."""
    a = state.arrays
    pid = state.next_payment_id
    state.next_payment_id += 1
    ts = rec.ts(sec)
    rec.add(sec, "insert", "payments", {
        "payment_id": pid, "customer_id": i + 1, "subscription_id": sub_id(i), "amount": float(a["price"][i]),
        "currency": _currency(int(a["country"][i])), "status": "failed" if failed else "succeeded",
        "paid_at": ts, "updated_at": ts,
    })
    if failed:
        a["sat"][i] += SAT_PAYMENT_FAILURE_SHOCK
        a["last_fail_ord"][i] = ordinal
        state.append(RETRY_ARRAYS, {"retry_pay_id": [pid], "retry_cust": [i],
                                    "retry_ord": [ordinal + RETRY_AFTER_DAYS[0]], "retry_attempt": [1]})
        if rng.random() < CREDIT_WORSENS_ON_FAILURE:
            a["credit_band"][i] = min(a["credit_band"][i] + 1, len(CREDIT_BANDS) - 1)
            a["partner_ord"][i] = ordinal
    else:
        a["last_pay_id"][i] = pid
        a["last_pay_ord"][i] = ordinal
    return pid


def _bill(state: SimState, rec: _Recorder, rng: np.random.Generator, ordinal: int,
          online: np.ndarray) -> list[tuple[int, int, int]]:
    """Monthly payments due today; returns (customer, payment_id, second) of those that succeeded."""
    a = state.arrays
    due = online[a["next_bill_ord"][online] == ordinal]
    failed = rng.random(len(due)) < _sigmoid(FAIL_BASE + FAIL_SAT * a["sat"][due])
    secs = rng.integers(0, SECONDS_PER_DAY, len(due))
    succeeded = []
    for i, fail, sec in zip(due, failed, secs, strict=True):
        pid = _pay(state, rec, rng, int(i), int(sec), ordinal, failed=bool(fail))
        if not fail:
            succeeded.append((int(i), pid, int(sec)))
    a["next_bill_ord"][due] += BILLING_PERIOD_DAYS
    return succeeded


def _retry_failed(state: SimState, rec: _Recorder, rng: np.random.Generator, ordinal: int) -> np.ndarray:
    """Retry failed payments due today (failed -> succeeded); returns customers out of retries."""
    a = state.arrays
    due = np.flatnonzero(a["retry_ord"] == ordinal)
    ok = rng.random(len(due)) < RETRY_SUCCESS
    secs = rng.integers(0, SECONDS_PER_DAY, len(due))
    give_up: list[int] = []
    for j, success, sec in zip(due, ok, secs, strict=True):
        i = int(a["retry_cust"][j])
        if success:
            rec.add(int(sec), "update", "payments", {"status": "succeeded", "updated_at": rec.ts(sec)},
                    {"payment_id": int(a["retry_pay_id"][j])})
            a["last_pay_id"][i], a["last_pay_ord"][i] = a["retry_pay_id"][j], ordinal
        elif a["retry_attempt"][j] < len(RETRY_AFTER_DAYS):
            a["retry_attempt"][j] += 1
            a["retry_ord"][j] = ordinal + RETRY_AFTER_DAYS[a["retry_attempt"][j] - 1]
            continue
        else:
            give_up.append(i)
        a["retry_ord"][j] = -1
    state.keep_retries(a["retry_ord"] >= 0)
    return np.unique(np.asarray(give_up, dtype=np.int64))


# ---------------------------------------------------------------- lifecycle


def _churn(state: SimState, rec: _Recorder, rng: np.random.Generator, ordinal: int, online: np.ndarray,
           involuntary: np.ndarray) -> np.ndarray:
    """Cancel subscriptions: the churn hazard for everyone online, plus those out of payment retries."""
    a = state.arrays
    tenure = ordinal - a["signup_ord"][online]
    logit = (CHURN_BASE + CHURN_SAT * a["sat"][online] + CHURN_NEW * (tenure < 45)
             + np.asarray(CHURN_PLAN)[a["plan"][online]]
             + CHURN_RECENT_FAILURE * (ordinal - a["last_fail_ord"][online] <= 14))
    voluntary = online[rng.random(len(online)) < _sigmoid(logit)]
    churned = np.union1d(voluntary, involuntary[a["status"][involuntary] == ACTIVE])
    secs = rng.integers(0, SECONDS_PER_DAY - 120, len(churned))
    refund = rng.random(len(churned)) < REFUND_PROB
    for i, sec, do_refund in zip(churned, secs, refund, strict=True):
        ts = rec.ts(sec)
        rec.add(int(sec), "update", "subscriptions", {"status": "cancelled", "cancelled_at": ts, "updated_at": ts},
                {"subscription_id": sub_id(int(i))})
        paid_recently = ordinal - a["last_pay_ord"][i] <= REFUND_WINDOW_DAYS and a["last_pay_id"][i] > 0
        if do_refund and paid_recently and i not in involuntary:
            rec.add(int(sec) + 60, "update", "payments", {"status": "refunded", "updated_at": rec.ts(sec + 60)},
                    {"payment_id": int(a["last_pay_id"][i])})
            a["last_pay_ord"][i] = NEVER
    a["status"][churned] = CANCELLED
    a["cancel_ord"][churned] = ordinal
    state.keep_retries(~np.isin(a["retry_cust"], churned))
    return churned


def _void(state: SimState, rec: _Recorder, rng: np.random.Generator, billed: list[tuple[int, int, int]],
          churned: np.ndarray) -> None:
    """Void (delete) a few of today's successful payments, later the same day (not of today's churners)."""
    a = state.arrays
    draw = rng.random(len(billed))
    later = rng.integers(60, 3600, len(billed))
    for (i, pid, sec), u, delay in zip(billed, draw, later, strict=True):
        if u < VOID_RATE and i not in churned:
            rec.add(min(sec + int(delay), SECONDS_PER_DAY - 1), "delete", "payments", where={"payment_id": pid})
            if a["last_pay_id"][i] == pid:
                a["last_pay_ord"][i] = NEVER


def _reprice(state: SimState, rec: _Recorder, rng: np.random.Generator, who: np.ndarray) -> None:
    """Drift: the new, higher price list is restated on every subscription record, cancelled ones included.

    (Repricing only the active ones would leak the label into the gold table: silver holds each subscription's
    current state, so every older training snapshot would see the new price exactly for the customers who
    had not churned.)"""
    a = state.arrays
    secs = rng.integers(0, 3600, len(who))
    for i, sec in zip(who, secs, strict=True):
        a["price"][i] = _price(int(a["plan"][i]), True)
        rec.add(int(sec), "update", "subscriptions", {"monthly_price": float(a["price"][i]),
                                                      "updated_at": rec.ts(sec)}, {"subscription_id": sub_id(int(i))})
    state.repriced = True


def _change_plans(state: SimState, rec: _Recorder, rng: np.random.Generator, stays: np.ndarray,
                  drift: bool) -> None:
    """Upgrades (satisfied customers) and downgrades (unsatisfied ones)."""
    a = state.arrays
    movers = stays[rng.random(len(stays)) < PLAN_CHANGE_RATE]
    secs = rng.integers(0, SECONDS_PER_DAY, len(movers))
    for i, sec in zip(movers, secs, strict=True):
        plan = int(a["plan"][i])
        new_plan = plan + 1 if a["sat"][i] > 0 else plan - 1
        if not 0 <= new_plan < len(PLANS):
            continue
        a["plan"][i], a["price"][i] = new_plan, _price(new_plan, drift)
        rec.add(int(sec), "update", "subscriptions", {
            "plan": PLANS[new_plan], "monthly_price": float(a["price"][i]), "updated_at": rec.ts(sec)},
            {"subscription_id": sub_id(int(i))})


def _erase(state: SimState, rec: _Recorder, rng: np.random.Generator, ordinal: int) -> np.ndarray:
    """GDPR erasure: delete every row of a few long-cancelled customers."""
    a = state.arrays
    eligible = np.flatnonzero((a["status"] == CANCELLED) & (a["cancel_ord"] <= ordinal - ERASURE_AFTER_DAYS))
    erased = eligible[rng.random(len(eligible)) < ERASURE_RATE]
    secs = rng.integers(0, SECONDS_PER_DAY, len(erased))
    for i, sec in zip(erased, secs, strict=True):
        rec.add(int(sec), "delete", "payments", where={"customer_id": int(i) + 1})
        rec.add(int(sec), "delete", "subscriptions", where={"subscription_id": sub_id(int(i))})
        rec.add(int(sec), "delete", "customers", where={"customer_id": int(i) + 1})
    a["status"][erased] = ERASED
    return erased


def _change_contacts(state: SimState, rec: _Recorder, rng: np.random.Generator, erased_today: np.ndarray) -> None:
    """E-mail changes and marketing opt-in flips of customers not erased."""
    a = state.arrays
    alive = np.setdiff1d(np.flatnonzero(a["status"] != ERASED), erased_today)
    draw = rng.random((2, len(alive)))
    secs = rng.integers(0, SECONDS_PER_DAY, (2, len(alive)))
    for k in np.flatnonzero(draw[0] < EMAIL_CHANGE_RATE):
        i, sec = int(alive[k]), int(secs[0, k])
        a["email_ver"][i] += 1
        rec.add(sec, "update", "customers", {"email": email(i, int(a["email_ver"][i])), "updated_at": rec.ts(sec)},
                {"customer_id": i + 1})
    for k in np.flatnonzero(draw[1] < OPT_IN_FLIP_RATE):
        i, sec = int(alive[k]), int(secs[1, k])
        a["opt_in"][i] = not a["opt_in"][i]
        rec.add(sec, "update", "customers", {"marketing_opt_in": bool(a["opt_in"][i]), "updated_at": rec.ts(sec)},
                {"customer_id": i + 1})


def _change_partner_attributes(state: SimState, rng: np.random.Generator, ordinal: int) -> None:
    """The partner's view of customers changes now and then (credit band follows satisfaction)."""
    a = state.arrays
    alive = a["status"] != ERASED
    draw = rng.random((3, state.n))
    credit = alive & (draw[0] < CREDIT_CHANGE_RATE)
    worse = draw[1] < np.where(a["sat"] < 0, 0.7, 0.3)
    a["credit_band"][credit] = np.clip(a["credit_band"][credit] + np.where(worse[credit], 1, -1), 0,
                                       len(CREDIT_BANDS) - 1)
    size = alive & (draw[2] < COMPANY_SIZE_CHANGE_RATE)
    a["company_size"][size] = np.maximum(1, (a["company_size"][size] * 1.25).astype(np.int64))
    a["partner_ord"][credit | size] = ordinal


def _out_of_range(state: SimState, rec: _Recorder, ordinal: int, stays: np.ndarray) -> None:
    """Defect: negative payment amounts and a negative subscription price in the database."""
    rng = rng_for(state.seed, ordinal, DB_DEFECTS)
    payments = [k for k, ch in enumerate(rec.changes) if ch.op == "insert" and ch.table == "payments"]
    for k in rng.permutation(payments)[: max(1, len(payments) // 20)]:
        ch = rec.changes[int(k)]
        rec.changes[int(k)] = Change(ch.sec, ch.order, ch.op, ch.table,
                                     {**ch.values, "amount": -abs(ch.values["amount"])}, ch.where)
    if len(stays):
        i = int(rng.choice(stays))
        sec = int(rng.integers(0, SECONDS_PER_DAY))
        rec.add(sec, "update", "subscriptions", {"monthly_price": -float(state.arrays["price"][i]),
                                                 "updated_at": rec.ts(sec)}, {"subscription_id": sub_id(i)})
