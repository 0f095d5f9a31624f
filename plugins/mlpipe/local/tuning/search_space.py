"""The tuning job's search: hyperparameters drawn from the configured ranges with their scaling, the Optuna
sampler of each strategy (Bayesian: TPE; Random; Grid), the budget, and the search's fingerprint (a tuning job
name belongs to one search)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlpipe.config.training import CategoricalRange, ContinuousRange

if TYPE_CHECKING:
    import optuna

    from mlpipe.config.training import TrainingConfig


def format_value(value: float | int | str) -> str:
    """A hyperparameter as the string SageMaker passes (floats to 10 significant digits)."""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def suggest(trial: optuna.Trial, cfg: TrainingConfig) -> dict[str, str]:
    """The trial's tuned hyperparameters as strings, drawn from the configured ranges."""
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
        out[name] = format_value(value)
    return out


def sampler(cfg: TrainingConfig) -> optuna.samplers.BaseSampler:
    """The Optuna sampler of the configured strategy, seeded with ``cfg.seed``."""
    import optuna

    strategy = cfg.tuning.strategy
    if strategy == "Random":
        return optuna.samplers.RandomSampler(seed=cfg.seed)
    if strategy == "Grid":
        space = {n: list(r.values) for n, r in cfg.tuning.ranges.items() if isinstance(r, CategoricalRange)}
        return optuna.samplers.GridSampler(space, seed=cfg.seed)
    # Bayesian: like SageMaker's, random picks first, then the model; constant_liar keeps parallel trials apart.
    startup = max(1, min(10, cfg.tuning.max_jobs // 2))
    return optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=startup, constant_liar=True)


def budget(cfg: TrainingConfig) -> int:
    """How many trials the job runs: ``max_jobs``, or fewer when a grid has fewer points."""
    if cfg.tuning.strategy == "Grid":
        size = math.prod(len(r.values) for r in cfg.tuning.ranges.values() if isinstance(r, CategoricalRange))
        return min(cfg.tuning.max_jobs, size)
    return cfg.tuning.max_jobs


def search_fingerprint(cfg: TrainingConfig, static: Mapping[str, str]) -> str:
    """A digest of the ranges, objective, strategy, static hyperparameters and seed."""
    blob = json.dumps({"ranges": cfg.sagemaker_parameter_ranges(), "objective": cfg.sagemaker_objective(),
                       "strategy": cfg.tuning.strategy, "static": dict(static), "seed": cfg.seed}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
