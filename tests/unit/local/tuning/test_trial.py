"""mlpipe.local.tuning.trial: one trial's outcome as SageMaker reports a training job's, and its record."""

from __future__ import annotations

import json
import tarfile
import time

from mlpipe.local.tuning.records import TrialSpec, read_record
from mlpipe.local.tuning.trial import run_trial

from tests.unit.local.tuning.fake_training import fake_cfg

DEFINITIONS = fake_cfg().tuning.metric_definitions


def run(tmp_path, data, fake, hyperparameters, **kwargs):
    spec = TrialSpec(0, "t-001-00000000", {"eta": "0.1", "max_depth": "3", **hyperparameters}, tmp_path / "t")
    options = {"max_runtime_seconds": 60.0, **kwargs}
    return run_trial(spec, channels=data, definitions=DEFINITIONS, objective_metric="validation:auc", threads=1,
                     train_script=fake, **options)


def test_a_completed_trial_has_its_objective_its_model_tar_and_its_record(tmp_path, data, fake):
    result = run(tmp_path, data, fake, {})
    assert result.status == "Completed" and result.exit_code == 0 and result.failure_reason is None
    assert result.objective == result.metrics["validation:auc"] == 0.89  # the final line's value, not the first
    with tarfile.open(result.model_artifact) as tar:
        assert tar.getnames() == ["model.json"]
    assert read_record(result.directory) == result.__class__(**{**result.__dict__, "reused": True})


def test_a_failing_trial_reports_the_end_of_its_log(tmp_path, data, fake):
    result = run(tmp_path, data, fake, {"eval_train": "false"})
    assert result.status == "Failed" and result.exit_code == 3 and result.objective is None
    assert "error: planted failure" in result.failure_reason
    assert not result.model_artifact.exists()


def test_a_missing_objective_names_the_regex_to_check(tmp_path, data, fake):
    spec = TrialSpec(0, "t-001-00000000", {"eta": "0.1", "max_depth": "3"}, tmp_path / "t")
    result = run_trial(spec, channels=data, definitions=DEFINITIONS, objective_metric="validation:f1",
                       max_runtime_seconds=60.0, threads=1, train_script=fake)
    assert result.status == "Failed"
    assert result.failure_reason.startswith("the objective metric 'validation:f1' never appeared in the log")


def test_a_trial_past_its_max_runtime_is_stopped(tmp_path, data, fake, monkeypatch):
    monkeypatch.setenv("FAKE_SLEEP", "60")
    started = time.monotonic()
    result = run(tmp_path, data, fake, {}, max_runtime_seconds=1.0, stop_grace_seconds=2.0)
    assert time.monotonic() - started < 15
    assert result.status == "Stopped" and result.failure_reason.startswith("MaxRuntimeExceeded")
    assert json.loads((tmp_path / "t" / "trial.json").read_text())["status"] == "Stopped"


def test_a_rerun_in_the_same_directory_reads_only_its_own_lines(tmp_path, data, fake):
    run(tmp_path, data, fake, {"eval_train": "false"})
    again = run(tmp_path, data, fake, {})
    assert again.status == "Completed"
    assert "resumed" in again.log_path.read_text()       # the checkpoint directory is kept between attempts
