"""The ``features:`` section: silver tables, the gold feature table and the Spark settings (the schema).

Definitions are data, not code: a silver table names its source, columns and types, key and ordering; the
gold table names its entity, the as-of dates, the label and each feature (aggregate over a time window,
recency, latest attribute, days since). A different dataset is a different ``features:`` section; left out,
it is the sample business's (:mod:`mlpipe.config.feature_sample`).

Everything is validated when the configuration loads: the field types here, the cross-checks (references
between tables and columns, the fit to the configured ``sources``) in :mod:`mlpipe.config.feature_checks`,
called from these models' validators. The Spark jobs never import this package: the job spec
(:func:`mlpipe.tasks.feature_spec.job_spec`) renders what they need into one JSON document.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, GetCoreSchemaHandler, ValidationInfo, field_validator, model_validator
from pydantic_core import core_schema

from mlpipe.config.base import Name, StrictModel
from mlpipe.config.feature_checks import (
    aggregate_problems,
    raise_problems,
    reference_problems,
    silver_table_problems,
    source_problems,
)
from mlpipe.config.feature_sample import SAMPLE_FEATURES

Column = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="lower-case column name")]
ColumnType = Literal["string", "bigint", "int", "double", "boolean", "date", "timestamp"]
# A row filter in SQL that both Spark and DuckDB run: comparisons, IN, IS NULL, AND/OR/NOT, literals.
SqlFilter = Annotated[str, Field(min_length=1, max_length=500)]
MAX_WINDOW_DAYS = 3660


def _spark_size(value: str) -> str:
    if not re.fullmatch(r"\d+[kmgt]", value):
        raise ValueError("must be a Spark memory size like 512m or 2g")
    return value


class SparkSettings(StrictModel):
    """Spark settings of the local run (``spark-submit --conf``); on EMR the cluster's own settings apply too."""

    driver_memory: str = Field("2g", description="spark-submit --driver-memory (local stack)")
    shuffle_partitions: int = Field(4, ge=1, le=100_000, description="spark.sql.shuffle.partitions")
    adaptive: bool = Field(True, description="adaptive query execution (coalesces small partitions, skew joins)")
    broadcast_threshold_mb: int = Field(64, ge=-1, le=8192, description="-1 disables broadcast joins")
    ui: bool = Field(False, description="the Spark UI (off locally)")
    conf: dict[str, str] = Field(default_factory=dict, description="more spark.* settings, passed through")

    @field_validator("driver_memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        return _spark_size(value)

    @field_validator("conf")
    @classmethod
    def _spark_keys(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in value if not k.startswith("spark."))
        if bad:
            raise ValueError(f"keys must be Spark settings starting with 'spark.' (got {bad})")
        return value

    def spark_conf(self) -> dict[str, str]:
        """Every setting as spark.* key/values (the job applies the runtime ones; spark-submit all of them)."""
        return {
            "spark.driver.memory": self.driver_memory,
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.sql.adaptive.enabled": str(self.adaptive).lower(),
            "spark.sql.adaptive.coalescePartitions.enabled": str(self.adaptive).lower(),
            "spark.sql.autoBroadcastJoinThreshold": "-1" if self.broadcast_threshold_mb < 0
            else f"{self.broadcast_threshold_mb}m",
            "spark.ui.enabled": str(self.ui).lower(),
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
            # the gold job's partial aggregations (entity x window segment) hold ~10^5-10^6 keys per task:
            # a fast hash map of 2^20 slots keeps them out of the slower fallback map (-20% CPU at 10M events)
            "spark.sql.codegen.aggregate.fastHashMap.capacityBit": "20",
            # a step compiles more than the default 100 generated classes (gold + its gate, five silver tables
            # and their gates): a larger cache keeps them from evicting each other and being compiled again
            "spark.sql.codegen.cache.maxEntries": "1000",
            **self.conf,
        }


class SilverTable(StrictModel):
    """One silver table: a source's bronze data, typed, deduplicated and current as of the logical date.

    * a ``database`` source (DMS layout): full load + CDC applied by ``key`` in commit order -> current rows;
    * a file source with ``order_by``: the latest record per ``key`` (e.g. a partner's daily snapshot);
    * a file source without ``order_by``: events, one row per ``key`` (the event id), ``event_time`` < ds + 1.
    """

    name: Name = Field(description="the silver table: <lake>/silver/<name>/dt=<ds>/")
    source: Name = Field(description="the configured source it comes from")
    table: Name | None = Field(None, description="database sources: the source table (default: name)")
    columns: dict[Column, ColumnType] = Field(min_length=1, description="column -> type, in output order")
    key: list[Column] | None = Field(None, min_length=1,
                                     description="unique key (default: the database table's primary_key)")
    order_by: list[Column] = Field(default_factory=list, description="file sources: keep the latest per key")
    event_time: Column | None = Field(None, description="when a row happened (as-of cut, freshness)")
    suite: str | None = Field(None, description="expectation suite under include/ (default quality/silver/<name>.yaml)")

    @model_validator(mode="after")
    def _columns_known(self) -> SilverTable:
        raise_problems(silver_table_problems(self))
        return self

    @property
    def suite_path(self) -> str:
        return self.suite or f"quality/silver/{self.name}.yaml"


class Entity(StrictModel):
    """Who the features describe: one row per key of a silver table, from the time it exists."""

    table: Name
    key: Column
    time: Column | None = Field(None, description="when the entity starts to exist (e.g. signup_ts)")


class Population(StrictModel):
    """Optional: entities count at an as-of date only while a row of ``table`` is open (start <= as_of < end)."""

    table: Name
    start: Column
    end: Column | None = None


class AsOf(StrictModel):
    """Training snapshots: ``snapshots`` as-of dates every ``every_days``, the newest one horizon days before ds."""

    every_days: int = Field(7, ge=1, le=366)
    snapshots: int = Field(8, ge=0, le=520)


class EventLabel(StrictModel):
    """Label = 1 when ``table`` has a row for the entity with ``time`` in (as_of, as_of + horizon_days]."""

    kind: Literal["event"]
    name: Column
    table: Name
    time: Column
    horizon_days: int = Field(ge=1, le=3660)
    where: SqlFilter | None = None


class ColumnLabel(StrictModel):
    """Label = the latest value of ``column`` (the data carries its own label; no snapshots)."""

    kind: Literal["column"]
    name: Column
    table: Name
    column: Column
    time: Column | None = Field(None, description="the row's time (visibility and ordering); default: none")


Label = Annotated[EventLabel | ColumnLabel, Field(discriminator="kind")]


class AggregateFeature(StrictModel):
    """``agg`` of ``column`` (rows matching ``where``) over each window ending at as_of: <name>_<w>d columns."""

    kind: Literal["aggregate"]
    name: Column
    table: Name
    time: Column
    agg: Literal["count", "sum", "avg", "min", "max"]
    column: Column | None = None
    where: SqlFilter | None = None
    windows: list[int | None] = Field(default_factory=lambda: [None],
                                      description="days; null = all history up to as_of")

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: list[int | None]) -> list[int | None]:
        if not value or any(w is not None and not 1 <= w <= MAX_WINDOW_DAYS for w in value):
            raise ValueError(f"each window must be 1..{MAX_WINDOW_DAYS} days, or null for all history")
        if len(set(value)) != len(value):
            raise ValueError("a window is listed twice")
        return value

    @model_validator(mode="after")
    def _column_for_agg(self) -> AggregateFeature:
        raise_problems(aggregate_problems(self))
        return self

    def output_names(self) -> list[str]:
        return [self.name if w is None else f"{self.name}_{w}d" for w in self.windows]


class RecencyFeature(StrictModel):
    """Days from the last row (matching ``where``) up to as_of; null when there is none."""

    kind: Literal["recency"]
    name: Column
    table: Name
    time: Column
    where: SqlFilter | None = None

    def output_names(self) -> list[str]:
        return [self.name]


class AttributeFeature(StrictModel):
    """The latest value of ``column`` among the entity's rows with ``time`` <= as_of."""

    kind: Literal["attribute"]
    name: Column
    table: Name
    column: Column
    time: Column | None = Field(None, description="visibility/ordering column; none: the row is timeless")

    def output_names(self) -> list[str]:
        return [self.name]


class DaysSinceFeature(StrictModel):
    """Days from the latest visible value of a date/timestamp ``column`` up to as_of (e.g. tenure)."""

    kind: Literal["days_since"]
    name: Column
    table: Name
    column: Column
    time: Column | None = Field(None, description="visibility/ordering column; default: column itself")

    def output_names(self) -> list[str]:
        return [self.name]


Feature = Annotated[AggregateFeature | RecencyFeature | AttributeFeature | DaysSinceFeature,
                    Field(discriminator="kind")]


class GoldTable(StrictModel):
    name: Name = Field(description="the gold table: <lake>/gold/<name>/dt=<ds>/")
    entity: Entity
    population: Population | None = None
    as_of: AsOf = AsOf()
    label: Label
    features: list[Feature] = Field(min_length=1)
    suite: str | None = Field(None, description="expectation suite under include/ (default quality/gold/<name>.yaml)")

    @property
    def suite_path(self) -> str:
        return self.suite or f"quality/gold/{self.name}.yaml"


class FeaturesConfig(StrictModel):
    """The ``features:`` section. Left out, it is the sample business's (see :func:`FeaturesConfig.sample`)."""

    spark: SparkSettings = SparkSettings()
    silver: list[SilverTable] = Field(min_length=1)
    gold: GoldTable

    @model_validator(mode="after")
    def _references(self) -> FeaturesConfig:
        raise_problems(reference_problems(self))
        return self

    @classmethod
    def sample(cls) -> FeaturesConfig:
        """The sample business's features (the section include/config/local.yaml spells out)."""
        return cls.model_validate(SAMPLE_FEATURES)

    def table(self, name: str) -> SilverTable:
        for t in self.silver:
            if t.name == name:
                return t
        raise KeyError(name)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Inside a PipelineConfig, also check the section against the sources validated before it."""
        schema = handler(source)

        def against_sources(value: FeaturesConfig, info: ValidationInfo) -> FeaturesConfig:
            sources = (info.data or {}).get("sources") if info is not None else None
            names = [s.name for s in sources or []]
            # duplicated source names are reported by PipelineConfig itself (which a failure here would hide)
            if sources and len(set(names)) == len(names):
                raise_problems(source_problems(value, sources))
            return value

        return core_schema.with_info_after_validator_function(against_sources, schema)
