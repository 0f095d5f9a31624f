"""One trial of the tuning job: ``include/training/train.py`` run to its end as a training job in its own
directory (the ``/opt/ml`` stand-in), its metrics read from its log, its outcome classified as SageMaker
classifies a job's (Completed, Failed, Stopped, with the FailureReason), its model packed as ``model.tar.gz``
and its record written. A failed job is a result, never an exception."""

from __future__ import annotations

import json
import os
import signal
import sys
import tarfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlpipe.local.tuning.metrics import parse_metrics
from mlpipe.local.tuning.records import RECORD, TrialResult, TrialSpec, TrialStatus, write_record
from mlpipe.local.tuning.trial_process import (
    EXIT_INTERRUPTED,
    STOP_GRACE_SECONDS,
    RunningTrials,
    run_training_process,
    trial_env,
)
from mlpipe.paths import CODE_ROOT

if TYPE_CHECKING:
    from mlpipe.config.training import MetricDefinition

TRAIN_SCRIPT = CODE_ROOT / "include" / "training" / "train.py"
STOPPED_BY_SIGNAL = "the training process was stopped by a signal"


def run_trial(spec: TrialSpec, *, channels: Mapping[str, Path], definitions: Sequence[MetricDefinition],
              objective_metric: str, max_runtime_seconds: float, threads: int, gpus: int = 0,
              train_script: Path = TRAIN_SCRIPT, python: str = sys.executable,
              stop_grace_seconds: float = STOP_GRACE_SECONDS,
              running: RunningTrials | None = None) -> TrialResult:
    """Run one training job to its end under the container contract; never raises for a failed job."""
    d = spec.directory
    for sub in ("input/config", "model", "output/data", "checkpoints"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    for stale in (d / "output" / "failure", d / RECORD):
        stale.unlink(missing_ok=True)
    (d / "input" / "config" / "hyperparameters.json").write_text(json.dumps(spec.hyperparameters, indent=2,
                                                                            sort_keys=True))
    log_file = d / "train.log"
    started = time.time()
    with open(log_file, "ab") as out:
        out.write(f"---- {spec.name}: start {time.strftime('%Y-%m-%dT%H:%M:%S')} ----\n".encode())
    exit_code, timed_out = run_training_process(
        [python, str(train_script)], d, trial_env(spec, channels, threads, gpus), log_file,
        max_runtime_seconds=max_runtime_seconds, stop_grace_seconds=stop_grace_seconds, running=running)
    ended = time.time()
    text = log_file.read_text(errors="replace")
    text = text[text.rfind(f"---- {spec.name}: start"):]   # this attempt's lines only
    metrics = parse_metrics(text, definitions)
    failure = (d / "output" / "failure").read_text() if (d / "output" / "failure").exists() else None
    status: TrialStatus = "Completed"
    if timed_out:
        status, failure = "Stopped", f"MaxRuntimeExceeded: ran past max_runtime_seconds={max_runtime_seconds:g}"
    elif exit_code in (EXIT_INTERRUPTED, -signal.SIGTERM, -signal.SIGKILL):
        status, failure = "Stopped", f"{STOPPED_BY_SIGNAL} (exit status {exit_code})"
    elif exit_code != 0:
        status = "Failed"
        failure = failure or _tail(text)
    elif objective_metric not in metrics:
        status = "Failed"
        failure = (f"the objective metric '{objective_metric}' never appeared in the log; check its regex in "
                   f"training.tuning.metric_definitions against {log_file}")
    if status == "Completed":
        pack_model(d / "model", d / "output" / "model.tar.gz")
    result = TrialResult(number=spec.number, name=spec.name, status=status, hyperparameters=spec.hyperparameters,
                         objective=metrics.get(objective_metric) if status == "Completed" else None,
                         metrics=metrics, directory=d, exit_code=exit_code, failure_reason=failure,
                         started_at=started, ended_at=ended)
    write_record(result)
    return result


def pack_model(model_dir: Path, dest: Path) -> None:
    """``model_dir``'s files at the root of a gzipped tar (SageMaker's ``model.tar.gz``), written atomically."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    os.replace(tmp, dest)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
