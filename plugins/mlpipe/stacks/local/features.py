"""Local features: each Spark step is a ``spark-submit --master local[*]`` task on this machine."""

from __future__ import annotations

from typing import Any

from airflow.sdk import TaskGroup

from mlpipe.config import PipelineConfig
from mlpipe.stacks.local.spark import LocalSparkSubmitOperator
from mlpipe.tasks.features import SPEC_URI


class LocalFeatures:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    def step(self, step: str, spec: Any) -> TaskGroup:
        with TaskGroup(group_id=step, tooltip=f"{step}: spark-submit --master local[*] main.py") as group:
            submit = LocalSparkSubmitOperator(task_id="spark_submit", step=step, spec_uri=SPEC_URI)
        spec >> submit
        return group

    def publish(self, spec: Any) -> list[Any]:
        """Nothing to register: DuckDB (`make sql`) and the later stages read the partitions as files."""
        return []
