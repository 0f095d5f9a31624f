"""A trial's metrics, read from its training log with the tuning job's MetricDefinitions regexes."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlpipe.config.training import MetricDefinition


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
