"""The local stack: every stage runs on this machine, for real (SQL database, file share, local Spark, ...)."""

from __future__ import annotations

from mlpipe.config import PipelineConfig
from mlpipe.stacks.local.features import LocalFeatures
from mlpipe.stacks.local.ingestion import LocalIngestion
from mlpipe.stacks.local.storage import LocalStorage


class LocalStack:
    name = "local"

    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg
        self.ingestion = LocalIngestion(cfg)
        self.features = LocalFeatures(cfg)

    def storage(self) -> LocalStorage:
        return LocalStorage()
