"""The cross-checks of the ``features:`` section: what pydantic's field types cannot see.

* within one model: a silver table's key, ordering and event time among its columns; an aggregate's column;
* across the section (:func:`reference_problems`): gold's references to silver tables and columns, their
  types, the entity key every joined table needs, distinct output names, row filters that are filters;
* against the configured sources (:func:`source_problems`): each silver table's source exists, fits its kind
  (database tables and primary keys, file sources' keys) and does not take a lake layer's folder.

The models of :mod:`mlpipe.config.features` call these from their validators; each problem is located in the
section, so the loader prints ``features.<location>: <message> (got <value>)``. This module reads the models
by their ``kind`` and imports none of them (the schema imports it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from mlpipe.errors import ConfigError

if TYPE_CHECKING:
    from mlpipe.config.features import AggregateFeature, FeaturesConfig, GoldTable, SilverTable
    from mlpipe.config.model import PipelineConfig

NUMERIC = {"bigint", "int", "double"}
TEMPORAL = {"date", "timestamp"}
RESERVED_SOURCE_NAMES = {"silver", "gold", "quality", "quarantine", "manifests"}
GOLD_FIXED = ("as_of", "split")  # every gold row: <entity key>, as_of, split ('train' | 'score'), features, label
_FORBIDDEN_SQL = re.compile(r";|--|/\*|\b(select|from|join|insert|update|delete|drop|create|alter)\b", re.I)

Problem = tuple[tuple[str | int, ...], str, Any]  # (location in the section, message, offending value)


def raise_problems(problems: list[Problem]) -> None:
    """One located validation error per problem (the loader prints 'features.<loc>: <msg> (got <value>)')."""
    if problems:
        raise ValidationError.from_exception_data("features", [
            InitErrorDetails(type=PydanticCustomError("features", msg.replace("{", "{{").replace("}", "}}")),
                             loc=loc, input=got)
            for loc, msg, got in problems
        ])


def silver_table_problems(t: SilverTable) -> list[Problem]:
    """A silver table's key, order_by and event_time must be declared columns; event_time a date or timestamp."""
    problems: list[Problem] = []
    for what, names in (("key", t.key or []), ("order_by", t.order_by),
                        ("event_time", [t.event_time] if t.event_time else [])):
        missing = [n for n in names if n not in t.columns]
        if missing:
            problems.append(((what,), f"{missing} must be among the declared columns {list(t.columns)}",
                             getattr(t, what)))
    if t.event_time and t.columns.get(t.event_time, "date") not in TEMPORAL:
        problems.append((("event_time",), f"column '{t.event_time}' is {t.columns[t.event_time]}; it "
                         f"must be one of {sorted(TEMPORAL)}", t.event_time))
    return problems


def aggregate_problems(feat: AggregateFeature) -> list[Problem]:
    """Every aggregate but count needs a column."""
    if feat.agg != "count" and feat.column is None:
        return [(("column",), f"agg '{feat.agg}' needs a column to aggregate", None)]
    return []


def reference_problems(f: FeaturesConfig) -> list[Problem]:
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
    if lab.kind == "event":
        column_of(lab_loc, lab.table, lab.time, "time", TEMPORAL)
    else:
        column_of(lab_loc, lab.table, lab.column, "column", NUMERIC | {"boolean"})
        column_of(lab_loc, lab.table, lab.time, "time", TEMPORAL)
        if g.as_of.snapshots:
            problems.append((("gold", "as_of", "snapshots"), "a 'column' label has no history to snapshot; set it "
                             "to 0", g.as_of.snapshots))
    joined.append((lab_loc, lab.table))
    produced = [g.entity.key, *GOLD_FIXED, lab.name]
    for i, feat in enumerate(g.features):
        loc = ("gold", "features", i)
        if feat.kind in ("aggregate", "recency"):
            column_of(loc, feat.table, feat.time, "time", TEMPORAL)
        if feat.kind == "aggregate" and feat.column:
            column_of(loc, feat.table, feat.column, "column", NUMERIC if feat.agg in ("sum", "avg") else None)
        if feat.kind == "attribute":
            column_of(loc, feat.table, feat.column, "column")
            column_of(loc, feat.table, feat.time, "time", TEMPORAL)
        if feat.kind == "days_since":
            column_of(loc, feat.table, feat.column, "column", TEMPORAL)
            column_of(loc, feat.table, feat.time, "time", TEMPORAL)
        joined.append((loc, feat.table))
        for name in feat.output_names():
            if name in produced:
                problems.append(((*loc, "name"), f"the output column '{name}' is already produced (entity key, "
                                 "as_of, split, label and features need distinct names)", feat.name))
            produced.append(name)
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
    if g.label.kind == "event" and g.label.where:
        out.append((("gold", "label"), g.label.where))
    for i, feat in enumerate(g.features):
        where = getattr(feat, "where", None)
        if where:
            out.append((("gold", "features", i), where))
    return out


def source_problems(f: FeaturesConfig, sources: Iterable[Any]) -> list[Problem]:
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


def check_sources(cfg: PipelineConfig) -> None:
    """Raise ConfigError when the features section does not fit the configured sources."""
    errors = source_problems(cfg.features, cfg.sources)
    if errors:
        raise ConfigError("invalid features section for the configured sources:\n" + "\n".join(
            f"  features.{'.'.join(str(p) for p in loc)}: {msg} (got {got!r})" for loc, msg, got in errors))
