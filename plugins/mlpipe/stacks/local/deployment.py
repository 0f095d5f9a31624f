"""Local deployment (build time): the Approved version behind the local endpoint, blue/green, and the local
batch transform::

    resolve_version >> deploy_endpoint >> smoke_test        (mode endpoint | both)
    resolve_version >> batch_transform                      (mode batch | both)

The task bodies are :mod:`mlpipe.tasks.deployment_local` (blue/green: :mod:`mlpipe.local.blue_green`; the
batch transform: :mod:`mlpipe.local.batch`) and :func:`mlpipe.tasks.deployment.smoke_test`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from mlpipe.config import PipelineConfig
from mlpipe.tasks.deployment import SMOKE_TASK_ID, smoke_test
from mlpipe.tasks.deployment_local import batch_transform, deploy_endpoint


class LocalDeployment:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    def endpoint(self, resolved: Any) -> Any:
        deployed = task(deploy_endpoint, task_id="deploy_endpoint")(resolved)
        smoke = task(smoke_test, task_id=SMOKE_TASK_ID)(resolved)
        deployed >> smoke
        return smoke

    def batch(self, resolved: Any) -> Any:
        return task(batch_transform, task_id="batch_transform")(resolved)
