"""Stack-agnostic deployment task logic: which version, the run date, the smoke test's gold rows."""

from __future__ import annotations

from types import SimpleNamespace

from mlpipe.tasks.deployment import choose_version, event_versions, gold_records, run_date


def ev(**extra):
    return SimpleNamespace(extra=extra)


def test_choose_version():
    assert choose_version([]) == (None, None)
    events = event_versions({"model": [ev(version=2, status="Approved", ds="2026-11-02"),
                                         ev(version=1, status="Approved")]})
    assert [e["version"] for e in events] == [1, 2]
    assert choose_version(events) == (2, None)
    version, reason = choose_version(event_versions({"m": [ev(version=3, status="PendingManualApproval")]}))
    assert version is None and "make approve VERSION=3" in reason
    assert run_date(None, events) == "2026-11-02"


def test_gold_records_first_rows_or_a_seeded_sample_of_the_scoring_rows(tmp_path):
    """Gold files are ordered by key, and in the sample the oldest customers have the lowest ids: the first
    rows are not the population. The seeded sample is (the traffic that monitoring compares with)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from mlpipe.config import load_config

    cfg = load_config("local", environ={"MLPIPE__LAKE__ROOT": f"file://{tmp_path / 'lake'}"})
    part = tmp_path / "gold"
    part.mkdir()
    keys = list(range(3000))
    pq.write_table(pa.table({
        "customer_id": keys, "as_of": ["2026-11-01"] * 3000,
        "tenure_days": [3000 - k for k in keys],  # old customers first
        "split": ["score" if k % 3 else "train" for k in keys],
        cfg.training.label: [k % 2 for k in keys]}), part / "part-00000.parquet")
    population = [3000 - k for k in keys if k % 3]
    first = gold_records(cfg, f"file://{part}", 500)
    assert [r["tenure_days"] for r in first] == population[:500]
    assert set(first[0]) == {"tenure_days"}  # no label, split, id or time columns
    sample = gold_records(cfg, f"file://{part}", 500, seed=7)
    tenures = [r["tenure_days"] for r in sample]
    assert len(tenures) == len(set(tenures)) == 500 and set(tenures) <= set(population)
    mean = sum(population) / len(population)
    assert abs(sum(tenures) / 500 - mean) < 0.1 * mean < abs(sum(population[:500]) / 500 - mean)
    assert gold_records(cfg, f"file://{part}", 500, seed=7) == sample
    assert len(gold_records(cfg, f"file://{part}", 5000, seed=7)) == len(population)
