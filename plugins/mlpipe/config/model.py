"""The typed configuration: :class:`PipelineConfig`, everything a user sets, in one model.

This module holds the root model and its small sections (``dag``, ``schedules``, ``lake``, ``sources``,
``sample``, ``aws``); each larger section has its own module (``features``, ``training``, ``deployment``,
``monitoring``, ``emr``), built on :mod:`mlpipe.config.base`.

Values not given in YAML come from :mod:`mlpipe.defaults`. No secrets belong here: AWS access goes
through Airflow connections and IAM roles, database passwords through the connection URL's environment
override (``MLPIPE__SOURCES__<i>__URL``) or the database's own auth (peer, IAM).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mlpipe import defaults
from mlpipe.config.base import Arn, Name, StrictModel
from mlpipe.config.deployment import DeploymentConfig
from mlpipe.config.emr import EmrConfig
from mlpipe.config.features import FeaturesConfig
from mlpipe.config.monitoring import MonitoringConfig
from mlpipe.config.training import TrainingConfig


class DagSettings(StrictModel):
    owner: str = defaults.OWNER
    start_date: dt.date = defaults.START_DATE
    retries: int = Field(defaults.RETRIES, ge=0, le=10)
    retry_delay_seconds: int = Field(defaults.RETRY_DELAY_SECONDS, ge=1)
    max_retry_delay_seconds: int = Field(defaults.MAX_RETRY_DELAY_SECONDS, ge=1)
    execution_timeout_minutes: int = Field(defaults.EXECUTION_TIMEOUT_MINUTES, ge=1)
    dagrun_timeout_minutes: int = Field(defaults.DAGRUN_TIMEOUT_MINUTES, ge=1)
    max_active_runs: int = Field(defaults.MAX_ACTIVE_RUNS, ge=1, le=16)

    @model_validator(mode="after")
    def _max_delay_covers_delay(self) -> DagSettings:
        if self.max_retry_delay_seconds < self.retry_delay_seconds:
            raise ValueError(
                f"max_retry_delay_seconds ({self.max_retry_delay_seconds}) must be >= "
                f"retry_delay_seconds ({self.retry_delay_seconds})"
            )
        return self


class Schedules(StrictModel):
    ingest: str = defaults.INGEST_SCHEDULE
    monitoring: str = defaults.MONITORING_SCHEDULE

    @field_validator("*")
    @classmethod
    def _cron_or_preset(cls, value: str) -> str:
        presets = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly"}
        if value in presets or len(value.split()) == 5:
            return value
        raise ValueError(f"must be a cron expression with 5 fields or one of {sorted(presets)}")


class LakeConfig(StrictModel):
    root: str = Field(description="file://<dir> on the local stack, s3://<bucket>/<prefix> on aws")

    @field_validator("root")
    @classmethod
    def _uri(cls, value: str) -> str:
        if not re.match(r"^(file|s3)://.+", value):
            raise ValueError("must be a URI starting with file:// (local stack) or s3:// (aws stack)")
        return value.rstrip("/")


class TableSpec(StrictModel):
    name: Name
    primary_key: list[str] = Field(min_length=1)


class DatabaseSource(StrictModel):
    """An OLTP database replicated by DMS (aws) or by the local full-load + CDC reader (local)."""

    kind: Literal["database"]
    name: Name
    url: str | None = Field(None, description="SQLAlchemy URL of the source (local stack)")
    db_schema: str | None = Field(None, description="schema that holds the tables (DMS's <schema> folder)")
    tables: list[TableSpec] = Field(min_length=1)
    dms_task_arn: Arn | None = None
    dms_target_prefix: str | None = Field(
        None, description="s3:// prefix the DMS S3 target endpoint writes to (aws stack)"
    )

    @field_validator("url")
    @classmethod
    def _sqlalchemy_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("must be a SQLAlchemy URL: sqlite:///<path> or postgresql+psycopg://user@host:port/db")
        return value


class FileShareSource(StrictModel):
    """Files on a share replicated by DataSync (aws) or by the local incremental sync (local)."""

    kind: Literal["file_share"]
    name: Name
    table: Name
    path: str | None = Field(None, description="directory of the share (local stack)")
    format: Literal["jsonl", "csv"] = "jsonl"
    required_fields: list[str] = Field(default_factory=list)
    datasync_task_arn: Arn | None = None
    datasync_target_prefix: str | None = Field(
        None, description="s3:// prefix the DataSync task's destination location points at (aws stack)"
    )
    transfer_timeout_seconds: int = Field(
        defaults.DATASYNC_TRANSFER_TIMEOUT_SECONDS, ge=60,
        description="how long the aws stack waits for a DataSync task execution before failing the run",
    )
    poke_interval_seconds: int = Field(
        defaults.DATASYNC_POKE_INTERVAL_SECONDS, ge=1,
        description="seconds between checks of a running DataSync task execution (aws stack; no worker slot held)",
    )


class DropSource(StrictModel):
    """A partner's file dropped daily into S3 (aws) or a landing directory (local)."""

    kind: Literal["drop"]
    name: Name
    table: Name
    landing: str = Field(description="directory (local) or s3://bucket/prefix (aws) the partner drops into")
    file_pattern: str = Field(
        description="file name with {ds} (YYYY-MM-DD) or {ds_nodash} (YYYYMMDD), e.g. accounts_{ds_nodash}.csv"
    )
    format: Literal["csv", "jsonl"] = "csv"
    required_fields: list[str] = Field(default_factory=list)
    sensor_timeout_seconds: int = Field(defaults.DROP_SENSOR_TIMEOUT_SECONDS, ge=1)
    poke_interval_seconds: int = Field(defaults.DROP_POKE_INTERVAL_SECONDS, ge=1)

    @field_validator("file_pattern")
    @classmethod
    def _has_date(cls, value: str) -> str:
        if "{ds}" not in value and "{ds_nodash}" not in value:
            raise ValueError("must contain {ds} or {ds_nodash} so each logical date has its own file")
        return value


Source = Annotated[DatabaseSource | FileShareSource | DropSource, Field(discriminator="kind")]


class SampleConfig(StrictModel):
    """The embedded sample business (used by `make run` and the tests)."""

    seed: int = defaults.SAMPLE_SEED
    customers: int = Field(defaults.SAMPLE_CUSTOMERS, ge=50)
    history_days: int = Field(defaults.SAMPLE_HISTORY_DAYS, ge=1)
    events: int = Field(defaults.SAMPLE_EVENTS, ge=1_000, description="clickstream events over the whole history")


class AwsConfig(StrictModel):
    region: str = Field(defaults.AWS_REGION, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    conn_id: str = defaults.AWS_CONN_ID
    account_id: str = Field(pattern=r"^\d{12}$")
    kms_key_arn: Arn | None = None
    code_bucket: str | None = None
    subnet_ids: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)
    poll_seconds: int | None = Field(
        None, ge=1, le=3600,
        description="when set, the poll interval of every AWS wait (DMS, DataSync, EMR, Athena, SageMaker) instead "
                    "of each one's default in defaults.py; for a simulator (moto) or a short-lived dev environment")


class PipelineConfig(StrictModel):
    environment: str
    stack: Literal["local", "aws"]
    lake: LakeConfig
    dag: DagSettings = DagSettings()
    schedules: Schedules = Schedules()
    sources: list[Source] = Field(min_length=1)
    sample: SampleConfig = SampleConfig()
    aws: AwsConfig | None = None
    emr: EmrConfig | None = None
    features: FeaturesConfig = Field(default_factory=FeaturesConfig.sample)  # the sample business's when left out
    training: TrainingConfig = TrainingConfig()
    deployment: DeploymentConfig = DeploymentConfig()
    monitoring: MonitoringConfig = MonitoringConfig()

    @model_validator(mode="after")
    def _stack_consistency(self) -> PipelineConfig:
        problems: list[str] = []
        scheme = self.lake.root.split("://", 1)[0]
        wanted = {"local": "file", "aws": "s3"}[self.stack]
        if scheme != wanted:
            problems.append(f"lake.root: stack '{self.stack}' needs a {wanted}:// URI, got '{self.lake.root}'")
        names = [s.name for s in self.sources]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"sources: the name '{dup}' is used twice; each source needs its own name")
        for i, src in enumerate(self.sources):
            problems.extend(f"sources[{i}] ({src.name}).{msg}" for msg in _missing_for_stack(src, self.stack))
        destination = self.deployment.data_capture.destination
        if destination and destination.split("://", 1)[0] != wanted:
            problems.append(f"deployment.data_capture.destination: stack '{self.stack}' needs a {wanted}:// URI, got "
                            f"'{destination}'; leave it out to capture under <lake>/capture")
        if self.stack == "aws" and self.aws is None:
            problems.append("aws: required when stack is 'aws' (region, account_id, kms_key_arn, ...)")
        if self.stack == "aws" and self.emr is None:
            problems.append("emr: required when stack is 'aws' (mode, log_uri, cluster or serverless, athena); "
                            "ml_features runs its Spark steps on EMR")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def source(self, name: str) -> DatabaseSource | FileShareSource | DropSource:
        for src in self.sources:
            if src.name == name:
                return src
        raise KeyError(name)


def _missing_for_stack(src: DatabaseSource | FileShareSource | DropSource, stack: str) -> list[str]:
    """Fields a source needs on the chosen stack, as 'field: what to set' messages."""
    need: dict[str, str]
    if stack == "local":
        need = {
            "database": {"url": "the SQLAlchemy URL of the source database"},
            "file_share": {"path": "the directory of the file share"},
            "drop": {},
        }[src.kind]
    else:
        need = {
            "database": {
                "dms_task_arn": "the ARN of the DMS replication task",
                "dms_target_prefix": "the s3:// prefix of the DMS S3 target endpoint",
            },
            "file_share": {
                "datasync_task_arn": "the ARN of the DataSync task",
                "datasync_target_prefix": "the s3:// prefix of the DataSync destination location",
            },
            "drop": {},
        }[src.kind]
    missing = [f"{field}: required on the '{stack}' stack; set it to {what}" for field, what in need.items()
               if getattr(src, field) is None]
    if src.kind == "drop":
        landing_is_s3 = src.landing.startswith("s3://")
        if stack == "aws" and not landing_is_s3:
            missing.append(f"landing: the 'aws' stack needs an s3://bucket/prefix, got '{src.landing}'")
        if stack == "local" and landing_is_s3:
            missing.append(f"landing: the 'local' stack needs a directory, got '{src.landing}'")
    return missing
