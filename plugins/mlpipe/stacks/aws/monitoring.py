"""AWS monitoring (build time): ml_monitoring's two tasks. Their bodies (:mod:`mlpipe.tasks.monitoring`) are
the local stack's: the serving model comes from the SageMaker endpoint (DescribeEndpoint -> EndpointConfig ->
Model -> its model package) or the SageMaker registry, the model artifact and the reports from S3, all through
:mod:`mlpipe.services`."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from mlpipe.config import PipelineConfig
from mlpipe.dagkit import retrain_asset
from mlpipe.tasks.monitoring import CHECK_TASK_ID, RETRAIN_TASK_ID, check_drift, request_retraining


class AwsMonitoring:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    def check_drift(self) -> Any:
        return task(check_drift, task_id=CHECK_TASK_ID)()

    def request_retraining(self, checked: Any) -> Any:
        return task(request_retraining, task_id=RETRAIN_TASK_ID, outlets=[retrain_asset(self.cfg)])(checked)
