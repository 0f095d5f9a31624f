"""mlpipe.local.tuning.records: a trial's record survives the round trip through trial.json; a missing or
unreadable record reads as none."""

from __future__ import annotations

import json

from mlpipe.local.tuning.records import RECORD, TrialResult, TuningResult, read_record, write_record


def result(tmp_path, **over) -> TrialResult:
    fields = dict(number=2, name="job-003-0123abcd", status="Completed", hyperparameters={"eta": "0.1"},
                  objective=0.81, metrics={"validation:auc": 0.81}, directory=tmp_path, exit_code=0,
                  failure_reason=None, started_at=10.0, ended_at=12.5)
    return TrialResult(**{**fields, **over})


def test_a_record_round_trips_and_reads_back_as_reused(tmp_path) -> None:
    r = result(tmp_path)
    assert write_record(r) == tmp_path / RECORD and not list(tmp_path.glob(".*.tmp"))
    back = read_record(tmp_path)
    assert back is not None and back.reused and back == TrialResult(**{**r.__dict__, "reused": True})
    assert back.seconds == 2.5 and back.model_artifact == tmp_path / "output" / "model.tar.gz"


def test_no_record_or_a_broken_one_reads_as_none(tmp_path) -> None:
    assert read_record(tmp_path) is None
    (tmp_path / RECORD).write_text("{not json")
    assert read_record(tmp_path) is None
    (tmp_path / RECORD).write_text(json.dumps({"name": "x"}))
    assert read_record(tmp_path) is None


def test_the_tuning_result_is_json_ready(tmp_path) -> None:
    best = result(tmp_path)
    doc = TuningResult("job", "validation:auc", "Maximize", best, (best,), tmp_path, trials_run=1).to_dict()
    assert json.loads(json.dumps(doc))["best"]["model_dir"] == str(tmp_path / "model")
