"""mlpipe.local.tuning.trial_process: the container environment, the running trials stopped together, and the
orphan of a tuner killed without warning."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from mlpipe.local.processes import pid_alive
from mlpipe.local.tuning.records import TrialSpec
from mlpipe.local.tuning.trial_process import PID_FILE, RunningTrials, run_training_process, stop_orphan, trial_env

SLEEPER = "import time; print('up', flush=True); time.sleep(600)"


def test_the_environment_is_the_training_containers(tmp_path, monkeypatch):
    monkeypatch.setenv("SM_STALE", "from the caller")
    spec = TrialSpec(3, "job-004-abcdef01", {"eta": "0.1"}, tmp_path / "trial")
    env = trial_env(spec, {"train": tmp_path / "tr", "validation": tmp_path / "va"}, threads=2, gpus=0)
    assert "SM_STALE" not in env
    assert env["SM_MODEL_DIR"] == str(tmp_path / "trial" / "model")
    assert env["SM_CHECKPOINT_DIR"] == str(tmp_path / "trial" / "checkpoints")
    assert env["SM_CHANNEL_TRAIN"] == str(tmp_path / "tr") and json.loads(env["SM_CHANNELS"]) == ["train", "validation"]
    assert json.loads(env["SM_HPS"]) == {"eta": "0.1"} and env["TRAINING_JOB_NAME"] == "job-004-abcdef01"
    assert env["OMP_NUM_THREADS"] == env["SM_NUM_CPUS"] == "2" and env["SM_NUM_GPUS"] == "0"


def test_the_process_runs_in_its_directory_with_its_pid_file_until_it_ends(tmp_path):
    code = f"import os, pathlib; print(pathlib.Path({PID_FILE!r}).read_text() == str(os.getpid()))"
    status, timed_out = run_training_process([sys.executable, "-c", code], tmp_path, {"PATH": "/usr/bin:/bin"},
                                             tmp_path / "log", max_runtime_seconds=30)
    assert (status, timed_out) == (0, False)
    assert (tmp_path / "log").read_text().strip() == "True" and not (tmp_path / PID_FILE).exists()


def test_running_trials_are_stopped_together(tmp_path):
    running = RunningTrials()
    procs = [subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, start_new_session=True)
             for _ in range(2)]
    for proc in procs:
        proc.stdout.readline()
        running.add(proc)
    started = time.monotonic()
    running.stop_all(grace=5)
    assert time.monotonic() - started < 3 and [p.returncode for p in procs] == [-15, -15]


def test_an_orphaned_trial_is_stopped_and_a_reused_pid_is_left_alone(tmp_path: Path):
    trial = tmp_path / "trial"
    trial.mkdir()
    orphan = subprocess.Popen([sys.executable, "-c", SLEEPER, "train.py"], stdout=subprocess.PIPE,
                              start_new_session=True)
    orphan.stdout.readline()
    (trial / PID_FILE).write_text(str(orphan.pid))
    stop_orphan(trial, grace=5)
    assert orphan.wait(timeout=5) == -15 and not (trial / PID_FILE).exists()

    other = subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, start_new_session=True)
    other.stdout.readline()
    (trial / PID_FILE).write_text(str(other.pid))
    try:
        stop_orphan(trial, grace=5)
        assert pid_alive(other.pid) and (trial / PID_FILE).exists()   # not a training process: never signalled
    finally:
        other.kill()
        other.wait()
