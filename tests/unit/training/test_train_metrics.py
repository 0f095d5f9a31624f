"""The metric lines parse with the configured MetricDefinitions; the numpy metrics match scikit-learn."""

from __future__ import annotations

import re

import numpy as np
import pytest
from mlpipe.config.training import TrainingConfig
from mlpipe.local.tuning.metrics import parse_metrics
from training.metrics import (
    auc,
    average_precision,
    binary_metrics,
    calibration,
    confusion,
    final_line,
    round_line,
)

DEFINITIONS = TrainingConfig().tuning.metric_definitions


def test_round_and_final_lines_parse_with_the_configured_regexes():
    log = "\n".join([
        round_line(1, {"train:auc": 0.7, "train:logloss": 0.6, "validation:auc": 0.65, "validation:logloss": 0.61}),
        round_line(2, {"train:auc": 0.8, "train:logloss": 0.5, "validation:auc": 0.75, "validation:logloss": 0.55}),
        round_line(3, {"train:auc": 0.9, "train:logloss": 0.4, "validation:auc": 0.70, "validation:logloss": 1e-7}),
        final_line(1, 3, {"train:auc": 0.8, "validation:auc": 0.75, "validation:logloss": 0.55,
                          "validation:aucpr": 0.5, "validation:f1": 0.25, "train:logloss": 0.5}),
    ])
    assert "e-" not in log  # never exponent notation: the regexes read fixed-point numbers
    # every definition matches, the latest value wins (what SageMaker reports as the final metric)
    assert parse_metrics(log, DEFINITIONS) == {"validation:auc": 0.75, "validation:logloss": 0.55,
                                               "validation:aucpr": 0.5, "validation:f1": 0.25,
                                               "train:auc": 0.8, "train:logloss": 0.5}
    for d in DEFINITIONS:  # each regex on its own, as SageMaker applies it
        assert re.findall(d.regex, log), d.name


def test_regexes_do_not_read_each_other():
    line = round_line(4, {"train:auc": 0.91, "validation:auc": 0.77})
    found = {d.name: re.findall(d.regex, line) for d in DEFINITIONS}
    assert found["train:auc"] == ["0.910000"] and found["validation:auc"] == ["0.770000"]
    assert found["validation:aucpr"] == [] and found["train:logloss"] == []


def test_nan_values_are_left_out():
    assert "validation:auc" not in round_line(1, {"validation:auc": float("nan"), "validation:logloss": 0.5})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numpy_metrics_match_scikit_learn(seed):
    from sklearn.metrics import average_precision_score, f1_score, log_loss, roc_auc_score

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 400)
    p = np.round(np.clip(rng.random(400) * 0.8 + y * 0.2, 0, 1), 2)  # rounded: many ties
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert average_precision(y, p) == pytest.approx(average_precision_score(y, p), abs=1e-12)
    m = binary_metrics(y, p, threshold=0.5)
    assert m["logloss"] == pytest.approx(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)), abs=1e-9)
    assert m["f1"] == pytest.approx(f1_score(y, p >= 0.5), abs=1e-12)
    assert auc(np.ones(5), p[:5]) is None


def test_calibration_bins_hold_each_score_once():
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.05, 0.15, 0.95, 1.0, 0.12])
    table = calibration(y, p)
    assert [(r["bin"], r["n"]) for r in table] == [("0.0-0.1", 1), ("0.1-0.2", 2), ("0.9-1.0", 2)]
    assert table[1]["positive_rate"] == 1.0 and table[2]["mean_score"] == pytest.approx(0.975)


def test_confusion_counts_each_row_once_at_the_threshold():
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.4, 0.6, 0.1, 0.5])
    assert confusion(y, p, 0.5) == {"tp": 2, "fp": 1, "fn": 1, "tn": 1}
