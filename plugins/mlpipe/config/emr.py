"""The ``emr:`` section: how ``ml_features`` runs its Spark steps on the aws stack, and where it registers partitions.

Two modes, chosen by ``emr.mode``:

- ``transient`` (default): one EMR on EC2 cluster per run (instance fleets: on-demand primary and core nodes,
  SPOT task nodes), a step per Spark stage, terminated at the end of the run whatever happened;
- ``serverless``: a job run per stage on an existing EMR Serverless application.

Then the new partitions are added to the Glue Data Catalog through Athena (``emr.athena``).
Defaults live in :mod:`mlpipe.defaults`. Required on the ``aws`` stack (``PipelineConfig`` checks that).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from mlpipe import defaults
from mlpipe.config.base import IAM_ROLE_ARN, StrictModel

S3_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"
# EC2 instance type names: family (with generation/options) '.' size, e.g. m7g.xlarge, r6gd.2xlarge
INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"


def _s3_prefix(value: str) -> str:
    if not re.match(S3_URI, value):
        raise ValueError("must be an s3://<bucket>/<prefix> URI")
    return value.rstrip("/") + "/"


S3Prefix = Annotated[str, AfterValidator(_s3_prefix)]


class _Fleet(StrictModel):
    instance_types: list[str]

    @field_validator("instance_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.match(INSTANCE_TYPE, v)]
        if bad:
            raise ValueError(f"not EC2 instance types: {bad}; use names such as m7g.xlarge or r6g.2xlarge")
        if len(set(value)) != len(value):
            raise ValueError("an instance type is listed twice")
        return value


class PrimaryFleet(_Fleet):
    """The primary (master) node: one on-demand instance of the first type EMR can get."""

    instance_types: list[str] = Field(default_factory=lambda: list(defaults.EMR_PRIMARY_INSTANCE_TYPES),
                                      min_length=1, max_length=5)


class CoreFleet(_Fleet):
    """Core nodes (HDFS, YARN application masters): on-demand, so a spot reclaim never loses a driver."""

    instance_types: list[str] = Field(default_factory=lambda: list(defaults.EMR_CORE_INSTANCE_TYPES),
                                      min_length=1, max_length=5)
    on_demand_capacity: int = Field(defaults.EMR_CORE_ON_DEMAND_CAPACITY, ge=1, le=100)
    ebs_volume_gb: int = Field(defaults.EMR_EBS_VOLUME_GB, ge=16, le=16384)


class TaskFleet(_Fleet):
    """Task nodes (executors only): SPOT capacity; ``spot_capacity: 0`` leaves the task fleet out."""

    instance_types: list[str] = Field(default_factory=lambda: list(defaults.EMR_TASK_INSTANCE_TYPES),
                                      min_length=1, max_length=30)
    spot_capacity: int = Field(defaults.EMR_TASK_SPOT_CAPACITY, ge=0, le=1000)
    ebs_volume_gb: int = Field(defaults.EMR_EBS_VOLUME_GB, ge=16, le=16384)
    allocation_strategy: Literal[
        "price-capacity-optimized", "capacity-optimized", "capacity-optimized-prioritized", "lowest-price",
        "diversified",
    ] = defaults.EMR_SPOT_ALLOCATION_STRATEGY
    timeout_minutes: int = Field(defaults.EMR_SPOT_TIMEOUT_MINUTES, ge=5, le=1440,
                                 description="how long EMR waits for spot capacity at start-up")
    timeout_action: Literal["SWITCH_TO_ON_DEMAND", "TERMINATE_CLUSTER"] = defaults.EMR_SPOT_TIMEOUT_ACTION


class ClusterConfig(StrictModel):
    """A transient EMR on EC2 cluster (``emr.mode: transient``); subnets and security groups come from ``aws``."""

    security_configuration: str = Field(
        min_length=1, max_length=10280,
        description="name of the EMR security configuration (encryption at rest and in transit)",
    )
    service_role: str = Field(defaults.EMR_SERVICE_ROLE, min_length=1)
    job_flow_role: str = Field(defaults.EMR_JOB_FLOW_ROLE, min_length=1,
                               description="the EC2 instance profile of the cluster nodes")
    primary: PrimaryFleet = PrimaryFleet()
    core: CoreFleet = CoreFleet()
    task: TaskFleet = TaskFleet()
    idle_timeout_minutes: int = Field(defaults.EMR_IDLE_TIMEOUT_MINUTES, ge=1, le=7 * 24 * 60,
                                      description="auto-termination when idle: a backstop if Airflow never "
                                                  "reaches the terminate task")
    ready_timeout_minutes: int = Field(defaults.EMR_CLUSTER_READY_TIMEOUT_MINUTES, ge=5, le=24 * 60)
    python_packages: list[str] = Field(default_factory=lambda: list(defaults.EMR_PYTHON_PACKAGES),
                                       description="pip requirements the bootstrap action installs on every node")
    tags: dict[str, str] = Field(default_factory=dict, description="extra tags for the cluster and its instances")

    @field_validator("python_packages")
    @classmethod
    def _pinned(cls, value: list[str]) -> list[str]:
        loose = [v for v in value if "==" not in v]
        if loose:
            raise ValueError(f"pin every package with == (e.g. great-expectations==1.24.1) so every node gets the "
                             f"same code; not pinned: {loose}")
        return value


class ServerlessConfig(StrictModel):
    """An existing EMR Serverless application (``emr.mode: serverless``)."""

    application_id: str = Field(pattern=r"^[0-9a-z]{1,64}$",
                                description="the application's id, e.g. 00fk1a2b3c4d5e6f (not its name)")
    execution_role_arn: str = Field(pattern=IAM_ROLE_ARN,
                                    description="the job runtime role: reads the code bucket, writes the lake")


class AthenaConfig(StrictModel):
    """Where the new silver and gold partitions are registered (Glue Data Catalog, through Athena DDL)."""

    workgroup: str = Field(defaults.ATHENA_WORKGROUP, pattern=r"^[a-zA-Z0-9._-]{1,128}$")
    database: str = Field(defaults.ATHENA_DATABASE, pattern=r"^[a-z0-9_]{1,255}$",
                          description="the Glue database of the lake's tables")
    output_location: S3Prefix | None = Field(
        None,
        description="s3:// prefix for query results; leave out only when the workgroup enforces one",
    )


class EmrConfig(StrictModel):
    mode: Literal["transient", "serverless"] = defaults.EMR_MODE
    release_label: str = Field(defaults.EMR_RELEASE_LABEL, pattern=r"^emr-\d+\.\d+\.\d+$",
                               description="an EMR 7.x release from emr-7.1.0 on (Spark 3.5, Python 3.11)")
    log_uri: S3Prefix = Field(description="s3:// prefix for cluster, step and job-run logs")
    step_timeout_minutes: int = Field(defaults.EMR_STEP_TIMEOUT_MINUTES, ge=5, le=7 * 24 * 60,
                                      description="how long one Spark step (silver or gold) may run")
    step_poll_seconds: int = Field(defaults.EMR_STEP_POLL_SECONDS, ge=5, le=3600)
    spark_conf: dict[str, str] = Field(default_factory=dict,
                                       description="extra --conf key=value for spark-submit on EMR")
    cluster: ClusterConfig | None = Field(None, validate_default=True)
    serverless: ServerlessConfig | None = Field(None, validate_default=True)
    athena: AthenaConfig = AthenaConfig()

    @field_validator("release_label")
    @classmethod
    def _supported_release(cls, value: str) -> str:
        version = tuple(int(p) for p in value.removeprefix("emr-").split("."))
        if version[0] != 7 or version < defaults.EMR_MIN_RELEASE:
            first = "emr-" + ".".join(map(str, defaults.EMR_MIN_RELEASE))
            raise ValueError(
                f"must be an EMR 7.x release from {first} on (e.g. {defaults.EMR_RELEASE_LABEL}): the spark_jobs run "
                f"on Spark 3.5 and Python 3.11 ({defaults.EMR_PYSPARK_PYTHON}), which EMR ships from {first}; "
                "earlier releases have only Python 3.9, too old for great-expectations 1.24.1, and other major "
                "versions a different Spark"
            )
        return value

    @field_validator("spark_conf")
    @classmethod
    def _spark_keys(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not k.startswith("spark.")]
        if bad:
            raise ValueError(f"keys must be Spark properties starting with 'spark.' (got {bad})")
        return value

    @field_validator("cluster")
    @classmethod
    def _cluster_for_transient(cls, value: ClusterConfig | None, info: ValidationInfo) -> ClusterConfig | None:
        if value is None and info.data.get("mode") == "transient":
            raise ValueError(
                "required when emr.mode is 'transient'; set at least cluster.security_configuration (the name of "
                "an EMR security configuration that encrypts at rest and in transit)"
            )
        return value

    @field_validator("serverless")
    @classmethod
    def _app_for_serverless(cls, value: ServerlessConfig | None, info: ValidationInfo) -> ServerlessConfig | None:
        if value is None and info.data.get("mode") == "serverless":
            raise ValueError(
                "required when emr.mode is 'serverless'; set serverless.application_id and "
                "serverless.execution_role_arn of an existing EMR Serverless application"
            )
        return value


__all__ = ["AthenaConfig", "ClusterConfig", "CoreFleet", "EmrConfig", "PrimaryFleet",
           "ServerlessConfig", "TaskFleet"]
