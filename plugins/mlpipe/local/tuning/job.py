"""The tuning job: the SageMaker tuning job's search, run (or resumed) as trial subprocesses on this machine.

The same ``training:`` section drives both stacks: the ranges, the objective, the strategy, the budget
(``max_jobs``) and the parallelism (``max_parallel_jobs``), the static hyperparameters and the MetricDefinitions.
Resumable: a re-run with the same tuning job name reuses every finished trial and runs only what is left of the
budget; a trial cut off by a crash of the tuner is run again in its own directory, so it resumes from its
checkpoints. A lock file keeps two tuners off one tuning job; a tuner stopped by SIGTERM stops its trials with
SIGTERM first (they checkpoint).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpipe.errors import ConfigError, MlPipeError
from mlpipe.local.tuning.records import TrialResult, TrialSpec, TuningResult, read_record
from mlpipe.local.tuning.search_space import budget, sampler, search_fingerprint, suggest
from mlpipe.local.tuning.trial import STOPPED_BY_SIGNAL, TRAIN_SCRIPT, run_trial
from mlpipe.local.tuning.trial_process import (
    EXIT_INTERRUPTED,
    STOP_GRACE_SECONDS,
    RunningTrials,
    stop_orphan,
    visible_gpus,
)

if TYPE_CHECKING:
    import optuna

    from mlpipe.config.training import TrainingConfig

log = logging.getLogger(__name__)

# HyperParameterTuningJobName: 1-32 characters, letters, digits and single hyphens.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")


@contextlib.contextmanager
def _stop_trials_on_exit(running: RunningTrials) -> Iterator[None]:
    """If the tuner is stopped (SIGTERM from Airflow, Ctrl-C, an error), its trials are stopped too: SIGTERM,
    so each writes a checkpoint, and a re-run resumes them. A SIGTERM handler that was installed before
    (Airflow's) still runs afterwards."""
    previous: Any = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        def on_term(signum: int, frame: Any) -> None:
            log.warning("tuner got SIGTERM: stopping the running trials (they checkpoint)")
            running.stop_all(STOP_GRACE_SECONDS)
            if callable(previous):
                previous(signum, frame)
            raise SystemExit(EXIT_INTERRUPTED)

        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except BaseException:
        running.stop_all(STOP_GRACE_SECONDS)
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
    fingerprint = search_fingerprint(cfg, static)
    script = Path(train_script) if train_script else TRAIN_SCRIPT
    running = RunningTrials()
    run = dict(channels=chans, definitions=cfg.tuning.metric_definitions, objective_metric=objective,
               max_runtime_seconds=cfg.sagemaker.max_runtime_seconds, threads=threads, gpus=visible_gpus(),
               train_script=script, python=python or sys.executable, running=running)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _exclusive(root / ".lock", name), _stop_trials_on_exit(running):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(str(root / "study.journal")))
        study = optuna.create_study(storage=storage, study_name=name, sampler=sampler(cfg),
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
            record = read_record(root / "trials" / trial_name) if trial_name else None
            if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING) and trial_name:
                # cut off with the previous tuner (killed, or stopped by SIGTERM, which stops its trials too):
                # finish its bookkeeping if the trial ended on its own, else run it again in place
                ended = (record is not None and record.number == t.number
                         and not (record.failure_reason or "").startswith(STOPPED_BY_SIGNAL))
                if ended:
                    _tell(study, t.number, record, optuna)
                else:
                    stop_orphan(root / "trials" / trial_name)
                    study.tell(t.number, state=optuna.trial.TrialState.FAIL)
                    resume.append((dict(t.params), trial_name))
                    continue
            if record is not None:
                results[record.name] = record
        finished = {n for n, r in results.items() if r.status in ("Completed", "Failed")}
        to_run = max(0, budget(cfg) - len(finished))
        resume = [(p, n) for p, n in resume if n not in finished][:to_run]
        for params, trial_name in resume:
            study.enqueue_trial(params, user_attrs={"resume_dir": trial_name})
        log.info("tuning job %s: %d finished trials reused, %d to run (%d resumed), %d at a time",
                 name, len(finished), to_run, len(resume), cfg.tuning.max_parallel_jobs)

        ran = 0
        with ThreadPoolExecutor(max_workers=cfg.tuning.max_parallel_jobs) as pool:
            pending: dict[Future[TrialResult], int] = {}
            launched = 0
            while launched < to_run or pending:
                while launched < to_run and len(pending) < cfg.tuning.max_parallel_jobs:
                    trial = study.ask()
                    tuned = suggest(trial, cfg)
                    hps = {**static, **tuned}
                    trial_name = trial.user_attrs.get("resume_dir") or _trial_name(name, trial.number, hps)
                    trial.set_user_attr("trial_name", trial_name)
                    spec = TrialSpec(trial.number, trial_name, hps, root / "trials" / trial_name)
                    log.info("trial %s: %s", trial_name, tuned)
                    pending[pool.submit(run_trial, spec, **run)] = trial.number
                    launched += 1
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in done:
                    number = pending.pop(fut)
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
