"""The aws stack: the Amazon provider's operators drive DMS, DataSync, S3, EMR and SageMaker."""

from __future__ import annotations

from mlpipe.config import PipelineConfig
from mlpipe.stacks.aws.ingestion import AwsIngestion


class AwsStack:
    name = "aws"

    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg
        self.ingestion = AwsIngestion(cfg)

    def storage(self):  # noqa: ANN201 - imported lazily: S3Hook pulls in boto3
        from mlpipe.stacks.aws.storage import S3Storage

        return S3Storage(self.cfg)
