"""The ``deployment:`` section: how an Approved model version is served (ml_deployment). Both stacks read it:

- ``aws``: a SageMaker Model from the approved model package, an EndpointConfig (instance type/count, data
  capture to S3 with KMS), the Endpoint created or updated blue/green (canary, termination wait, CloudWatch
  alarms for auto-rollback), and a SageMaker batch transform job over the gold partition's scoring rows;
- ``local``: the same handler behind the local uvicorn endpoint (``mlpipe.local.endpoint``), blue/green by a
  second process on another port and a switch of the live state file, and the local batch transform.

``mode`` picks ``endpoint``, ``batch`` or ``both``. Defaults live in :mod:`mlpipe.defaults`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from mlpipe import defaults
from mlpipe.config.base import IAM_ROLE_ARN, StrictModel, matching
from mlpipe.config.instances import HOSTING, TRANSFORM, check_instance_type

SAGEMAKER_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
KMS_KEY = r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+|alias/.+|[0-9a-f-]{36})$"
CONTENT_TYPES = ("text/csv", "application/json")
MAX_ALARM_NAME = 255  # CloudWatch's limit on an alarm name

SageMakerName = Annotated[str, matching(
    SAGEMAKER_NAME, "a SageMaker name: 1-63 letters, digits and hyphens, starting and ending with a letter or "
                    "digit, no '_' (e.g. mlpipe-churn)")]
RoleArn = Annotated[str, matching(IAM_ROLE_ARN, "an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>")]
KmsKey = Annotated[str, matching(
    KMS_KEY, "a KMS key: arn:aws:kms:<region>:<account>:key/<id>, arn:aws:kms:...:alias/<name>, alias/<name> "
             "or a key id; leave it out to use aws.kms_key_arn")]


class DataCaptureSettings(StrictModel):
    """``DataCaptureConfig`` of the endpoint (aws) / the local endpoint's capture (local)."""

    enabled: bool = True
    sampling_percentage: int = Field(defaults.DEPLOYMENT_CAPTURE_PERCENTAGE, ge=0, le=100,
                                     description="InitialSamplingPercentage")
    destination: str | None = Field(None, description="capture root: s3://... (aws) or file://... (local); "
                                                      "default <lake>/capture")
    capture_input: bool = True
    capture_output: bool = True

    @field_validator("destination")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("s3://", "file://")):
            raise ValueError("must be an s3://<bucket>/<prefix> URI (aws stack) or a file://<dir> URI (local "
                             "stack); leave it out to capture under <lake>/capture")
        return value.rstrip("/") if value else value


class BlueGreenSettings(StrictModel):
    """``DeploymentConfig`` of UpdateEndpoint (aws): canary traffic shifting with auto-rollback on alarms.
    The local stack's switch is all at once after its smoke test; ``drain_seconds`` is how long the old
    version keeps serving after the switch (clients that read the old port finish)."""

    canary_percent: int = Field(defaults.DEPLOYMENT_CANARY_PERCENT, ge=1, le=99,
                                description="CanarySize (CAPACITY_PERCENT) of the new fleet taking traffic first")
    canary_wait_seconds: int = Field(defaults.DEPLOYMENT_CANARY_WAIT_SECONDS, ge=0, le=3600,
                                     description="WaitIntervalInSeconds: the canary's bake time before all traffic")
    termination_wait_seconds: int = Field(defaults.DEPLOYMENT_TERMINATION_WAIT_SECONDS, ge=0, le=3600,
                                          description="TerminationWaitInSeconds: the old fleet kept for rollback")
    maximum_execution_timeout_seconds: int = Field(defaults.DEPLOYMENT_MAX_EXECUTION_SECONDS, ge=600, le=28800)
    alarms: list[str] = Field(default_factory=list, max_length=10,
                              description="CloudWatch alarm names; any in ALARM during the update rolls back")
    drain_seconds: float = Field(defaults.DEPLOYMENT_LOCAL_DRAIN_SECONDS, ge=0, le=60)

    @field_validator("alarms")
    @classmethod
    def _alarms(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not a.strip() or len(a) > MAX_ALARM_NAME]
        if bad:
            raise ValueError(f"alarm names must be 1-{MAX_ALARM_NAME} characters, not blank (CloudWatch's limit); "
                             f"fix or remove {bad}")
        return value

    def sagemaker(self) -> dict[str, Any]:
        """``DeploymentConfig`` of CreateEndpoint / UpdateEndpoint."""
        out: dict[str, Any] = {"BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY", "WaitIntervalInSeconds": self.canary_wait_seconds,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": self.canary_percent}},
            "TerminationWaitInSeconds": self.termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": self.maximum_execution_timeout_seconds}}
        if self.alarms:
            out["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in self.alarms]}
        return out


class SmokeRequest(StrictModel):
    content_type: Literal["text/csv", "application/json"] = "application/json"
    body: str = Field(min_length=1, description="the request body, exactly as a client sends it")


class SmokeTestSettings(StrictModel):
    """What the deployed endpoint must answer with valid predictions (one finite score in [0, 1] per row)."""

    requests: list[SmokeRequest] = Field(default_factory=list, description="fixed sample requests")
    gold_rows: int = Field(defaults.DEPLOYMENT_SMOKE_GOLD_ROWS, ge=0, le=100,
                           description="also send this many scoring rows of the gold partition as JSON records")
    timeout_seconds: float = Field(defaults.DEPLOYMENT_SMOKE_TIMEOUT_SECONDS, gt=0, le=300)

    @model_validator(mode="after")
    def _something(self) -> SmokeTestSettings:
        if not self.requests and self.gold_rows == 0:
            raise ValueError("the smoke test would send nothing: list requests or set gold_rows above 0")
        return self


class TransformSettings(StrictModel):
    """The batch transform job (aws) / the local batch transform."""

    instance_type: str = Field(defaults.DEPLOYMENT_TRANSFORM_INSTANCE_TYPE,
                               description="ml.<family>.<size>, a family of mlpipe.config.instances.FAMILIES")
    instance_count: int = Field(1, ge=1, le=100)
    max_payload_mb: int = Field(defaults.DEPLOYMENT_TRANSFORM_MAX_PAYLOAD_MB, ge=1, le=100)
    max_concurrent_transforms: int = Field(1, ge=1, le=64)
    chunk_rows: int = Field(defaults.DEPLOYMENT_TRANSFORM_CHUNK_ROWS, ge=1, description="local: rows per chunk")
    max_runtime_seconds: int = Field(defaults.DEPLOYMENT_TRANSFORM_MAX_RUNTIME_SECONDS, ge=1, le=345600)

    @field_validator("instance_type")
    @classmethod
    def _known_family(cls, value: str) -> str:
        return check_instance_type(value, TRANSFORM)


class LocalEndpointSettings(StrictModel):
    """Local stack only: where the endpoint listens and keeps its pid/log/state files."""

    port: int = Field(defaults.DEPLOYMENT_LOCAL_PORT, ge=1024, le=65535,
                      description="port of the first version; a new version starts beside it on a free port")
    workers: int = Field(1, ge=1, le=16)
    run_dir: str = Field(defaults.DEPLOYMENT_LOCAL_RUN_DIR, description="pid, log and live-state files")


class DeploymentConfig(StrictModel):
    mode: Literal["endpoint", "batch", "both"] = defaults.DEPLOYMENT_MODE
    endpoint_name: SageMakerName = defaults.DEPLOYMENT_ENDPOINT_NAME
    variant_name: SageMakerName = defaults.DEPLOYMENT_VARIANT_NAME
    instance_type: str = Field(defaults.DEPLOYMENT_INSTANCE_TYPE,
                               description="ml.<family>.<size>, a family of mlpipe.config.instances.FAMILIES")
    instance_count: int = Field(defaults.DEPLOYMENT_INSTANCE_COUNT, ge=1, le=100)
    execution_role_arn: RoleArn | None = Field(None, description="the SageMaker model's execution role (aws)")
    enable_network_isolation: bool = True
    kms_key_arn: KmsKey | None = Field(None, description="endpoint volumes, capture and transform output; "
                                                         "default aws.kms_key_arn")
    data_capture: DataCaptureSettings = DataCaptureSettings()
    blue_green: BlueGreenSettings = BlueGreenSettings()
    smoke_test: SmokeTestSettings = SmokeTestSettings()
    transform: TransformSettings = TransformSettings()
    local: LocalEndpointSettings = LocalEndpointSettings()

    @field_validator("instance_type")
    @classmethod
    def _known_family(cls, value: str) -> str:
        return check_instance_type(value, HOSTING)

    @property
    def endpoint(self) -> bool:
        return self.mode in ("endpoint", "both")

    @property
    def batch(self) -> bool:
        return self.mode in ("batch", "both")


__all__ = ["BlueGreenSettings", "DataCaptureSettings", "DeploymentConfig", "LocalEndpointSettings", "SmokeRequest",
           "SmokeTestSettings", "TransformSettings"]
