"""The ``features:`` section (silver tables, the gold feature table, Spark settings) and the job spec it renders.

The Spark jobs (``include/spark_jobs``) never import this package: :func:`job_spec` renders everything they
need into one JSON document, written by the orchestrator to ``<lake>/_specs/ml_features/dt=<ds>/spec.json``::

    {"spec_version": 1, "job": "ml_features", "ds": ..., "lake_root": ..., "spark": {...},
     "silver": {"tables": [...]}, "gold": {...}, "outputs": {...}}

Definitions are data, not code: a silver table names its source, columns and types, key and ordering; the
gold table names its entity, the as-of dates, the label and each feature (aggregate over a time window,
recency, latest attribute, days since). A different dataset is a different ``features:`` section.

Everything is validated when the configuration loads; references to ``sources`` are checked against the
enclosing configuration (and again by :func:`job_spec`, for a section left at its default).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, GetCoreSchemaHandler, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from mlpipe.config.model import Name, StrictModel
from mlpipe.errors import ConfigError
from mlpipe.paths import CODE_ROOT

SPEC_VERSION = 1
JOB = "ml_features"
INCLUDE_DIR = CODE_ROOT / "include"
COLUMN_TYPES = ("string", "bigint", "int", "double", "boolean", "date", "timestamp")
NUMERIC = {"bigint", "int", "double"}
TEMPORAL = {"date", "timestamp"}
RESERVED_SOURCE_NAMES = {"silver", "gold", "quality", "quarantine", "manifests"}
GOLD_FIXED = ("as_of", "split")  # every gold row: <entity key>, as_of, split ('train' | 'score'), features, label
Column = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="lower-case column name")]
ColumnType = Literal["string", "bigint", "int", "double", "boolean", "date", "timestamp"]
# A row filter in SQL that both Spark and DuckDB run: comparisons, IN, IS NULL, AND/OR/NOT, literals.
SqlFilter = Annotated[str, Field(min_length=1, max_length=500)]
_FORBIDDEN_SQL = re.compile(r";|--|/\*|\b(select|from|join|insert|update|delete|drop|create|alter)\b", re.I)


Problem = tuple[tuple[str | int, ...], str, Any]  # (location in the section, message, offending value)


def _raise(problems: list[Problem]) -> None:
    """One located validation error per problem (the loader prints 'features.<loc>: <msg> (got <value>)')."""
    if problems:
        raise ValidationError.from_exception_data("features", [
            InitErrorDetails(type=PydanticCustomError("features", msg.replace("{", "{{").replace("}", "}}")),
                             loc=loc, input=got)
            for loc, msg, got in problems
        ])


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
        problems: list[Problem] = []
        for what, names in (("key", self.key or []), ("order_by", self.order_by),
                            ("event_time", [self.event_time] if self.event_time else [])):
            missing = [n for n in names if n not in self.columns]
            if missing:
                problems.append(((what,), f"{missing} must be among the declared columns {list(self.columns)}",
                                 getattr(self, what)))
        if self.event_time and self.columns.get(self.event_time, "date") not in TEMPORAL:
            problems.append((("event_time",), f"column '{self.event_time}' is {self.columns[self.event_time]}; it "
                             f"must be one of {sorted(TEMPORAL)}", self.event_time))
        _raise(problems)
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

    @model_validator(mode="after")
    def _shape(self) -> AggregateFeature:
        problems: list[Problem] = []
        if self.agg != "count" and self.column is None:
            problems.append((("column",), f"agg '{self.agg}' needs a column to aggregate", None))
        if not self.windows or any(w is not None and not 1 <= w <= 3660 for w in self.windows):
            problems.append((("windows",), "each window must be 1..3660 days, or null for all history", self.windows))
        elif len(set(self.windows)) != len(self.windows):
            problems.append((("windows",), "a window is listed twice", self.windows))
        _raise(problems)
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
        _raise(_check_references(self))
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
                _raise(source_errors(value, sources))
            return value

        return core_schema.with_info_after_validator_function(against_sources, schema)


# ---------------------------------------------------------------- cross-checks


def _check_references(f: FeaturesConfig) -> list[Problem]:
    """Gold's references to silver tables and columns, output names and types."""
    problems: list[Problem] = []
    names = [t.name for t in f.silver]
    for i, t in enumerate(f.silver):
        if names.index(t.name) != i:
            problems.append((("silver", i, "name"), "the name is used by another silver table; each needs its own",
                             t.name))
    tables = {t.name: t for t in f.silver}
    g = f.gold

    def column_of(loc: tuple[str | int, ...], table: str, column: str | None, field: str,
                  allowed: Iterable[str] | None = None) -> str | None:
        """The type of table.column; a problem at loc + (field,) when either is unknown or of the wrong type."""
        if table not in tables:
            problems.append(((*loc, "table"), f"'{table}' is not a silver table; choose one of {names}", table))
            return None
        if column is None:
            return None
        cols = tables[table].columns
        if column not in cols:
            problems.append(((*loc, field), f"column '{column}' is not in silver table '{table}' (it has "
                             f"{list(cols)})", column))
            return None
        if allowed is not None and cols[column] not in allowed:
            problems.append(((*loc, field), f"column '{table}.{column}' is {cols[column]}; it must be one of "
                             f"{sorted(allowed)}", column))
        return cols[column]

    ent = ("gold", "entity")
    key_type = column_of(ent, g.entity.table, g.entity.key, "key")
    column_of(ent, g.entity.table, g.entity.time, "time", TEMPORAL)
    if g.entity.table in tables and tables[g.entity.table].key not in (None, [g.entity.key]):
        problems.append(((*ent, "key"), f"silver table '{g.entity.table}' has the key {tables[g.entity.table].key}; "
                         "the entity table needs one row per entity key", g.entity.key))
    joined: list[tuple[tuple[str | int, ...], str]] = []  # every table joined on the entity key
    if g.population:
        pop = ("gold", "population")
        column_of(pop, g.population.table, g.population.start, "start", TEMPORAL)
        column_of(pop, g.population.table, g.population.end, "end", TEMPORAL)
        joined.append((pop, g.population.table))
    lab, lab_loc = g.label, ("gold", "label")
    if isinstance(lab, EventLabel):
        column_of(lab_loc, lab.table, lab.time, "time", TEMPORAL)
    else:
        column_of(lab_loc, lab.table, lab.column, "column", NUMERIC | {"boolean"})
        column_of(lab_loc, lab.table, lab.time, "time", TEMPORAL)
        if g.as_of.snapshots:
            problems.append((("gold", "as_of", "snapshots"), "a 'column' label has no history to snapshot; set it "
                             "to 0", g.as_of.snapshots))
    joined.append((lab_loc, lab.table))
    outputs = [g.entity.key, *GOLD_FIXED, lab.name]
    for i, feat in enumerate(g.features):
        loc = ("gold", "features", i)
        if isinstance(feat, (AggregateFeature, RecencyFeature)):
            column_of(loc, feat.table, feat.time, "time", TEMPORAL)
        if isinstance(feat, AggregateFeature) and feat.column:
            column_of(loc, feat.table, feat.column, "column", NUMERIC if feat.agg in ("sum", "avg") else None)
        if isinstance(feat, AttributeFeature):
            column_of(loc, feat.table, feat.column, "column")
            column_of(loc, feat.table, feat.time, "time", TEMPORAL)
        if isinstance(feat, DaysSinceFeature):
            column_of(loc, feat.table, feat.column, "column", TEMPORAL)
            column_of(loc, feat.table, feat.time, "time", TEMPORAL)
        joined.append((loc, feat.table))
        for name in feat.output_names():
            if name in outputs:
                problems.append(((*loc, "name"), f"the output column '{name}' is already produced (entity key, "
                                 "as_of, split, label and features need distinct names)", feat.name))
            outputs.append(name)
    for loc, table in joined:
        if table in tables and g.entity.key not in tables[table].columns:
            problems.append(((*loc, "table"), f"silver table '{table}' has no column '{g.entity.key}' (the entity "
                             "key) to join on", table))
        elif table in tables and key_type and tables[table].columns[g.entity.key] != key_type:
            problems.append(((*loc, "table"), f"'{table}.{g.entity.key}' is {tables[table].columns[g.entity.key]} "
                             f"but the entity key is {key_type}", table))
    for loc, text in _filters(g):
        if _FORBIDDEN_SQL.search(text):
            problems.append(((*loc, "where"), "must be a row filter (comparisons, IN, IS NULL, AND/OR/NOT); no "
                             "statements, subqueries or comments", text))
    return problems


def _filters(g: GoldTable) -> list[tuple[tuple[str | int, ...], str]]:
    out: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(g.label, EventLabel) and g.label.where:
        out.append((("gold", "label"), g.label.where))
    for i, feat in enumerate(g.features):
        where = getattr(feat, "where", None)
        if where:
            out.append((("gold", "features", i), where))
    return out


def source_errors(f: FeaturesConfig, sources: Iterable[Any]) -> list[Problem]:
    """(location in the section, message, offending value) for each silver table that does not fit its source."""
    by_name = {s.name: s for s in sources}
    errors: list[Problem] = []
    for i, t in enumerate(f.silver):
        src = by_name.get(t.source)
        if src is None:
            errors.append((("silver", i, "source"), f"'{t.source}' is not a configured source; choose one of "
                           f"{sorted(by_name)}", t.source))
            continue
        if src.name in RESERVED_SOURCE_NAMES:
            errors.append((("silver", i, "source"), f"a source named '{src.name}' would share the lake folder "
                           f"of that layer; rename the source (reserved: {sorted(RESERVED_SOURCE_NAMES)})", src.name))
        if src.kind == "database":
            wanted = t.table or t.name
            spec = next((s for s in src.tables if s.name == wanted), None)
            if spec is None:
                errors.append((("silver", i, "table"), f"'{wanted}' is not a table of source '{src.name}'; choose "
                               f"one of {[s.name for s in src.tables]}", wanted))
                continue
            if t.order_by:
                errors.append((("silver", i, "order_by"), "database tables are applied in DMS commit order; "
                               "remove order_by", t.order_by))
            key = t.key or spec.primary_key
            missing = [c for c in key if c not in t.columns]
            if missing:
                errors.append((("silver", i, "columns"), f"the primary key {key} must be among the declared "
                               f"columns (missing {missing})", list(t.columns)))
            if t.name == f.gold.entity.table and key != [f.gold.entity.key]:
                errors.append((("gold", "entity", "key"), f"the entity table '{t.name}' must have one row per "
                               f"'{f.gold.entity.key}'; its primary key is {key}", f.gold.entity.key))
        else:
            if t.table is not None and t.table != src.table:
                errors.append((("silver", i, "table"), f"source '{src.name}' lands table '{src.table}'; remove "
                               "table or set it to that", t.table))
            if t.key is None:
                errors.append((("silver", i, "key"), f"file source '{src.name}' has no primary key: set key (the "
                               "record id, or the entity key with order_by)", None))
    return errors


def check_sources(cfg: Any) -> None:
    """Raise ConfigError when the features section does not fit the configured sources."""
    errors = source_errors(cfg.features, cfg.sources)
    if errors:
        raise ConfigError("invalid features section for the configured sources:\n" + "\n".join(
            f"  features.{'.'.join(str(p) for p in loc)}: {msg} (got {got!r})" for loc, msg, got in errors))


# ---------------------------------------------------------------- the job spec


def _ds(ds: str | dt.date) -> str:
    text = ds.isoformat() if isinstance(ds, dt.date) else str(ds)
    try:
        return dt.date.fromisoformat(text).isoformat() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else _bad_ds(text)
    except ValueError:
        return _bad_ds(text)


def _bad_ds(text: str) -> str:
    raise ConfigError(f"ds: {text!r} is not a logical date; expected YYYY-MM-DD (e.g. 2026-11-01)")


def load_suite(rel_path: str, dataset: str, include_dir: Path = INCLUDE_DIR) -> dict[str, Any]:
    """The suite file (YAML or JSON) under include/, checked for shape; ConfigError naming the file otherwise."""
    path = include_dir / rel_path
    if not path.is_file():
        raise ConfigError(f"{dataset}: expectation suite {path} does not exist; create it or set the table's "
                          f"'suite' to a file under {include_dir}")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
        raise ConfigError(f"{path}: must be a mapping with an 'expectations' list")
    for i, exp in enumerate(doc["expectations"]):
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str):
            raise ConfigError(f"{path}: expectations[{i}] needs a 'type' (got {exp!r})")
        severity = exp.get("severity")
        if severity not in ("fail", "warn"):
            raise ConfigError(f"{path}: expectations[{i}] ({exp['type']}).severity: must be 'fail' or 'warn' "
                              f"(got {severity!r})")
    return {"name": doc.get("name", dataset), "version": doc.get("version", 1), "path": rel_path,
            "expectations": doc["expectations"]}


def _gold_inputs(g: GoldTable) -> list[str]:
    return sorted({g.entity.table, g.label.table, *(feat.table for feat in g.features),
                   *([g.population.table] if g.population else [])})


def gold_columns(f: FeaturesConfig) -> list[dict[str, str]]:
    """The gold table's columns and types, in order: key, as_of, split, features, label."""
    g = f.gold
    cols = {t.name: t.columns for t in f.silver}
    out = [{"name": g.entity.key, "type": cols[g.entity.table][g.entity.key]},
           {"name": "as_of", "type": "date"}, {"name": "split", "type": "string"}]
    for feat in g.features:
        if isinstance(feat, AggregateFeature):
            kind = {"count": "bigint", "sum": "double", "avg": "double"}.get(feat.agg)
            kind = kind or cols[feat.table][feat.column or ""]
            out.extend({"name": n, "type": kind} for n in feat.output_names())
        elif isinstance(feat, AttributeFeature):
            out.append({"name": feat.name, "type": cols[feat.table][feat.column]})
        else:
            out.append({"name": feat.name, "type": "int"})
    out.append({"name": g.label.name, "type": "int"})
    return out


def outputs(lake_root: str, layer: str, table: str, ds: str) -> dict[str, str]:
    """The contract's paths of one dataset and date."""
    part = f"{layer}/{table}/dt={ds}"
    return {
        "partition": f"{lake_root}/{part}",
        "quarantine": f"{lake_root}/quarantine/{part}",
        "quarantine_rows": f"{lake_root}/quarantine/{part}/rows",
        "result": f"{lake_root}/quality/{part}/result.json",
        "report": f"{lake_root}/quality/{part}/report.html",
    }


def job_spec(cfg: Any, ds: str | dt.date, include_dir: Path = INCLUDE_DIR) -> dict[str, Any]:
    """The JSON-ready job spec of ``ml_features`` for logical date ``ds`` (see the module docstring)."""
    from mlpipe.config.loader import config_hash
    from mlpipe.lake import LakeLayout

    day = _ds(ds)
    check_sources(cfg)
    f: FeaturesConfig = cfg.features
    lake = LakeLayout.from_config(cfg)
    root = lake.root.rstrip("/")
    sources = {s.name: s for s in cfg.sources}
    tables = []
    for t in f.silver:
        src = sources[t.source]
        if src.kind == "database":
            bronze_table = t.table or t.name
            key = t.key or next(s.primary_key for s in src.tables if s.name == bronze_table)
            kind, fmt = "cdc", "dms"
        else:
            bronze_table, key = src.table, t.key or []
            kind, fmt = ("latest" if t.order_by else "events"), src.format
        tables.append({
            "name": t.name,
            "dataset": f"silver.{t.name}",
            "source": src.name,
            "source_table": bronze_table,
            "kind": kind,
            "format": fmt,
            "bronze_uri": lake.bronze(src.name, bronze_table),
            "ingest_quarantine_uri": lake.table("quarantine", src.name, bronze_table),
            "key": list(key),
            "order_by": list(t.order_by),
            "event_time": t.event_time,
            "columns": [{"name": c, "type": ty} for c, ty in t.columns.items()],
            "suite": load_suite(t.suite_path, f"silver.{t.name}", include_dir),
            "outputs": outputs(root, "silver", t.name, day),
        })
    g = f.gold
    inputs = _gold_inputs(g)
    # silver tables the gold job aggregates per entity are written clustered by the entity key (rows of one
    # entity in one file, sorted): its per-entity aggregations then see few entities per task
    for t in tables:
        if (t["name"] in inputs and any(c["name"] == g.entity.key for c in t["columns"])
                and t["key"] != [g.entity.key]):
            t["cluster_by"] = [g.entity.key]
    gold = {
        "name": g.name,
        "dataset": f"gold.{g.name}",
        "entity": g.entity.model_dump(),
        "population": g.population.model_dump() if g.population else None,
        "as_of": g.as_of.model_dump(),
        "label": g.label.model_dump(),
        "features": [feat.model_dump() for feat in g.features],
        "inputs": inputs,
        # inputs with one row per entity key: their attributes need no aggregation (a plain as-of join)
        "unique_by_entity": sorted(t["name"] for t in tables if t["key"] == [g.entity.key] and t["kind"] != "events"),
        "input_columns": {t.name: dict(t.columns) for t in f.silver if t.name in inputs},
        "columns": gold_columns(f),
        "suite": load_suite(g.suite_path, f"gold.{g.name}", include_dir),
        "outputs": outputs(root, "gold", g.name, day),
    }
    return {
        "spec_version": SPEC_VERSION,
        "job": JOB,
        "environment": cfg.environment,
        "stack": cfg.stack,
        "ds": day,
        "lake_root": root,
        "config_hash": config_hash(f),
        "spark": {
            "driver_memory": f.spark.driver_memory,
            "shuffle_partitions": f.spark.shuffle_partitions,
            "conf": f.spark.spark_conf(),
        },
        "silver": {"tables": tables},
        "gold": gold,
    }


# ---------------------------------------------------------------- the sample business (the default section)

SAMPLE_FEATURES: dict[str, Any] = {
    "silver": [
        {"name": "customers", "source": "oltp", "event_time": "updated_at",
         "columns": {"customer_id": "bigint", "email": "string", "name": "string", "country": "string",
                     "signup_ts": "timestamp", "marketing_opt_in": "boolean", "updated_at": "timestamp"}},
        {"name": "subscriptions", "source": "oltp", "event_time": "updated_at",
         "columns": {"subscription_id": "bigint", "customer_id": "bigint", "plan": "string",
                     "monthly_price": "double", "status": "string", "started_at": "timestamp",
                     "cancelled_at": "timestamp", "updated_at": "timestamp"}},
        {"name": "payments", "source": "oltp", "event_time": "updated_at",
         "columns": {"payment_id": "bigint", "customer_id": "bigint", "subscription_id": "bigint",
                     "amount": "double", "currency": "string", "status": "string", "paid_at": "timestamp",
                     "updated_at": "timestamp"}},
        {"name": "events", "source": "clickstream", "key": ["event_id"], "event_time": "event_ts",
         "columns": {"event_id": "string", "customer_id": "bigint", "session_id": "string", "event_type": "string",
                     "page": "string", "device": "string", "event_ts": "timestamp"}},
        {"name": "accounts", "source": "partner", "key": ["customer_id"], "order_by": ["updated_date"],
         "event_time": "updated_date",
         "columns": {"customer_id": "bigint", "company_size": "bigint", "industry": "string",
                     "credit_band": "string", "updated_date": "date"}},
    ],
    "gold": {
        "name": "customer_features",
        "entity": {"table": "customers", "key": "customer_id", "time": "signup_ts"},
        "population": {"table": "subscriptions", "start": "started_at", "end": "cancelled_at"},
        "as_of": {"every_days": 7, "snapshots": 8},
        "label": {"kind": "event", "name": "churned", "table": "subscriptions", "time": "cancelled_at",
                  "horizon_days": 30},
        "features": [
            {"kind": "days_since", "name": "tenure_days", "table": "customers", "column": "signup_ts"},
            {"kind": "attribute", "name": "plan", "table": "subscriptions", "column": "plan", "time": "started_at"},
            {"kind": "attribute", "name": "monthly_price", "table": "subscriptions", "column": "monthly_price",
             "time": "started_at"},
            {"kind": "attribute", "name": "country", "table": "customers", "column": "country", "time": "signup_ts"},
            {"kind": "aggregate", "name": "events", "table": "events", "time": "event_ts", "agg": "count",
             "windows": [7, 30, 90]},
            {"kind": "aggregate", "name": "support_events", "table": "events", "time": "event_ts", "agg": "count",
             "where": "event_type = 'support_contact'", "windows": [30]},
            {"kind": "aggregate", "name": "cancel_page_views", "table": "events", "time": "event_ts",
             "agg": "count", "where": "event_type = 'cancel_flow_view'", "windows": [30]},
            {"kind": "recency", "name": "days_since_last_event", "table": "events", "time": "event_ts"},
            {"kind": "recency", "name": "days_since_last_payment", "table": "payments", "time": "paid_at",
             "where": "status = 'succeeded'"},
            {"kind": "aggregate", "name": "payments", "table": "payments", "time": "paid_at", "agg": "count",
             "where": "status = 'succeeded'", "windows": [90]},
            {"kind": "aggregate", "name": "monetary", "table": "payments", "time": "paid_at", "agg": "sum",
             "column": "amount", "where": "status = 'succeeded'", "windows": [90]},
            {"kind": "aggregate", "name": "payment_failures", "table": "payments", "time": "paid_at",
             "agg": "count", "where": "status = 'failed'", "windows": [30, 90]},
            {"kind": "attribute", "name": "company_size", "table": "accounts", "column": "company_size",
             "time": "updated_date"},
            {"kind": "attribute", "name": "industry", "table": "accounts", "column": "industry",
             "time": "updated_date"},
            {"kind": "attribute", "name": "credit_band", "table": "accounts", "column": "credit_band",
             "time": "updated_date"},
        ],
    },
}


# ---------------------------------------------------------------- Athena / Glue DDL


def athena_ddl(f: FeaturesConfig) -> dict[str, str]:
    """``<layer>_<table>.sql`` -> CREATE EXTERNAL TABLE of each silver table and the gold table.

    Jinja templates with ``{{ params.lake_root }}``, run in the query's database (include/sql/athena/ holds
    the sample's; ``tests/unit/config/test_features_config.py`` checks they match this rendering).
    """
    tables = [("silver", t.name, [{"name": c, "type": ty} for c, ty in t.columns.items()]) for t in f.silver]
    tables.append(("gold", f.gold.name, gold_columns(f)))
    out = {}
    for layer, name, columns in tables:
        cols = ",\n".join(f"  `{c['name']}` {c['type']}" for c in columns)
        out[f"{layer}_{name}.sql"] = (
            f"CREATE EXTERNAL TABLE IF NOT EXISTS {layer}_{name} (\n{cols}\n)\n"
            f"COMMENT '{layer}.{name} of ml_features (columns from the features section of the pipeline config)'\n"
            "PARTITIONED BY (dt string)\n"
            "STORED AS PARQUET\n"
            f"LOCATION '{{{{ params.lake_root }}}}/{layer}/{name}/'\n"
            "TBLPROPERTIES ('parquet.compression' = 'SNAPPY')\n"
        )
    return out
