"""ml_monitoring's tasks (build time), the same on both stacks: the bodies (:mod:`mlpipe.tasks.monitoring`)
find the serving model, read the live data and write the reports through :mod:`mlpipe.services`, which is
where the stacks differ (the SageMaker endpoint and registry and S3, or the local endpoint's live state file,
the local registry and the filesystem)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from mlpipe.config import PipelineConfig
from mlpipe.dagkit import retrain_asset
from mlpipe.tasks.monitoring import CHECK_TASK_ID, RETRAIN_TASK_ID, check_drift, request_retraining


class DriftMonitoring:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    def check_drift(self) -> Any:
        return task(check_drift, task_id=CHECK_TASK_ID)()

    def request_retraining(self, checked: Any) -> Any:
        return task(request_retraining, task_id=RETRAIN_TASK_ID, outlets=[retrain_asset(self.cfg)])(checked)
