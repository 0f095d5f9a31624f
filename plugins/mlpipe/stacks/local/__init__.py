"""The local stack: every stage runs on this machine, for real (SQL database, file share, local Spark, ...)."""

from __future__ import annotations

from mlpipe.config import PipelineConfig
from mlpipe.stacks.local.deployment import LocalDeployment
from mlpipe.stacks.local.features import LocalFeatures
from mlpipe.stacks.local.ingestion import LocalIngestion
from mlpipe.stacks.local.training import LocalTraining
from mlpipe.stacks.monitoring import DriftMonitoring


class LocalStack:
    name = "local"

    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg
        self.ingestion = LocalIngestion(cfg)
        self.features = LocalFeatures(cfg)
        self.training = LocalTraining(cfg)
        self.deployment = LocalDeployment(cfg)
        self.monitoring = DriftMonitoring(cfg)
