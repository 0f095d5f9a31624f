"""The Glue Data Catalog side of ml_features: run the tables' DDL, then add the run's partitions, with Athena.

Per dataset (each silver table and the gold table), after the gold gate passed::

    register_partitions.create_<layer>_<table>         the DDL include/sql/athena/<layer>_<table>.sql
                                                       (CREATE EXTERNAL TABLE IF NOT EXISTS ...)
    register_partitions.add_partition_<layer>_<table>  ALTER TABLE <the DDL's table> ADD IF NOT EXISTS
                                                       PARTITION (dt='<date>') LOCATION '<partition>'

The partition is the one the gate read in the dataset's result.json. The DDL is a Jinja template rendered
when the task runs, with ``params.lake_root`` and ``params.database``. Both statements are idempotent, so a
retry or a rerun of a date is harmless.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.sdk import TaskGroup

from mlpipe import defaults
from mlpipe.config import PipelineConfig
from mlpipe.errors import ConfigError
from mlpipe.lake import LakeLayout
from mlpipe.paths import CODE_ROOT
from mlpipe.stacks.aws.waits import poll_seconds
from mlpipe.tasks.features import SPEC_DS, xcom_template

DDL_DIR = CODE_ROOT / "include" / "sql" / "athena"
GROUP_ID = "register_partitions"
DS = SPEC_DS


_CREATE = re.compile(r"^\s*CREATE\s+EXTERNAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([`\w.{}\s]+?)\s*\(", re.I)


def ddl_file(layer: str, dataset: str, ddl_dir: Path = DDL_DIR) -> Path:
    """``include/sql/athena/<layer>_<table>.sql`` (or ``<layer>/<table>.sql``)."""
    candidates = [ddl_dir / f"{layer}_{dataset}.sql", ddl_dir / layer / f"{dataset}.sql"]
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(
        f"{candidates[0]} is missing: the aws stack registers {layer} table {dataset!r} in the Glue Data Catalog "
        "with that DDL (CREATE EXTERNAL TABLE IF NOT EXISTS <table> (...) PARTITIONED BY (dt string) STORED AS "
        "PARQUET LOCATION '{{ params.lake_root }}/" + f"{layer}/{dataset}/'" + ")"
    )


def read_ddl(layer: str, dataset: str, ddl_dir: Path = DDL_DIR) -> str:
    """The DDL statement (Athena runs one statement per query: a trailing ';' is dropped)."""
    return ddl_file(layer, dataset, ddl_dir).read_text().strip().rstrip(";").strip()


def glue_table(ddl: str, where: str = "DDL") -> str:
    """The table a ``CREATE EXTERNAL TABLE`` statement creates (as written: quoted, with its database if any)."""
    body = "\n".join(line for line in ddl.splitlines() if not line.strip().startswith("--"))
    match = _CREATE.search(body)
    if not match:
        raise ConfigError(f"{where}: must be one CREATE EXTERNAL TABLE [IF NOT EXISTS] <table> (...) statement")
    return match.group(1).strip()


def partition_location(layer: str, dataset: str) -> str:
    """Jinja: the partition URI the gate task read from the dataset's result.json."""
    return xcom_template(f"gate_{layer}", then=f"['partitions']['{dataset}']")


def add_partition_query(table: str, layer: str, dataset: str) -> str:
    """``table`` as the DDL names it; without a database, the query's database (``emr.athena.database``)."""
    return (f"ALTER TABLE {table} ADD IF NOT EXISTS "
            f"PARTITION (dt = '{DS}') LOCATION '{partition_location(layer, dataset)}'")


def register_partitions(cfg: PipelineConfig, datasets: dict[str, list[str]], **aws: Any) -> list[TaskGroup]:
    """A TaskGroup with, per dataset, its DDL then its new partition (one Athena query each)."""
    athena = cfg.emr.athena
    common: dict[str, Any] = {
        "database": athena.database,
        "workgroup": athena.workgroup,
        "output_location": athena.output_location,
        "sleep_time": poll_seconds(cfg, defaults.ATHENA_POLL_SECONDS),
        "max_polling_attempts": 60,
        "params": {"database": athena.database, "lake_root": LakeLayout.from_config(cfg).root},
        **aws,
    }
    if cfg.aws.kms_key_arn:  # query results encrypted with the configured key, like every other write
        common["result_configuration"] = {"EncryptionConfiguration": {"EncryptionOption": "SSE_KMS",
                                                                      "KmsKey": cfg.aws.kms_key_arn}}
    with TaskGroup(group_id=GROUP_ID, tooltip="the new partitions in the Glue Data Catalog (Athena DDL)") as group:
        for layer, names in datasets.items():
            for dataset in names:
                ddl = read_ddl(layer, dataset)
                table = glue_table(ddl, str(ddl_file(layer, dataset)))
                create = AthenaOperator(task_id=f"create_{layer}_{dataset}", query=ddl, **common)
                add = AthenaOperator(task_id=f"add_partition_{layer}_{dataset}",
                                     query=add_partition_query(table, layer, dataset), **common)
                create >> add
    return [group]
