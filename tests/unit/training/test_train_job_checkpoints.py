"""Each training job keeps its own checkpoints, keyed by TRAINING_JOB_NAME (defect: parallel trials of one
tuning job share one CheckpointConfig prefix, so they overwrote and resumed each other's checkpoints)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_helpers import BASE_HPS, Channels, Job
from training import contract, train
from training.callbacks import Interrupt

HPS = {**BASE_HPS, "num_round": "12", "max_depth": "3", "checkpoint_interval": "4"}


def run_job(job: Job, channels: Channels, hps: dict[str, str], name: str | None, capsys) -> str:
    extra = {"TRAINING_JOB_NAME": name} if name else {}
    env = contract.ContainerEnv.from_environ(job.env(channels.mapping(), hps, extra))
    assert train.run(env, Interrupt(train.log, contract.EXIT_INTERRUPTED)) == 0
    return capsys.readouterr().out


def ckpts(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("ckpt-*.json"))


def test_two_trials_sharing_one_checkpoint_dir_keep_their_own(tmp_path, channels, capsys):
    shared = tmp_path / "checkpoints"            # what one tuning job's CheckpointConfig gives every trial
    a, b = Job(tmp_path / "a"), Job(tmp_path / "b")
    extra_a = {**HPS, "checkpoint_dir": str(shared)}
    out_a = run_job(a, channels, extra_a, "tune-001-aaaa", capsys)
    assert "resumed from checkpoint" not in out_a
    own_a = ckpts(shared / "tune-001-aaaa")
    assert own_a == ["ckpt-00000008.json", "ckpt-00000012.json"]
    # the second trial, same hyperparameters (a fingerprint that matches), same prefix: it trains from scratch
    # and leaves the first trial's checkpoints alone (before the fix it resumed them and pruned them)
    out_b = run_job(b, channels, extra_a, "tune-002-bbbb", capsys)
    assert "resumed from checkpoint" not in out_b
    assert ckpts(shared / "tune-001-aaaa") == own_a
    assert ckpts(shared / "tune-002-bbbb") == own_a
    assert not list(shared.glob("ckpt-*"))
    # a restarted spot job has the same name: it resumes its own state
    out_again = run_job(a, channels, extra_a, "tune-001-aaaa", capsys)
    assert "resumed from checkpoint: round=12" in out_again


def test_checkpoint_directory_resolution(tmp_path):
    base = tmp_path / "opt" / "ml"
    config = base / "input" / "config"
    config.mkdir(parents=True)
    env = {"SAGEMAKER_BASE_DIR": str(base)}
    # no checkpointconfig.json: <base>/checkpoints, and the job's own directory inside it
    assert contract.ContainerEnv.from_environ(env).checkpoint_dir == str(base / "checkpoints")
    named = contract.ContainerEnv.from_environ({**env, "TRAINING_JOB_NAME": "ml-training-001-x"})
    assert named.checkpoint_dir == str(base / "checkpoints" / "ml-training-001-x")
    assert named.model_dir == str(base / "model") and named.output_data_dir == str(base / "output" / "data")
    # SageMaker writes CheckpointConfig's LocalPath into checkpointconfig.json
    (config / "checkpointconfig.json").write_text(json.dumps({"LocalPath": str(tmp_path / "ck"), "S3Uri": "s3://b/p/"}))
    assert contract.ContainerEnv.from_environ({**env, "TRAINING_JOB_NAME": "j1"}).checkpoint_dir == str(tmp_path / "ck" / "j1")
    # SM_CHECKPOINT_DIR and the checkpoint_dir hyperparameter come first, still keyed by the job
    assert contract.ContainerEnv.from_environ({**env, "SM_CHECKPOINT_DIR": "/x", "TRAINING_JOB_NAME": "j1"}
                                              ).checkpoint_dir == "/x/j1"
    with pytest.raises(ValueError, match="TRAINING_JOB_NAME"):
        contract.ContainerEnv.from_environ({**env, "TRAINING_JOB_NAME": "../other-job"})
