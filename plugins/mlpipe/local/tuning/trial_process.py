"""A trial's training process, supervised as SageMaker supervises a training job's container.

It runs in its own process group under the training container contract (``SM_*`` variables, ``/opt/ml``
stand-in directories), its pid in ``trial.pid`` while it runs. Past ``max_runtime_seconds`` it gets SIGTERM (it
checkpoints), then SIGKILL after the grace (SageMaker's 120 s). ``RunningTrials`` knows the processes alive now,
so a stopped tuner stops them all; ``stop_orphan`` stops one that outlived a tuner killed without warning.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from mlpipe.local.processes import stop_process_group, stop_process_groups
from mlpipe.local.tuning.records import TrialSpec

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 120          # SageMaker's time between SIGTERM and SIGKILL
EXIT_INTERRUPTED = 143
PID_FILE = "trial.pid"            # the live training process (its own process group), while it runs
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def visible_gpus() -> int:
    """GPUs ``nvidia-smi -L`` lists (0 without it)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return 0
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU")) if out.returncode == 0 else 0


def trial_env(spec: TrialSpec, channels: Mapping[str, Path], threads: int, gpus: int) -> dict[str, str]:
    """The training container's environment for the trial (this one's, ``SM_*`` replaced)."""
    d = spec.directory
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    env.update({
        "SM_INPUT_CONFIG_DIR": str(d / "input" / "config"),
        "SM_INPUT_DATA_DIR": str(d / "input" / "data"),
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_MODEL_DIR": str(d / "model"),
        "SM_OUTPUT_DIR": str(d / "output"),
        "SM_OUTPUT_DATA_DIR": str(d / "output" / "data"),
        "SM_CHECKPOINT_DIR": str(d / "checkpoints"),
        "SM_NUM_GPUS": str(gpus),
        "SM_NUM_CPUS": str(threads),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_HPS": json.dumps(spec.hyperparameters, sort_keys=True),
        "TRAINING_JOB_NAME": spec.name,   # SageMaker sets it in every training container; keys the checkpoints
        "PYTHONUNBUFFERED": "1",
    })
    env.update({f"SM_CHANNEL_{name.upper()}": str(path) for name, path in channels.items()})
    env.update(dict.fromkeys(THREAD_ENV, str(threads)))
    return env


class RunningTrials:
    """The trial processes alive right now, so the tuner can stop them all when it is stopped itself."""

    def __init__(self) -> None:
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop_all(self, grace: float) -> None:
        """SIGTERM to every trial at once (each checkpoints), SIGKILL to those still running after ``grace``."""
        with self._lock:
            procs = list(self._procs)
        stop_process_groups(procs, grace)


def run_training_process(command: list[str], directory: Path, env: Mapping[str, str], log_file: Path, *,
                         max_runtime_seconds: float, stop_grace_seconds: float = STOP_GRACE_SECONDS,
                         running: RunningTrials | None = None) -> tuple[int, bool]:
    """Run ``command`` in ``directory`` (its own process group, output appended to ``log_file``) until it ends
    or runs past ``max_runtime_seconds`` (then stopped); ``(exit status, whether it timed out)``. A tuner stopped
    while waiting stops the process before it goes."""
    timed_out = False
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=directory, env=dict(env),
                                start_new_session=True)
        if running is not None:
            running.add(proc)
        (directory / PID_FILE).write_text(str(proc.pid))
        try:
            proc.wait(timeout=max_runtime_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            stop_process_group(proc, stop_grace_seconds)
        except BaseException:
            stop_process_group(proc, stop_grace_seconds)
            raise
        finally:
            if running is not None:
                running.discard(proc)
            if proc.returncode is not None:
                (directory / PID_FILE).unlink(missing_ok=True)
    return proc.wait(), timed_out


def stop_orphan(directory: Path, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop a trial process that outlived a tuner killed without warning (SIGKILL, a lost worker), so the
    trial can be run again in its directory without two writers."""
    try:
        pid = int((directory / PID_FILE).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if Path("/proc").is_dir() else b"train"
    except (OSError, ValueError):
        return
    if b"train" not in cmdline:       # the pid was reused by something else
        return
    log.warning("trial process %d in %s outlived its tuner: stopping it", pid, directory)
    stop_process_group(pid, grace)
    (directory / PID_FILE).unlink(missing_ok=True)
