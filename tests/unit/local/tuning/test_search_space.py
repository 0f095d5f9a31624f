"""mlpipe.local.tuning.search_space: values drawn inside the ranges with their scaling, as SageMaker's strings;
the grid's budget; a fingerprint that changes with the search."""

from __future__ import annotations

import optuna
from mlpipe.config.training import TrainingConfig
from mlpipe.local.tuning.search_space import budget, format_value, sampler, search_fingerprint, suggest


def cfg(**tuning) -> TrainingConfig:
    return TrainingConfig.model_validate({"label": "churned", "tuning": {
        "max_jobs": 20, "max_parallel_jobs": 1,
        "ranges": {"eta": {"type": "continuous", "min_value": 0.01, "max_value": 0.5, "scaling": "Logarithmic"},
                   "subsample": {"type": "continuous", "min_value": 0.5, "max_value": 0.999,
                                 "scaling": "ReverseLogarithmic"},
                   "max_depth": {"type": "integer", "min_value": 2, "max_value": 8},
                   "grow_policy": {"type": "categorical", "values": ["depthwise", "lossguide"]}}, **tuning}})


def test_suggested_values_are_strings_inside_their_ranges() -> None:
    c = cfg()
    study = optuna.create_study(sampler=sampler(c))
    drawn = [suggest(study.ask(), c) for _ in range(20)]
    for hps in drawn:
        assert all(isinstance(v, str) for v in hps.values())
        assert 0.01 <= float(hps["eta"]) <= 0.5 and 0.5 <= float(hps["subsample"]) <= 0.999
        assert 2 <= int(hps["max_depth"]) <= 8 and hps["grow_policy"] in ("depthwise", "lossguide")
    # reverse-logarithmic: dense close to max_value (most draws in the top fifth of the range)
    assert sum(float(h["subsample"]) > 0.9 for h in drawn) > len(drawn) / 2


def test_the_strategies_samplers_and_the_grids_budget() -> None:
    assert isinstance(sampler(cfg()), optuna.samplers.TPESampler)
    assert isinstance(sampler(cfg(strategy="Random")), optuna.samplers.RandomSampler)
    grid = TrainingConfig.model_validate({"label": "churned", "tuning": {
        "strategy": "Grid", "max_jobs": 10, "max_parallel_jobs": 1,
        "ranges": {"max_depth": {"type": "categorical", "values": ["3", "5", "7"]},
                   "grow_policy": {"type": "categorical", "values": ["depthwise", "lossguide"]}}}})
    assert isinstance(sampler(grid), optuna.samplers.GridSampler)
    assert budget(grid) == 6 and budget(cfg()) == 20


def test_the_fingerprint_changes_with_the_search_only() -> None:
    static = {"label": "churned"}
    assert search_fingerprint(cfg(), static) == search_fingerprint(cfg(), dict(static))
    assert search_fingerprint(cfg(), static) != search_fingerprint(cfg(strategy="Random"), static)
    assert search_fingerprint(cfg(), static) != search_fingerprint(cfg(), {"label": "other"})


def test_values_are_formatted_as_sagemaker_passes_them() -> None:
    assert [format_value(v) for v in (0.1 + 0.2, 3, "lossguide")] == ["0.3", "3", "lossguide"]
