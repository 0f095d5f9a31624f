"""Local training at build time: the tuning job's trials as subprocesses, evaluate.py as a subprocess, the local
model registry (the task bodies: :mod:`mlpipe.tasks.training_local`)::

    split >> tune >> evaluate >> gate >> register   (register emits the model Asset)
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from mlpipe.config import PipelineConfig
from mlpipe.dagkit import model_asset
from mlpipe.tasks.training_local import evaluate_challenger, register_challenger, run_tuning_job


class LocalTraining:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    def tune(self, split: Any) -> Any:
        return task(run_tuning_job, task_id="tune")(split)

    def evaluate(self, split: Any, tuned: Any) -> Any:
        return task(evaluate_challenger, task_id="evaluate")(split, tuned)

    def register(self, split: Any, tuned: Any, evaluated: Any, verdict: Any) -> Any:
        return task(register_challenger, task_id="register", outlets=[model_asset(self.cfg)])(
            split, tuned, evaluated, verdict)
