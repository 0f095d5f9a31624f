"""The job spec of ``ml_features``: everything the Spark jobs (``include/spark_jobs``) need, in one JSON document.

``write_spec`` (:mod:`mlpipe.tasks.features`) writes it to ``LakeLayout.spec(...)``
(``<lake>/_specs/ml_features/dt=<ds>/spec.json``); every Spark step reads it and imports nothing of mlpipe::

    {"spec_version": 1, "job": "ml_features", "environment": ..., "stack": ..., "ds": ..., "lake_root": ...,
     "config_hash": ..., "spark": {...}, "silver": {"tables": [...]}, "gold": {...}}

Each dataset carries its columns, its expectation suite (read from the file under ``include/``) and its
``outputs`` (:meth:`mlpipe.lake.LakeLayout.dataset_outputs`). A ``features:`` section left at its default is
checked against the configured sources here (a configured one was checked when the configuration loaded).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from mlpipe.config import PipelineConfig, config_hash
from mlpipe.config.feature_checks import check_sources
from mlpipe.config.features import FeaturesConfig, GoldTable
from mlpipe.errors import ConfigError
from mlpipe.lake import LakeLayout
from mlpipe.paths import CODE_ROOT

SPEC_VERSION = 1
JOB = "ml_features"
INCLUDE_DIR = CODE_ROOT / "include"


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
        if feat.kind == "aggregate":
            kind = {"count": "bigint", "sum": "double", "avg": "double"}.get(feat.agg)
            kind = kind or cols[feat.table][feat.column or ""]
            out.extend({"name": n, "type": kind} for n in feat.output_names())
        elif feat.kind == "attribute":
            out.append({"name": feat.name, "type": cols[feat.table][feat.column]})
        else:
            out.append({"name": feat.name, "type": "int"})
    out.append({"name": g.label.name, "type": "int"})
    return out


def job_spec(cfg: PipelineConfig, ds: str | dt.date, include_dir: Path = INCLUDE_DIR) -> dict[str, Any]:
    """The JSON-ready job spec of ``ml_features`` for logical date ``ds`` (see the module docstring)."""
    day = _ds(ds)
    check_sources(cfg)
    f = cfg.features
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
            "outputs": lake.dataset_outputs("silver", t.name, day),
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
        "outputs": lake.dataset_outputs("gold", g.name, day),
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
