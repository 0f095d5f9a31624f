"""What every DAG shares: default args (retries with exponential backoff, timeouts, owner), DAG keywords,
and the Assets that connect the DAGs into one graph in the Airflow UI. Imports only the light airflow.sdk."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset

from mlpipe.config import PipelineConfig
from mlpipe.lake import LakeLayout

RETRY_BACKOFF_MULTIPLIER = 2.0


def default_args(cfg: PipelineConfig) -> dict[str, Any]:
    d = cfg.dag
    return {
        "owner": d.owner,
        "retries": d.retries,
        "retry_delay": dt.timedelta(seconds=d.retry_delay_seconds),
        "retry_exponential_backoff": RETRY_BACKOFF_MULTIPLIER,
        "max_retry_delay": dt.timedelta(seconds=d.max_retry_delay_seconds),
        "execution_timeout": dt.timedelta(minutes=d.execution_timeout_minutes),
    }


def dag_kwargs(cfg: PipelineConfig, *, doc_md: str | None, tags: list[str]) -> dict[str, Any]:
    """Keyword arguments for ``DAG(...)`` shared by every pipeline DAG."""
    d = cfg.dag
    return {
        "start_date": dt.datetime.combine(d.start_date, dt.time(), tzinfo=dt.UTC),
        "catchup": False,
        "max_active_runs": d.max_active_runs,
        "dagrun_timeout": dt.timedelta(minutes=d.dagrun_timeout_minutes),
        "default_args": default_args(cfg),
        "doc_md": doc_md,
        "tags": ["mlpipe", f"stack:{cfg.stack}", f"env:{cfg.environment}", *tags],
        "params": {},
    }


def data_interval_schedule(cron: str) -> Any:
    """The ``schedule=`` of a time-scheduled DAG: each run processes the period that ended.

    A cron string passed as ``schedule=`` is a ``CronTriggerTimetable`` in Airflow 3 (``[scheduler]
    create_cron_data_intervals`` is off by default): its 02:00 run has the logical date (``ds``) of the day that
    just started. A ``CronDataIntervalTimetable`` runs at the end of each interval with the interval's start as
    its logical date: the run at 02:00 on D+1 has ``ds`` = D, the day the tasks process (they key on ``ds``, e.g.
    the DMS stop position ``ds + 1`` 00:00). With a midnight cron (``@daily``) the data interval is exactly day D;
    with ``0 2 * * *`` it is D 02:00 .. D+1 02:00. A manual run or ``airflow dags test DAG D`` keeps ``ds`` = D.
    Cron strings are read in UTC, like the DAGs' start dates. ``@once`` stays a one-off run.
    """
    if cron == "@once":
        return cron
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(cron, timezone="UTC")


def lake(cfg: PipelineConfig) -> LakeLayout:
    return LakeLayout.from_config(cfg)


def bronze_asset(cfg: PipelineConfig, source: str, table: str) -> Asset:
    return Asset(name=f"bronze.{source}.{table}", uri=lake(cfg).bronze(source, table), group="bronze")


def source_tables(cfg: PipelineConfig) -> list[tuple[str, str]]:
    """(source, table) for every table every source lands in bronze."""
    pairs: list[tuple[str, str]] = []
    for src in cfg.sources:
        if src.kind == "database":
            pairs.extend((src.name, t.name) for t in src.tables)
        else:
            pairs.append((src.name, src.table))
    return pairs


def bronze_assets(cfg: PipelineConfig) -> dict[tuple[str, str], Asset]:
    return {pair: bronze_asset(cfg, *pair) for pair in source_tables(cfg)}


def gold_asset(cfg: PipelineConfig, name: str) -> Asset:
    """The gold feature table ``name``; ml_features emits it only when the gold quality gate passes."""
    return Asset(name=f"gold.{name}", uri=lake(cfg).gold(name), group="gold")


def retrain_asset(cfg: PipelineConfig) -> Asset:
    """Retraining requested for the model package group (drift monitoring emits it); ml_training listens."""
    group = cfg.training.registry.model_package_group
    return Asset(name=f"retrain.{group}", uri=lake(cfg).retrain(group), group="retrain")


def model_asset(cfg: PipelineConfig) -> Asset:
    """A new version of the model package group (extra: version, status); ml_training emits, deployment listens."""
    group = cfg.training.registry.model_package_group
    return Asset(name=f"model.{group}", uri=lake(cfg).model_versions(group), group="model")
