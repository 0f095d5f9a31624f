"""The Athena (Glue Data Catalog) DDL of the ``features:`` section's datasets, rendered from the config.

``include/sql/athena/<layer>_<table>.sql`` holds the sample's statements, which
``register_partitions`` (:mod:`mlpipe.stacks.aws.athena`) runs; ``tests/unit/stacks/test_athena_ddl.py``
checks they are this rendering of the sample section. A different ``features:`` section renders its own.
"""

from __future__ import annotations

from mlpipe.config.features import FeaturesConfig
from mlpipe.lake import LakeLayout
from mlpipe.tasks.feature_spec import gold_columns

# the templates' lake root: the task renders it with params.lake_root when it runs
TEMPLATE_LAKE = LakeLayout("{{ params.lake_root }}")


def athena_ddl(f: FeaturesConfig) -> dict[str, str]:
    """``<layer>_<table>.sql`` -> CREATE EXTERNAL TABLE of each silver table and the gold table.

    Jinja templates with ``{{ params.lake_root }}``, run in the query's database.
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
            f"LOCATION '{TEMPLATE_LAKE.dataset(layer, name)}/'\n"
            "TBLPROPERTIES ('parquet.compression' = 'SNAPPY')\n"
        )
    return out
