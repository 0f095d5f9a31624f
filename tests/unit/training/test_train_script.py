"""train.py end to end under the container contract: outputs, failures, and resuming after SIGKILL/SIGTERM.

The resume tests run train.py as SageMaker does (its own process), interrupt it once a checkpoint exists,
start it again and require the very same model file, byte for byte, as an uninterrupted run: the sampler is
reseeded from the round number and the early-stopping state travels in the checkpoint (nthread=1 both times).
"""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest
import xgboost as xgb
from train_helpers import BASE_HPS, Channels, Job, run_in_process
from training import contract
from training.callbacks import ENV_ROUND_DELAY

# subsample/colsample exercise the sampler's random state, early stopping the state kept in checkpoints
HPS = {**BASE_HPS, "num_round": "60", "eta": "0.05", "max_depth": "3", "min_child_weight": "5",
       "subsample": "0.8", "colsample_bytree": "0.8", "early_stopping_rounds": "20", "checkpoint_interval": "5"}
SLOW = {ENV_ROUND_DELAY: "0.1"}   # 0.1 s per round, so there is time to interrupt between checkpoints


@pytest.fixture(scope="module")
def reference(tmp_path_factory, channels: Channels) -> bytes:
    """The uninterrupted run's model file."""
    job = Job(tmp_path_factory.mktemp("reference"))
    assert run_in_process(job, channels.mapping(), HPS) == 0
    return (job.model_dir / contract.MODEL_FILE).read_bytes()


def wait_for(predicate, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def rounds_logged(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"^\[(\d+)\] ", text, flags=re.M)]


def checkpoints(job: Job) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in job.checkpoint_dir.glob("ckpt-*.json"))


def test_outputs_of_a_full_run(tmp_path, channels, capsys):
    job = Job(tmp_path)
    assert run_in_process(job, channels.mapping(with_test=True), HPS) == 0
    out = capsys.readouterr().out
    assert re.search(r"^final: best_iteration=\d+; rounds=\d+; .*validation:auc=0\.\d{6};", out, flags=re.M)
    assert re.search(r"^test: test:auc=0\.\d{6};", out, flags=re.M)
    metrics = json.loads((job.model_dir / contract.METRICS_FILE).read_text())
    booster = xgb.Booster(model_file=str(job.model_dir / contract.MODEL_FILE))
    # the model is cut at the best iteration, and the reported objective is the best round's
    assert booster.num_boosted_rounds() == metrics["best_iteration"] + 1 <= metrics["rounds"]
    history = json.loads((job.output_data_dir / contract.HISTORY_FILE).read_text())
    assert metrics["objective_value"] == max(history["history"]["validation:auc"])
    schema = json.loads((job.model_dir / contract.SCHEMA_FILE).read_text())
    assert [f["name"] for f in schema["features"]][:2] == ["tenure_days", "sessions_7d"]
    assert {f["name"]: f.get("categories") for f in schema["features"]}["plan"] == ["basic", "premium", "standard"]
    baseline = json.loads((job.model_dir / contract.BASELINE_FILE).read_text())
    tenure = baseline["features"]["tenure_days"]
    assert len(tenure["fractions"]) == len(tenure["edges"]) + 1 and abs(sum(tenure["fractions"]) - 1) < 1e-9
    assert baseline["features"]["monthly_spend"]["missing_rate"] > 0
    assert sum(baseline["features"]["plan"]["frequencies"].values()) == pytest.approx(1.0)
    assert abs(sum(baseline["predictions"]["validation"]["fractions"]) - 1) < 1e-9
    assert baseline["naive_baseline"]["kind"] in ("numeric", "categorical")
    evaluation = json.loads((job.output_data_dir / contract.EVALUATION_FILE).read_text())
    assert evaluation["model"]["auc"] > evaluation["baselines"]["naive"]["auc"] > 0.5
    assert metrics["checkpoints_written"] >= 1 and metrics["seconds"]["checkpoint"] >= 0
    # what the tuner reads from this log with the configured MetricDefinitions: the final line's values
    from mlpipe.config.training import TrainingConfig
    from mlpipe.local.tuning.metrics import parse_metrics

    parsed = parse_metrics(out, TrainingConfig().tuning.metric_definitions)
    assert set(parsed) == {"validation:auc", "validation:logloss", "validation:aucpr", "validation:f1",
                           "train:auc", "train:logloss"}
    assert parsed["validation:auc"] == pytest.approx(metrics["objective_value"], abs=1e-6)


def test_evaluate_runs_on_its_own_with_a_champion(tmp_path, channels):
    from training import evaluate

    job = Job(tmp_path / "job")
    assert run_in_process(job, channels.mapping(), HPS) == 0
    out = tmp_path / "eval" / "evaluation.json"
    assert evaluate.main(["--model-dir", str(job.model_dir), "--test", str(channels.test), "--output", str(out),
                          "--baseline-margin", "0.05", "--champion-auc", "0.99", "--champion-tolerance", "0.01"]) == 0
    doc = json.loads(out.read_text())
    checks = {c["name"]: c for c in doc["gate"]["checks"]}
    assert checks["beats_naive_baseline"]["passed"] and not checks["not_worse_than_champion"]["passed"]
    assert doc["gate"]["passed"] is False and "champion 0.9900 - tolerance 0.0100 = 0.9800" in \
        checks["not_worse_than_champion"]["detail"]


def test_errors_end_with_status_1_and_a_failure_reason(tmp_path, channels):
    from training import train

    job = Job(tmp_path)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        rc = train.main([], job.env(channels.mapping(), {**BASE_HPS, "label": "churn"}))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert rc == contract.EXIT_FAILED
    assert (job.output_dir / "failure").read_text().startswith("label column 'churn' is not in the data")
    rc = train.main([], job.env({"train": channels.train}, BASE_HPS))
    signal.signal(signal.SIGTERM, previous)
    assert rc == 1 and "channel 'validation' is required" in (job.output_dir / "failure").read_text()


def test_resume_after_sigkill_gives_the_same_model(job, channels, reference):
    proc = job.start(channels.mapping(), HPS, SLOW)
    wait_for(lambda: checkpoints(job), what="the first checkpoint")
    time.sleep(0.25)                      # a couple of rounds past it
    proc.kill()
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert not (job.model_dir / contract.MODEL_FILE).exists()
    killed_log = job.log
    last_round = max(rounds_logged(killed_log))
    saved = checkpoints(job)[-1]
    assert 5 <= saved <= last_round and saved % 5 == 0

    assert job.run(channels.mapping(), HPS) == 0
    resumed_log = job.log[len(killed_log):]
    assert f"resumed from checkpoint: round={saved} " in resumed_log
    assert rounds_logged(resumed_log)[0] == saved + 1          # rounds continue where the checkpoint was
    assert last_round - saved <= 5                              # at most one interval redone
    assert (job.model_dir / contract.MODEL_FILE).read_bytes() == reference
    assert json.loads((job.model_dir / contract.METRICS_FILE).read_text())["resumed_from_round"] == saved


def test_sigterm_checkpoints_and_exits_promptly_then_resumes(job, channels, reference):
    proc = job.start(channels.mapping(), HPS, SLOW)
    wait_for(lambda: checkpoints(job), what="the first checkpoint")
    time.sleep(0.15)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == contract.EXIT_INTERRUPTED
    took = time.monotonic() - sent
    assert took < 5, f"SIGTERM to exit took {took:.1f} s"
    text = job.log
    m = re.search(r"interrupted: checkpoint at round (\d+) written", text)
    assert "SIGTERM received" in text and m
    stopped = int(m.group(1))
    assert stopped == max(rounds_logged(text)) and checkpoints(job)[-1] == stopped   # nothing lost
    assert not (job.model_dir / contract.MODEL_FILE).exists()

    assert job.run(channels.mapping(), HPS) == 0
    assert f"resumed from checkpoint: round={stopped} " in job.log
    assert (job.model_dir / contract.MODEL_FILE).read_bytes() == reference


def test_a_corrupt_newest_checkpoint_is_skipped_on_resume(tmp_path, channels, reference, capsys):
    job = Job(tmp_path)
    assert run_in_process(job, channels.mapping(), {**HPS, "num_round": "20"}) == 0   # stops at round 20
    assert checkpoints(job) == [15, 20]
    newest = job.checkpoint_dir / "ckpt-00000020.ubj"
    newest.write_bytes(newest.read_bytes()[:100])                                    # half-synced / torn
    capsys.readouterr()
    assert run_in_process(job, channels.mapping(), HPS) == 0
    out = capsys.readouterr().out
    assert "checkpoint ckpt-00000020.json skipped: model file does not match" in out
    assert "resumed from checkpoint: round=15 " in out
    assert (job.model_dir / contract.MODEL_FILE).read_bytes() == reference


def test_checkpoints_of_other_hyperparameters_are_not_resumed(tmp_path, channels, capsys):
    job = Job(tmp_path)
    assert run_in_process(job, channels.mapping(), {**HPS, "num_round": "10"}) == 0
    capsys.readouterr()
    assert run_in_process(job, channels.mapping(), {**HPS, "num_round": "10", "eta": "0.2"}) == 0
    out = capsys.readouterr().out
    assert "written with other hyperparameters or features" in out and "resumed from" not in out


def test_script_mode_imports_without_the_package_on_the_path(tmp_path):
    """SageMaker copies include/training to /opt/ml/code and runs `python train.py` there."""
    import shutil
    import subprocess
    import sys

    code = tmp_path / "code"
    shutil.copytree(Path(contract.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run([sys.executable, "-c", "import runpy, sys; sys.argv=['train.py', '--help-me', 'x'];"
                          "sys.path.insert(0, '.'); runpy.run_path('train.py', run_name='__main__')"],
                         cwd=code, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin",
                                                                       "SM_INPUT_CONFIG_DIR": str(tmp_path),
                                                                       "SM_OUTPUT_DIR": str(tmp_path / "out")})
    assert out.returncode == 1, out.stderr
    assert "help_me: unknown hyperparameter" in (tmp_path / "out" / "failure").read_text()
