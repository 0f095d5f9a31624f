"""Defects appear on the dates asked for, and only there; drift moves the distributions."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import sqlite3

import pytest
from mlpipe.errors import ConfigError
from mlpipe.sample import DEFECTS, catalog, deliver_late_drop, generate
from mlpipe.sample.defects import parse_defect_args
from mlpipe.sample.targets import sample_targets
from sample_helpers import D1, D2, D3

EVENT_DEFECTS = {"nulls", "out_of_range", "duplicate_keys", "malformed"}
CSV_DEFECTS = {"nulls", "out_of_range", "duplicate_keys", "malformed", "renamed_column"}


def events_profile(cfg, day: dt.date) -> dict[str, int]:
    """Counts of each defect's symptom in a day's clickstream."""
    lines = [ln for f in sorted(sample_targets(cfg).day_dir(day).glob("events-*.jsonl")) for ln in f.open()]
    parsed, broken = [], 0
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            broken += 1
    ids = collections.Counter(e["event_id"] for e in parsed)
    horizon = (dt.datetime.combine(day, dt.time()) + dt.timedelta(days=2)).isoformat()
    return {
        "events": len(parsed),
        "malformed": broken,
        "nulls": sum(e["customer_id"] is None for e in parsed),
        "out_of_range": sum(e["event_ts"] > horizon for e in parsed),
        "duplicate_keys": sum(n - 1 for n in ids.values()),
    }


def csv_profile(cfg, day: dt.date) -> dict[str, int]:
    rows = list(csv.reader(sample_targets(cfg).drop_path(day).open()))
    header, body = rows[0], rows[1:]
    good = [r for r in body if len(r) == 5]
    ids = collections.Counter(r[0] for r in body if r and r[0])
    return {
        "rows": len(body),
        "renamed_column": int(header != ["customer_id", "company_size", "industry", "credit_band", "updated_date"]),
        "malformed": len(body) - len(good),
        "nulls": sum(any(v == "" for v in r[:4]) for r in good),
        "out_of_range": sum(r[1].startswith("-") for r in good),
        "duplicate_keys": sum(n - 1 for n in ids.values()),
    }


def negative_amounts(cfg, day: dt.date) -> int:
    with sqlite3.connect(sample_targets(cfg).sqlite_file) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM payments WHERE amount < 0 AND date(paid_at) = ?)"
            " + (SELECT count(*) FROM subscriptions WHERE monthly_price < 0 AND date(updated_at) = ?)",
            (day.isoformat(), day.isoformat()),
        ).fetchone()[0]


def test_each_defect_appears_on_its_date_only(make_cfg):
    cfg = make_cfg(customers=1500)  # enough partner changes on D2 for every row-level defect
    generate(cfg, [D1, D2], defects={D2: EVENT_DEFECTS | CSV_DEFECTS})
    clean_events, bad_events = events_profile(cfg, D1), events_profile(cfg, D2)
    clean_csv, bad_csv = csv_profile(cfg, D1), csv_profile(cfg, D2)
    for defect in EVENT_DEFECTS:
        assert clean_events[defect] == 0, defect
        assert bad_events[defect] >= 1, defect
    for defect in CSV_DEFECTS:
        assert clean_csv[defect] == 0, defect
        assert bad_csv[defect] >= 1, defect
    assert negative_amounts(cfg, D1) == 0
    assert negative_amounts(cfg, D2) >= 2  # a negative payment and a negative price


def test_late_and_missing_drops(make_cfg):
    cfg = make_cfg()
    report = generate(cfg, [D1, D2, D3], defects={D2: {"late_drop"}, D3: {"missing_drop"}})
    targets = sample_targets(cfg)
    assert targets.drop_path(D1).is_file()
    assert not targets.drop_path(D2).exists() and targets.drop_path(D2, late=True).is_file()
    assert not targets.drop_path(D3).exists() and not targets.drop_path(D3, late=True).exists()
    assert len(report.partner_files) == 2
    assert deliver_late_drop(cfg, D2) == targets.drop_path(D2)
    assert targets.drop_path(D2).is_file() and not targets.drop_path(D2, late=True).exists()
    assert deliver_late_drop(cfg, D2) == targets.drop_path(D2)  # idempotent


def test_partner_file_has_everyone_first_then_changes_only(make_cfg):
    cfg = make_cfg()
    generate(cfg, [D1, D2])
    with sqlite3.connect(sample_targets(cfg).sqlite_file) as conn:
        customers = {str(r[0]) for r in conn.execute("SELECT customer_id FROM customers")}
        new_on_d2 = {str(r[0]) for r in conn.execute("SELECT customer_id FROM customers WHERE date(signup_ts) = ?",
                                                      (D2.isoformat(),))}
    first = list(csv.DictReader(sample_targets(cfg).drop_path(D1).open()))
    later = list(csv.DictReader(sample_targets(cfg).drop_path(D2).open()))
    assert {r["customer_id"] for r in first} >= customers - new_on_d2
    assert 0 < len(later) < len(first) / 3
    assert new_on_d2 <= {r["customer_id"] for r in later}
    assert {r["updated_date"] for r in later} == {D2.isoformat()}


def test_unknown_defect_names_the_allowed_ones(make_cfg):
    with pytest.raises(ConfigError, match="unknown defect.*'typo'.*allowed: duplicate_keys, late_drop"):
        generate(make_cfg(), [D1], defects={D1: {"typo"}})
    with pytest.raises(ConfigError, match="allowed"):
        parse_defect_args(["2026-11-01=nulls,nope"])
    assert parse_defect_args(["2026-11-01=nulls,malformed", "2026-11-01=late_drop"]) == {
        D1: frozenset({"nulls", "malformed", "late_drop"})}
    assert set(DEFECTS) == EVENT_DEFECTS | CSV_DEFECTS | {"late_drop", "missing_drop"}


def test_defects_for_dates_not_generated_are_refused(make_cfg):
    with pytest.raises(ConfigError, match="not among the dates"):
        generate(make_cfg(), [D1], defects={D2: {"nulls"}})


def _mix(cfg, days: list[dt.date]) -> dict[str, float]:
    events = [json.loads(ln) for day in days for f in sample_targets(cfg).day_dir(day).glob("*.jsonl") for ln in f.open()]
    online = len({e["customer_id"] for e in events})
    return {"per_customer": len(events) / online / len(days),
            "mobile": sum(e["device"] != "web" for e in events) / len(events)}


def test_drift_shifts_device_mix_engagement_prices_and_countries(make_cfg):
    days = [D1 + dt.timedelta(days=k) for k in range(8)]
    cfg = make_cfg(events=20_000)
    generate(cfg, days, drift_from=days[4])
    before, after = _mix(cfg, days[:4]), _mix(cfg, days[4:])
    assert after["mobile"] > before["mobile"] + 0.2
    assert after["per_customer"] < 0.8 * before["per_customer"]
    with sqlite3.connect(sample_targets(cfg).sqlite_file) as conn:
        prices = set(conn.execute("SELECT plan, monthly_price FROM subscriptions WHERE status = 'active'"))
        paid_before = {r[0] for r in conn.execute("SELECT DISTINCT amount FROM payments WHERE paid_at < ?",
                                                  (days[4].isoformat(),))}
        countries = dict(conn.execute("SELECT date(signup_ts) >= ?, group_concat(DISTINCT country) FROM customers "
                                      "GROUP BY 1", (days[4].isoformat(),)).fetchall())
    assert prices == {(plan, round(price * catalog.DRIFT_PRICE_FACTOR, 2))
                      for plan, price in zip(catalog.PLANS, catalog.PLAN_PRICES, strict=True)}
    assert paid_before == set(catalog.PLAN_PRICES)
    assert "BR" in countries[1] and "BR" not in countries[0]
