"""Helpers of the training-script tests: small synthetic channels and a container-contract runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from training.synthetic import churn_frame

ROOT = Path(__file__).resolve().parents[3]
TRAIN_PY = ROOT / "include" / "training" / "train.py"
LABEL = "churned"
BASE_HPS = {"label": LABEL, "exclude": "customer_id,as_of", "nthread": "1", "seed": "7", "eval_metric": "auc,logloss"}


@dataclass(frozen=True)
class Channels:
    train: Path
    validation: Path
    test: Path

    def mapping(self, with_test: bool = False) -> dict[str, Path]:
        out = {"train": self.train, "validation": self.validation}
        if with_test:
            out["test"] = self.test
        return out


def write_channels(root: Path, rows: int = 3000, seed: int = 3) -> Channels:
    """train 2/3, validation 1/6, test 1/6 of a synthetic churn frame, as Parquet (test as CSV)."""
    df = churn_frame(rows, seed=seed)
    a, b = rows * 2 // 3, rows * 5 // 6
    ch = Channels(root / "train", root / "validation", root / "test")
    for path in (ch.train, ch.validation, ch.test):
        path.mkdir(parents=True, exist_ok=True)
    df.iloc[:a].to_parquet(ch.train / "part-00000.parquet", index=False)
    df.iloc[a:b].to_parquet(ch.validation / "part-00000.parquet", index=False)
    df.iloc[b:].to_csv(ch.test / "test.csv", index=False)
    (ch.train / "_SUCCESS").touch()
    return ch


@dataclass(frozen=True)
class Job:
    """One training job's /opt/ml stand-in."""

    root: Path

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    def env(self, channels: Mapping[str, Path], hyperparameters: Mapping[str, str],
            extra: Mapping[str, str] | None = None) -> dict[str, str]:
        config = self.root / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "hyperparameters.json").write_text(json.dumps(dict(hyperparameters)))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
        env.update({"SM_INPUT_CONFIG_DIR": str(config), "SM_MODEL_DIR": str(self.model_dir),
                    "SM_OUTPUT_DIR": str(self.output_dir), "SM_OUTPUT_DATA_DIR": str(self.output_data_dir),
                    "SM_CHECKPOINT_DIR": str(self.checkpoint_dir), "SM_NUM_GPUS": "0",
                    "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
        env.update({f"SM_CHANNEL_{k.upper()}": str(v) for k, v in channels.items()})
        env.update(extra or {})
        return env

    def start(self, channels: Mapping[str, Path], hyperparameters: Mapping[str, str],
              extra: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """train.py as SageMaker runs it: a plain script in its own process, stdout to a log we can read."""
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "train.log", "a")  # noqa: SIM115 - closed by the caller through the process
        return subprocess.Popen([sys.executable, str(TRAIN_PY)], stdout=log, stderr=subprocess.STDOUT, text=True,
                                env=self.env(channels, hyperparameters, extra), cwd=self.root)

    def run(self, channels: Mapping[str, Path], hyperparameters: Mapping[str, str],
            extra: Mapping[str, str] | None = None, timeout: float = 180) -> int:
        proc = self.start(channels, hyperparameters, extra)
        return proc.wait(timeout=timeout)

    @property
    def log(self) -> str:
        path = self.root / "train.log"
        return path.read_text() if path.exists() else ""


def run_in_process(job: Job, channels: Mapping[str, Path], hyperparameters: Mapping[str, str]) -> int:
    """train.run() in this process (no interpreter start-up: fast); the SIGTERM handler is not installed."""
    from training import contract, train
    from training.callbacks import Interrupt

    env = contract.ContainerEnv.from_environ(job.env(channels, hyperparameters))
    return train.run(env, Interrupt(train.log, contract.EXIT_INTERRUPTED))
