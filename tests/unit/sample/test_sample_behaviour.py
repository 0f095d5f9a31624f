"""The simulation is useful: the churn label has signal, the size knob scales, CDC sees simulated time."""

from __future__ import annotations

import collections
import datetime as dt
import json
import sqlite3
import statistics

from mlpipe.sample import generate
from mlpipe.sample.targets import sample_targets
from sample_helpers import D1, D2, D3


def _events_by_customer(cfg, days: list[dt.date]) -> collections.Counter[int]:
    counts: collections.Counter[int] = collections.Counter()
    for day in days:
        for path in sample_targets(cfg).day_dir(day).glob("events-*.jsonl"):
            counts.update(json.loads(line)["customer_id"] for line in path.open())
    return counts


def test_churn_in_next_30_days_is_predictable_from_engagement_and_payment_failures(make_cfg):
    cfg = make_cfg(customers=600, history_days=70, events=70_000)
    generate(cfg, [D1])
    cutoff = D1 - dt.timedelta(days=30)  # label window [cutoff, cutoff + 30 days) ends at D1
    events = _events_by_customer(cfg, [cutoff - dt.timedelta(days=k) for k in range(1, 15)])
    with sqlite3.connect(sample_targets(cfg).sqlite_file) as conn:
        subs = conn.execute("SELECT customer_id, started_at, cancelled_at FROM subscriptions").fetchall()
        failed = {r[0] for r in conn.execute("SELECT DISTINCT customer_id FROM payments WHERE (status = 'failed' "
                                             "OR (status = 'succeeded' AND updated_at > paid_at)) AND paid_at >= ?",
                                             ((cutoff - dt.timedelta(days=30)).isoformat(),))}
    start, end = cutoff.isoformat(), D1.isoformat()
    churners, stayers = [], []
    for customer, started, cancelled in subs:
        if started >= (cutoff - dt.timedelta(days=14)).isoformat() or (cancelled and cancelled < start):
            continue  # only customers subscribed through the whole feature window
        (churners if cancelled and start <= cancelled < end else stayers).append(customer)
    assert len(churners) >= 20 and len(stayers) >= 200
    churn_events = statistics.mean(events[c] for c in churners)
    stay_events = statistics.mean(events[c] for c in stayers)
    assert churn_events < 0.7 * stay_events, (churn_events, stay_events)
    churn_fail = sum(c in failed for c in churners) / len(churners)
    stay_fail = sum(c in failed for c in stayers) / len(stayers)
    assert churn_fail > 1.5 * stay_fail, (churn_fail, stay_fail)


def test_events_knob_scales_the_clickstream(make_cfg):
    small, large = make_cfg("small", events=5_000), make_cfg("large", events=20_000)
    small_report, large_report = generate(small, [D1]), generate(large, [D1])
    assert 4_000 < small_report.events < 6_500
    assert 3.4 < large_report.events / small_report.events < 4.6


def test_event_files_split_when_large(make_cfg, monkeypatch):
    from mlpipe.sample import clickstream

    monkeypatch.setattr(clickstream, "EVENTS_PER_FILE", 100)
    monkeypatch.setattr(clickstream, "CHUNK_EVENTS", 60)  # several generation chunks per day too
    cfg = make_cfg()
    report = generate(cfg, [D1])
    files = sorted(sample_targets(cfg).day_dir(D1).glob("events-*.jsonl"))
    assert len(files) >= 2 and files[0].name == "events-0000.jsonl" and files[1].name == "events-0001.jsonl"
    lines = [json.loads(line) for f in files for line in f.open()]
    assert all(len(f.read_text().splitlines()) <= 100 for f in files)
    assert len({e["event_id"] for e in lines}) == len(lines)
    assert report.event_files >= len(files)
    assert all(e["event_ts"].startswith(D1.isoformat()) and e["event_ts"].endswith("Z") for e in lines)
    assert {e["device"] for e in lines} <= {"web", "ios", "android"}


def test_daily_changes_insert_update_and_delete_at_simulated_times(make_cfg):
    cfg = make_cfg(customers=400, history_days=60)
    generate(cfg, [D1, D2, D3])
    with sqlite3.connect(sample_targets(cfg).sqlite_file) as conn:
        per_day = conn.execute(
            "SELECT substr(commit_ts, 1, 10), table_name, op, count(*) FROM _cdc_log WHERE commit_ts >= ? "
            "GROUP BY 1, 2, 3", (D1.isoformat(),)).fetchall()
        span = conn.execute("SELECT min(commit_ts), max(commit_ts) FROM _cdc_log").fetchone()
        clock = conn.execute("SELECT count(*) FROM _cdc_clock").fetchone()[0]
        history_ops = {r[0] for r in conn.execute("SELECT DISTINCT table_name || ':' || op FROM _cdc_log")}
    assert {day for day, *_ in per_day} == {D1.isoformat(), D2.isoformat(), D3.isoformat()}
    assert {(t, op) for _, t, op, _ in per_day} >= {("customers", "I"), ("subscriptions", "I"), ("payments", "I"),
                                                    ("subscriptions", "U")}
    assert history_ops >= {"customers:U", "payments:U", "payments:D", "subscriptions:D", "customers:D"}
    assert span[0] == f"{D1 - dt.timedelta(days=60)} 00:00:00.000000" and span[1] < f"{D3 + dt.timedelta(days=1)}"
    assert clock == 0  # a real database has no clock row; the generator leaves none behind
