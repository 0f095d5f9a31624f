"""Same seed and dates give identical sources; a split run equals a single run; reruns skip."""

from __future__ import annotations

import pytest
from mlpipe.errors import ConfigError
from mlpipe.sample import generate
from sample_helpers import D1, D2, D3, db_dump, source_files


def test_same_seed_gives_identical_database_and_byte_identical_files(make_cfg):
    a, b = make_cfg("a"), make_cfg("b")
    defects = {D2: {"nulls", "duplicate_keys", "malformed", "out_of_range"}}
    generate(a, [D1, D2], defects=defects, drift_from=D2)
    generate(b, [D1, D2], defects=defects, drift_from=D2)
    dump_a, files_a = db_dump(a), source_files(a)
    assert dump_a == db_dump(b)
    assert files_a == source_files(b)
    assert len(dump_a["customers"]) >= 150 and len(dump_a["_cdc_log"]) > len(dump_a["customers"])
    assert any(name.endswith(".jsonl") for name in files_a) and any(name.endswith(".csv") for name in files_a)


def test_another_seed_gives_other_data(make_cfg):
    a, b = make_cfg("a"), make_cfg("b", seed=8)
    generate(a, [D1])
    generate(b, [D1])
    assert db_dump(a)["payments"] != db_dump(b)["payments"]
    assert source_files(a) != source_files(b)


def test_split_call_equals_single_call(make_cfg):
    single, split = make_cfg("single"), make_cfg("split")
    generate(single, [D1, D2, D3], defects={D3: {"late_drop"}})
    generate(split, [D1])
    report = generate(split, [D2, D3], defects={D3: {"late_drop"}})
    assert report.generated == [D2, D3] and report.history_days == 0
    assert db_dump(single) == db_dump(split)
    assert source_files(single) == source_files(split)


def test_rerun_skips_generated_dates_and_changes_nothing(make_cfg):
    cfg = make_cfg()
    generate(cfg, [D1, D2])
    before = (db_dump(cfg), source_files(cfg))
    report = generate(cfg, [D1, D2])
    assert report.generated == [] and report.skipped == [D1, D2]
    assert "already generated" in report.summary()
    assert (db_dump(cfg), source_files(cfg)) == before


def test_dates_must_continue_the_simulation(make_cfg):
    cfg = make_cfg()
    generate(cfg, [D1])
    with pytest.raises(ConfigError, match=r"continue the simulation from 2026-11-02"):
        generate(cfg, [D3])


def test_changed_sample_settings_are_refused(make_cfg):
    generate(make_cfg("x"), [D1])
    with pytest.raises(ConfigError, match=r"sample settings changed.*events.*reset"):
        generate(make_cfg("x", events=9_000), [D2])
