"""The aws stack: the Amazon provider's operators drive DMS, DataSync, S3, EMR and SageMaker."""

from __future__ import annotations

from mlpipe.config import PipelineConfig
from mlpipe.stacks.aws.features import AwsFeatures
from mlpipe.stacks.aws.ingestion import AwsIngestion
from mlpipe.stacks.aws.training import AwsTraining


class AwsStack:
    name = "aws"

    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg
        self.ingestion = AwsIngestion(cfg)
        self.features = AwsFeatures(cfg)
        self.training = AwsTraining(cfg)
        self.deployment = __import__('mlpipe.stacks.aws.deployment', fromlist=['x']).AwsDeployment(cfg)

    def storage(self):  # noqa: ANN201 - imported lazily: S3Hook pulls in boto3
        from mlpipe.stacks.aws.storage import S3Storage

        return S3Storage(self.cfg)
