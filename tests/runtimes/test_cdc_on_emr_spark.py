"""DMS changes applied on EMR 7.9's Spark (3.5.5, Python 3.11, ``.venvs/emr``) as on local Spark 4: the bronze of
tests/unit/spark_jobs/test_cdc.py (35-digit ``_dms_change_seq``, empty in the full load, malformed ones, a full
load transferred after a cached change, replays, a counter reset) gives the same silver state, counts and
quarantine reasons there, with ANSI mode off (Spark 3.5's default) and on (Spark 4's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "spark_jobs"))
from test_cdc import EXPECTED, EXPECTED_REASONS, build_lake, spec_for  # noqa: E402

pytestmark = [pytest.mark.runtime, pytest.mark.slow]

SCRIPT = """
import json, sys
from pyspark.sql import SparkSession
from spark_jobs import steps

specs = json.loads(sys.argv[1])
spark = (SparkSession.builder.master("local[2]").config("spark.sql.shuffle.partitions", "2")
         .config("spark.ui.enabled", "false").getOrCreate())
out = {"version": spark.version}
for ansi in ("false", "true"):
    spark.conf.set("spark.sql.ansi.enabled", ansi)
    for ds, spec in specs.items():
        [doc] = steps.run_silver(spark, spec)
        state = {str(r["item_id"]): [r["name"], r["qty"]] for r in spark.read.parquet(doc["partition_uri"]).collect()}
        q = spec["lake_root"] + "/quarantine/silver/items/dt=" + ds + "/rows"
        try:
            reasons = sorted(r["_reason_code"] for r in spark.read.parquet(q).collect())
        except Exception:  # no quarantine partition: nothing was set aside
            reasons = []
        out[ansi + " " + ds] = {"state": state, "reconciliation": doc["reconciliation"], "reasons": reasons}
print("RESULT " + json.dumps(out))
"""


def test_dms_changes_apply_alike_on_emr_spark_with_ansi_off_and_on(runtime_python, tmp_path):
    python = runtime_python("emr")
    lake = build_lake(tmp_path / "lake")
    specs = {ds: spec_for(lake, ds) for ds in EXPECTED}
    env = {**os.environ, "PYSPARK_PYTHON": str(python), "PYTHONPATH": str(ROOT / "include"),
           "GX_ANALYTICS_ENABLED": "false"}
    env.pop("SPARK_HOME", None)
    run = subprocess.run([str(python), "-c", SCRIPT, json.dumps(specs)], env=env, capture_output=True, text=True,
                         timeout=900, check=False)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert run.returncode == 0 and lines, run.stderr[-4000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["version"].startswith("3.5.")
    for ansi in ("false", "true"):
        for ds, (state, reconciliation) in EXPECTED.items():
            got = out[f"{ansi} {ds}"]
            assert {int(k): tuple(v) for k, v in got["state"].items()} == state, (ansi, ds)
            assert got["reconciliation"] == reconciliation, (ansi, ds)
            assert got["reasons"] == EXPECTED_REASONS.get(ds, []), (ansi, ds)
