"""A tuning job's records: each trial's outcome (``trial.json`` in its directory) and the job's result."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

RECORD = "trial.json"

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


def write_record(result: TrialResult) -> Path:
    """``trial.json`` in the trial's directory, replaced atomically."""
    d = result.directory
    tmp = d / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    os.replace(tmp, d / RECORD)
    return d / RECORD


def read_record(directory: Path) -> TrialResult | None:
    """The trial recorded in ``directory`` (marked reused), or None when there is no readable record."""
    try:
        return TrialResult.from_dict(json.loads((directory / RECORD).read_text()), reused=True)
    except (OSError, ValueError, KeyError):
        return None


@dataclass(frozen=True)
class TrialSpec:
    """One training job to run: its number in the study, its name, its hyperparameters, its /opt/ml stand-in."""

    number: int
    name: str
    hyperparameters: dict[str, str]
    directory: Path
