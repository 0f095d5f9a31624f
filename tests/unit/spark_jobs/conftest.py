"""One local SparkSession for every spark_jobs test, and the sample lake they share.

The sample lake is generated and ingested once: a clean first date, then the planted defects
(see features_helpers.DEFECT_DATES); the row-level ones share a date and are told apart by reason codes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from features_helpers import DATES, SMALL, SampleLake, defects_by_date, ingest
from mlpipe.sample import generate
from mlpipe.sample.targets import standalone_config

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.memory": "1g",
    "spark.sql.warehouse.dir": os.path.join(os.environ.get("TMPDIR", "/tmp"), "mlpipe-test-spark-warehouse"),
}


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from spark_jobs import session

    spark = session.build(CONF, master="local[2]", app_name="mlpipe-tests")
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


@pytest.fixture(scope="session")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> SampleLake:
    root = tmp_path_factory.mktemp("sample")
    cfg = standalone_config(root, **SMALL)
    generate(cfg, DATES, defects=defects_by_date())
    for day in DATES:
        ingest(cfg, day)
    return SampleLake(cfg, root)


@pytest.fixture(scope="session")
def clean_d1(spark: object, sample_lake: SampleLake) -> dict:
    """Silver and gold of the clean first date, built once (spec, silver results, gold result)."""
    from features_helpers import D1
    from spark_jobs import steps

    spec = sample_lake.spec(D1)
    silver = steps.run_silver(spark, spec)
    [gold] = steps.run_gold(spark, spec)
    return {"spec": spec, "silver": {d["dataset"]: d for d in silver}, "gold": gold}
