"""Local hyperparameter tuning: the SageMaker tuning job's search, run as subprocesses on this machine.

The same ``training:`` section drives both stacks: the ranges (continuous/integer/categorical with their
scaling), the objective, the strategy (Bayesian: Optuna's TPE sampler; Random; Grid), the budget
(``max_jobs``) and the parallelism (``max_parallel_jobs``), the static hyperparameters and the
MetricDefinitions. Each trial runs ``include/training/train.py`` unchanged, as a subprocess under the
SageMaker training container contract, in its own directory that mimics ``/opt/ml``::

    <workdir>/<tuning job name>/
        study.journal                       Optuna's journal (the search's memory; resumable)
        trials/<name>-<NNN>-<hash>/         one training job, named like SageMaker's
            input/config/hyperparameters.json   every hyperparameter as a string (SM_INPUT_CONFIG_DIR)
            model/                          SM_MODEL_DIR: model.json, feature_schema.json, baseline.json, ...
            output/model.tar.gz             the model directory packed, as SageMaker uploads it
            output/data/                    SM_OUTPUT_DATA_DIR: history.json (+ evaluation.json)
            output/failure                  why it failed (the job's FailureReason)
            checkpoints/                    SM_CHECKPOINT_DIR
            train.log                       stdout + stderr (what CloudWatch would hold)
            trial.json                      the trial's record (status, metrics, timings)

The channels (``SM_CHANNEL_TRAIN``, ``SM_CHANNEL_VALIDATION``, ...) point at the caller's directories; no
copy is made. The objective and the other metrics are read from the trial's log with the configured
MetricDefinitions regexes, the latest match of each, as SageMaker reports a job's final metrics.

Resumable: a re-run with the same tuning job name reuses every finished trial and runs only what is left
of the budget; a trial cut off by a crash of the tuner is run again in its own directory, so it resumes
from its checkpoints. A lock file keeps two tuners off one tuning job. A trial that runs past
``sagemaker.max_runtime_seconds`` gets SIGTERM (it checkpoints), then SIGKILL after the 120 s grace.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlpipe.errors import ConfigError, MlPipeError
from mlpipe.local.processes import pid_alive
from mlpipe.paths import CODE_ROOT

if TYPE_CHECKING:
    import optuna

    from mlpipe.config.training import MetricDefinition, TrainingConfig

log = logging.getLogger(__name__)

TRAIN_SCRIPT = CODE_ROOT / "include" / "training" / "train.py"
# HyperParameterTuningJobName: 1-32 characters, letters, digits and single hyphens.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
STOP_GRACE_SECONDS = 120          # SageMaker's time between SIGTERM and SIGKILL
EXIT_INTERRUPTED = 143
RECORD = "trial.json"
STOPPED_BY_SIGNAL = "the training process was stopped by a signal"
PID_FILE = "trial.pid"            # the live training process (its own process group), while it runs
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")

TrialStatus = Literal["Completed", "Failed", "Stopped"]


@dataclass(frozen=True)
class TrialResult:
    """One training job of the tuning job (SageMaker: an entry of ListTrainingJobsForHyperParameterTuningJob)."""

    number: int
    name: str
    status: TrialStatus
    hyperparameters: dict[str, str]
    objective: float | None
    metrics: dict[str, float]
    directory: Path
    exit_code: int | None
    failure_reason: str | None
    started_at: float
    ended_at: float
    reused: bool = False

    @property
    def model_dir(self) -> Path:
        return self.directory / "model"

    @property
    def model_artifact(self) -> Path:
        """``output/model.tar.gz``: the model directory packed as SageMaker packs it."""
        return self.directory / "output" / "model.tar.gz"

    @property
    def output_data_dir(self) -> Path:
        return self.directory / "output" / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "train.log"

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in {"directory", "reused"}}
        out.update(directory=str(self.directory), model_dir=str(self.model_dir),
                   model_artifact=str(self.model_artifact), reused=self.reused)
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], reused: bool = False) -> TrialResult:
        fields = {k: doc[k] for k in ("number", "name", "status", "hyperparameters", "objective", "metrics",
                                      "exit_code", "failure_reason", "started_at", "ended_at")}
        return cls(directory=Path(doc["directory"]), reused=reused, **fields)


@dataclass(frozen=True)
class TuningResult:
    """The tuning job's outcome: the best trial (by the objective) and every trial, oldest first."""

    name: str
    objective_metric: str
    objective_type: str
    best: TrialResult
    trials: tuple[TrialResult, ...]
    directory: Path
    trials_run: int = 0           # trials this call ran (the rest were reused)
    parallelism: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for XCom and the run summary)."""
        return {"name": self.name, "objective_metric": self.objective_metric, "objective_type": self.objective_type,
                "best": self.best.to_dict(), "trials": [t.to_dict() for t in self.trials],
                "directory": str(self.directory), "trials_run": self.trials_run, "parallelism": self.parallelism}


# ---- metrics from the log --------------------------------------------------------------------------------------


def parse_metrics(text: str, definitions: Sequence[MetricDefinition]) -> dict[str, float]:
    """The latest value of each defined metric in a training log, as SageMaker reports a job's final metrics."""
    out: dict[str, float] = {}
    for d in definitions:
        matches = re.findall(d.regex, text)
        for raw in reversed(matches):
            try:
                value = float(raw if isinstance(raw, str) else raw[0])
            except ValueError:
                continue
            if math.isfinite(value):
                out[d.name] = value
                break
    return out


# ---- the search space ------------------------------------------------------------------------------------------


def _format(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def suggest(trial: optuna.Trial, cfg: TrainingConfig) -> dict[str, str]:
    """The trial's tuned hyperparameters as strings, drawn from the configured ranges."""
    from mlpipe.config.training import CategoricalRange, ContinuousRange

    out: dict[str, str] = {}
    for name, r in cfg.tuning.ranges.items():
        if isinstance(r, CategoricalRange):
            value: float | int | str = trial.suggest_categorical(name, list(r.values))
        elif isinstance(r, ContinuousRange):
            if r.scaling == "ReverseLogarithmic":  # log-uniform in 1 - value: dense close to max_value
                value = 1.0 - trial.suggest_float(f"{name}:1-x", 1.0 - r.max_value, 1.0 - r.min_value, log=True)
            else:
                value = trial.suggest_float(name, r.min_value, r.max_value, log=r.scaling == "Logarithmic")
        else:
            value = trial.suggest_int(name, r.min_value, r.max_value, log=r.scaling == "Logarithmic")
        out[name] = _format(value)
    return out


def _sampler(cfg: TrainingConfig) -> optuna.samplers.BaseSampler:
    import optuna

    from mlpipe.config.training import CategoricalRange

    strategy = cfg.tuning.strategy
    if strategy == "Random":
        return optuna.samplers.RandomSampler(seed=cfg.seed)
    if strategy == "Grid":
        space = {n: list(r.values) for n, r in cfg.tuning.ranges.items() if isinstance(r, CategoricalRange)}
        return optuna.samplers.GridSampler(space, seed=cfg.seed)
    # Bayesian: like SageMaker's, random picks first, then the model; constant_liar keeps parallel trials apart.
    startup = max(1, min(10, cfg.tuning.max_jobs // 2))
    return optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=startup, constant_liar=True)


def _budget(cfg: TrainingConfig) -> int:
    if cfg.tuning.strategy == "Grid":
        from mlpipe.config.training import CategoricalRange

        size = math.prod(len(r.values) for r in cfg.tuning.ranges.values() if isinstance(r, CategoricalRange))
        return min(cfg.tuning.max_jobs, size)
    return cfg.tuning.max_jobs


def _search_fingerprint(cfg: TrainingConfig, static: Mapping[str, str]) -> str:
    blob = json.dumps({"ranges": cfg.sagemaker_parameter_ranges(), "objective": cfg.sagemaker_objective(),
                       "strategy": cfg.tuning.strategy, "static": dict(static), "seed": cfg.seed}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


# ---- one trial -------------------------------------------------------------------------------------------------


def _visible_gpus() -> int:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return 0
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU")) if out.returncode == 0 else 0


@dataclass(frozen=True)
class TrialSpec:
    """One training job to run: its number in the study, its name, its hyperparameters, its /opt/ml stand-in."""

    number: int
    name: str
    hyperparameters: dict[str, str]
    directory: Path


def _trial_env(spec: TrialSpec, channels: Mapping[str, Path], threads: int, gpus: int) -> dict[str, str]:
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


class _Children:
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
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM (the trial checkpoints and exits), then SIGKILL after ``grace`` seconds, as SageMaker does."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_trial(spec: TrialSpec, *, channels: Mapping[str, Path], definitions: Sequence[MetricDefinition],
              objective_metric: str, max_runtime_seconds: float, threads: int, gpus: int = 0,
              train_script: Path = TRAIN_SCRIPT, python: str = sys.executable,
              stop_grace_seconds: float = STOP_GRACE_SECONDS,
              children: _Children | None = None) -> TrialResult:
    """Run one training job to its end under the container contract; never raises for a failed job."""
    d = spec.directory
    for sub in ("input/config", "model", "output/data", "checkpoints"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    for stale in (d / "output" / "failure", d / RECORD):
        stale.unlink(missing_ok=True)
    (d / "input" / "config" / "hyperparameters.json").write_text(json.dumps(spec.hyperparameters, indent=2,
                                                                            sort_keys=True))
    env = _trial_env(spec, channels, threads, gpus)
    started = time.time()
    timed_out = False
    with open(d / "train.log", "ab") as out:
        out.write(f"---- {spec.name}: start {time.strftime('%Y-%m-%dT%H:%M:%S')} ----\n".encode())
        out.flush()
        proc = subprocess.Popen([python, str(train_script)], stdout=out, stderr=subprocess.STDOUT, cwd=d, env=env,
                                start_new_session=True)
        if children is not None:
            children.add(proc)
        (d / PID_FILE).write_text(str(proc.pid))
        try:
            proc.wait(timeout=max_runtime_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(proc, stop_grace_seconds)
        except BaseException:
            _stop(proc, stop_grace_seconds)
            raise
        finally:
            if children is not None:
                children.discard(proc)
            if proc.returncode is not None:
                (d / PID_FILE).unlink(missing_ok=True)
    ended = time.time()
    text = (d / "train.log").read_text(errors="replace")
    text = text[text.rfind(f"---- {spec.name}: start"):]   # this attempt's lines only
    metrics = parse_metrics(text, definitions)
    failure = (d / "output" / "failure").read_text() if (d / "output" / "failure").exists() else None
    status: TrialStatus = "Completed"
    if timed_out:
        status, failure = "Stopped", f"MaxRuntimeExceeded: ran past max_runtime_seconds={max_runtime_seconds:g}"
    elif proc.returncode in (EXIT_INTERRUPTED, -signal.SIGTERM, -signal.SIGKILL):
        status, failure = "Stopped", f"{STOPPED_BY_SIGNAL} (exit status {proc.returncode})"
    elif proc.returncode != 0:
        status = "Failed"
        failure = failure or _tail(text)
    elif objective_metric not in metrics:
        status = "Failed"
        failure = (f"the objective metric '{objective_metric}' never appeared in the log; check its regex in "
                   f"training.tuning.metric_definitions against {d / 'train.log'}")
    if status == "Completed":
        _pack_model(d / "model", d / "output" / "model.tar.gz")
    result = TrialResult(number=spec.number, name=spec.name, status=status, hyperparameters=spec.hyperparameters,
                         objective=metrics.get(objective_metric) if status == "Completed" else None,
                         metrics=metrics, directory=d, exit_code=proc.returncode, failure_reason=failure,
                         started_at=started, ended_at=ended)
    tmp = d / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    os.replace(tmp, d / RECORD)
    return result


def _stop_orphan(directory: Path, grace: float = STOP_GRACE_SECONDS) -> None:
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
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.05)
    (directory / PID_FILE).unlink(missing_ok=True)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _pack_model(model_dir: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    os.replace(tmp, dest)


def _read_record(directory: Path) -> TrialResult | None:
    try:
        return TrialResult.from_dict(json.loads((directory / RECORD).read_text()), reused=True)
    except (OSError, ValueError, KeyError):
        return None


# ---- the tuning job ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _stop_children_on_exit(children: _Children) -> Iterator[None]:
    """If the tuner is stopped (SIGTERM from Airflow, Ctrl-C, an error), its trials are stopped too: SIGTERM,
    so each writes a checkpoint, and a re-run resumes them. A SIGTERM handler that was installed before
    (Airflow's) still runs afterwards."""
    previous: Any = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        def on_term(signum: int, frame: Any) -> None:
            log.warning("tuner got SIGTERM: stopping the running trials (they checkpoint)")
            children.stop_all(STOP_GRACE_SECONDS)
            if callable(previous):
                previous(signum, frame)
            raise SystemExit(EXIT_INTERRUPTED)

        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except BaseException:
        children.stop_all(STOP_GRACE_SECONDS)
        raise
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@contextlib.contextmanager
def _exclusive(path: Path, name: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MlPipeError(f"tuning job '{name}' is running in another process (lock {path} is held); wait for "
                              f"it to end, or use another tuning job name") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _trial_name(job: str, number: int, hyperparameters: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(dict(hyperparameters), sort_keys=True).encode()).hexdigest()[:8]
    return f"{job}-{number + 1:03d}-{digest}"


def tune(cfg: TrainingConfig, *, name: str, channels: Mapping[str, str | os.PathLike[str]],
         workdir: str | os.PathLike[str], hyperparameters: Mapping[str, str] | None = None,
         train_script: str | os.PathLike[str] | None = None, python: str | None = None) -> TuningResult:
    """Run (or resume) the tuning job ``name`` and return its best trial and all its trials.

    ``channels``: ``{"train": dir, "validation": dir}`` (``test`` too if every trial should evaluate on it);
    ``workdir``: where tuning jobs live (the job is ``<workdir>/<name>``); ``hyperparameters``: extra static
    ones over ``cfg.static_hyperparameters()`` (e.g. another ``label``). Trials run ``max_parallel_jobs`` at a
    time with ``local.threads_per_trial`` threads each. Raises :class:`MlPipeError` for a bad name or channel,
    a job running elsewhere, a name reused with another search, or when no trial completes.
    """
    import optuna

    if not NAME_PATTERN.match(name):
        raise ConfigError(f"tuning job name {name!r}: 1-32 letters, digits and single hyphens "
                          f"(SageMaker's HyperParameterTuningJobName)")
    chans = {str(k).lower(): Path(v).resolve() for k, v in channels.items()}
    for required in ("train", "validation"):
        if required not in chans:
            raise MlPipeError(f"channel '{required}' is missing; give channels={{'train': dir, 'validation': dir}}")
    for channel, path in chans.items():
        if not path.exists():
            raise MlPipeError(f"channel '{channel}': {path} does not exist")
    static = cfg.static_hyperparameters()
    static.update({k: str(v) for k, v in (hyperparameters or {}).items()})
    clash = sorted(set(static) & set(cfg.tuning.ranges))
    if clash:
        raise ConfigError(f"hyperparameters {clash} are both static and tuned; drop them from one side")
    threads = cfg.local.threads_per_trial
    static["nthread"] = str(threads)
    static["_tuning_objective_metric"] = cfg.tuning.objective.metric
    root = Path(workdir).resolve() / name
    objective = cfg.tuning.objective.metric
    maximize = cfg.tuning.objective.type == "Maximize"
    fingerprint = _search_fingerprint(cfg, static)
    script = Path(train_script) if train_script else TRAIN_SCRIPT
    children = _Children()
    run = dict(channels=chans, definitions=cfg.tuning.metric_definitions, objective_metric=objective,
               max_runtime_seconds=cfg.sagemaker.max_runtime_seconds, threads=threads, gpus=_visible_gpus(),
               train_script=script, python=python or sys.executable, children=children)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _exclusive(root / ".lock", name), _stop_children_on_exit(children):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(str(root / "study.journal")))
        study = optuna.create_study(storage=storage, study_name=name, sampler=_sampler(cfg),
                                    direction="maximize" if maximize else "minimize", load_if_exists=True)
        known = study.user_attrs.get("search_fingerprint")
        if known is None:
            study.set_user_attr("search_fingerprint", fingerprint)
        elif known != fingerprint:
            raise MlPipeError(f"tuning job '{name}' in {root} was started with other ranges, objective or static "
                              f"hyperparameters; a tuning job name belongs to one search: use a new name")

        results: dict[str, TrialResult] = {}
        resume: list[tuple[dict[str, Any], str]] = []
        for t in study.trials:
            trial_name = t.user_attrs.get("trial_name")
            record = _read_record(root / "trials" / trial_name) if trial_name else None
            if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING) and trial_name:
                # cut off with the previous tuner (killed, or stopped by SIGTERM, which stops its trials too):
                # finish its bookkeeping if the trial ended on its own, else run it again in place
                ended = (record is not None and record.number == t.number
                         and not (record.failure_reason or "").startswith(STOPPED_BY_SIGNAL))
                if ended:
                    _tell(study, t.number, record, optuna)
                else:
                    _stop_orphan(root / "trials" / trial_name)
                    study.tell(t.number, state=optuna.trial.TrialState.FAIL)
                    resume.append((dict(t.params), trial_name))
                    continue
            if record is not None:
                results[record.name] = record
        finished = {n for n, r in results.items() if r.status in ("Completed", "Failed")}
        to_run = max(0, _budget(cfg) - len(finished))
        resume = [(p, n) for p, n in resume if n not in finished][:to_run]
        for params, trial_name in resume:
            study.enqueue_trial(params, user_attrs={"resume_dir": trial_name})
        log.info("tuning job %s: %d finished trials reused, %d to run (%d resumed), %d at a time",
                 name, len(finished), to_run, len(resume), cfg.tuning.max_parallel_jobs)

        ran = 0
        with ThreadPoolExecutor(max_workers=cfg.tuning.max_parallel_jobs) as pool:
            running: dict[Future[TrialResult], int] = {}
            launched = 0
            while launched < to_run or running:
                while launched < to_run and len(running) < cfg.tuning.max_parallel_jobs:
                    trial = study.ask()
                    tuned = suggest(trial, cfg)
                    hps = {**static, **tuned}
                    trial_name = trial.user_attrs.get("resume_dir") or _trial_name(name, trial.number, hps)
                    trial.set_user_attr("trial_name", trial_name)
                    spec = TrialSpec(trial.number, trial_name, hps, root / "trials" / trial_name)
                    log.info("trial %s: %s", trial_name, tuned)
                    running[pool.submit(run_trial, spec, **run)] = trial.number
                    launched += 1
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    number = running.pop(fut)
                    result = fut.result()
                    _tell(study, number, result, optuna)
                    results[result.name] = result
                    ran += 1
                    log.info("trial %s: %s %s=%s (%.1f s)%s", result.name, result.status, objective,
                             result.objective, result.seconds,
                             f": {result.failure_reason.splitlines()[-1]}" if result.failure_reason else "")

    trials = tuple(sorted(results.values(), key=lambda r: (r.started_at, r.number)))
    completed = [r for r in trials if r.status == "Completed" and r.objective is not None]
    if not completed:
        reasons = "; ".join(f"{r.name}: {(r.failure_reason or '').strip().splitlines()[-1:] or ['?']}"
                            for r in trials[:3])
        raise MlPipeError(f"tuning job '{name}': no trial completed ({len(trials)} tried); first failures: "
                          f"{reasons}. Logs: {root / 'trials'}/*/train.log")
    # the best objective; on a tie, the earliest trial
    best = sorted(completed, key=lambda r: (-r.objective if maximize else r.objective, r.started_at))[0]
    return TuningResult(name=name, objective_metric=objective, objective_type=cfg.tuning.objective.type,
                        best=best, trials=trials, directory=root, trials_run=ran,
                        parallelism=cfg.tuning.max_parallel_jobs)


def _tell(study: optuna.Study, number: int, result: TrialResult, optuna: Any) -> None:
    if result.status == "Completed" and result.objective is not None:
        study.tell(number, result.objective, skip_if_finished=True)
    else:
        study.tell(number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)


__all__ = ["TRAIN_SCRIPT", "TrialResult", "TrialSpec", "TuningResult", "parse_metrics", "run_trial", "suggest", "tune"]
