"""What happens after every boosting round: the metric line, early stopping, checkpoints, SIGTERM.

One XGBoost callback, :class:`TrainingMonitor`, so the order is fixed: record and print the round's metrics,
update early stopping, then write a checkpoint when one is due or a SIGTERM arrived (and stop on SIGTERM).

The early-stopping state and the metric history live in :class:`RunState`, which every checkpoint carries,
so a resumed run stops at the same round and reports the same best iteration as an uninterrupted one.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import xgboost as xgb

from training.checkpoints import CheckpointStore
from training.metrics import round_line

# Test and benchmark hook: sleep this long after each round, to interrupt a run at a chosen point.
ENV_ROUND_DELAY = "MLPIPE_TRAIN_ROUND_DELAY_SECONDS"


@dataclass
class RunState:
    """Early stopping and history, in global rounds (round r = r trees), saved in every checkpoint."""

    history: dict[str, list[float]] = field(default_factory=dict)
    best_score: float | None = None
    best_iteration: int = -1          # 0-based index of the best round
    stopped_early: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"history": self.history, "best_score": self.best_score, "best_iteration": self.best_iteration,
                "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, doc: dict[str, object]) -> RunState:
        return cls(history={k: list(v) for k, v in dict(doc.get("history") or {}).items()},  # type: ignore[arg-type]
                   best_score=doc.get("best_score"),  # type: ignore[arg-type]
                   best_iteration=int(doc.get("best_iteration", -1)),  # type: ignore[arg-type]
                   stopped_early=bool(doc.get("stopped_early", False)))

    def values_at(self, iteration: int) -> dict[str, float]:
        return {k: v[iteration] for k, v in self.history.items() if iteration < len(v)}


class Interrupt:
    """SIGTERM handling. While training, a SIGTERM only sets a flag: the running round finishes, a
    checkpoint is written and training stops (SageMaker gives 120 s). Before training starts there is
    nothing to save, so the process exits at once; a second SIGTERM also exits at once."""

    def __init__(self, log: Callable[[str], None], exit_code: int) -> None:
        self.requested = False
        self.training = False
        self.log = log
        self.exit_code = exit_code
        self.received_at: float | None = None

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        if not self.training or self.requested:
            self.log("SIGTERM received outside training: exiting now, nothing to save")
            raise SystemExit(self.exit_code)
        self.requested = True
        self.received_at = time.monotonic()
        self.log("SIGTERM received: finishing this round, then writing a checkpoint")


class TrainingMonitor(xgb.callback.TrainingCallback):
    def __init__(self, state: RunState, *, objective_key: str, maximize: bool, early_stopping_rounds: int,
                 store: CheckpointStore | None, checkpoint_interval: int, fingerprint: str,
                 interrupt: Interrupt, log: Callable[[str], None]) -> None:
        super().__init__()
        self.state = state
        self.objective_key = objective_key
        self.maximize = maximize
        self.early_stopping_rounds = early_stopping_rounds
        self.store = store
        self.checkpoint_interval = checkpoint_interval
        self.fingerprint = fingerprint
        self.interrupt = interrupt
        self.log = log
        self.delay = float(os.environ.get(ENV_ROUND_DELAY) or 0)
        self.interrupted_at_round: int | None = None

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        rounds = model.num_boosted_rounds()
        values = {}
        for data, metrics in evals_log.items():
            for metric, scores in metrics.items():
                score = scores[-1]
                values[f"{data}:{metric}"] = float(score[0] if isinstance(score, tuple) else score)
        for key, value in values.items():
            self.state.history.setdefault(key, []).append(value)
        self.log(round_line(rounds, values))
        stop = self._early_stop(rounds, values)
        if self.delay:
            time.sleep(self.delay)
        if self.interrupt.requested:
            self._checkpoint(model, rounds)
            self.interrupted_at_round = rounds
            return True
        if self.store is not None and self.checkpoint_interval and rounds % self.checkpoint_interval == 0 and not stop:
            self._checkpoint(model, rounds)
        return stop

    def _early_stop(self, rounds: int, values: dict[str, float]) -> bool:
        score = values.get(self.objective_key)
        if score is None:
            return False
        best = self.state.best_score
        if best is None or (score > best if self.maximize else score < best):
            self.state.best_score = score
            self.state.best_iteration = rounds - 1
        if self.early_stopping_rounds and (rounds - 1) - self.state.best_iteration >= self.early_stopping_rounds:
            self.state.stopped_early = True
            self.log(f"early stopping: {self.objective_key} has not improved for {self.early_stopping_rounds} "
                     f"rounds (best {self.state.best_score:.6f} at round {self.state.best_iteration + 1})")
            return True
        return False

    def _checkpoint(self, model, rounds: int) -> None:
        if self.store is None:
            return
        self.store.save(model, rounds, self.fingerprint, self.state.to_dict())
        self.log(f"checkpoint: round={rounds} dir={self.store.directory}")
