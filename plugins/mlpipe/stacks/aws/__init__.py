"""The aws stack: the Amazon provider's operators drive DMS, DataSync, S3, EMR and SageMaker."""

from __future__ import annotations

from mlpipe.config import PipelineConfig
from mlpipe.stacks.aws.deployment import AwsDeployment
from mlpipe.stacks.aws.features import AwsFeatures
from mlpipe.stacks.aws.ingestion import AwsIngestion
from mlpipe.stacks.aws.training import AwsTraining
from mlpipe.stacks.monitoring import DriftMonitoring


class AwsStack:
    name = "aws"

    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg
        self.ingestion = AwsIngestion(cfg)
        self.features = AwsFeatures(cfg)
        self.training = AwsTraining(cfg)
        self.deployment = AwsDeployment(cfg)
        self.monitoring = DriftMonitoring(cfg)
