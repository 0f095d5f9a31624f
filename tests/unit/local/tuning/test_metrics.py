"""mlpipe.local.tuning.metrics: the latest finite match of each MetricDefinition, as SageMaker reports it."""

from __future__ import annotations

from mlpipe.config.training import MetricDefinition
from mlpipe.local.tuning.metrics import parse_metrics

LOG = """[1] validation:auc=0.700000; validation:logloss=0.600000;
[2] validation:auc=0.750000; validation:logloss=nan;
final: validation:auc=0.760000; rounds=2;
"""


def test_the_latest_finite_value_of_each_metric() -> None:
    definitions = [MetricDefinition(name="validation:auc", regex=r"validation:auc=([0-9.]+);"),
                   MetricDefinition(name="validation:logloss", regex=r"validation:logloss=([a-z0-9.]+);"),
                   MetricDefinition(name="word", regex=r"final: ([a-z]+):"),
                   MetricDefinition(name="absent", regex=r"train:auc=([0-9.]+)")]
    # logloss: nan is skipped for the last finite value; a match that is no number ("validation") is left out,
    # and so is a metric never logged
    assert parse_metrics(LOG, definitions) == {"validation:auc": 0.76, "validation:logloss": 0.6}
