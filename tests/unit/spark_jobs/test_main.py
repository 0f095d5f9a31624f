"""main.py, the spark-submit entry point: exit 0 when the step ran (whatever the verdict), 1 when the job
failed (message on stderr), 2 for a bad command line; and one real spark-submit run of both steps."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from features_helpers import DEFECT_DATES, SampleLake, path, read_json
from mlpipe.config import load_config
from mlpipe.lake import LakeLayout
from mlpipe.local.landing import land_drop
from mlpipe.tasks.feature_spec import job_spec
from spark_jobs import main

ROOT = Path(__file__).resolve().parents[3]
MAIN = ROOT / "include" / "spark_jobs" / "main.py"


def write_spec(spec: dict, where: Path) -> str:
    """The spec as the orchestrator writes it; without Spark settings, so the shared session keeps its own."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "spec.json").write_text(json.dumps({**spec, "spark": {"conf": {}}}))
    return (where / "spec.json").as_uri()


def test_exit_0_and_a_summary_when_the_gate_fails(spark, sample_lake: SampleLake, tmp_path: Path, capsys):
    spec = sample_lake.spec(DEFECT_DATES["missing_drop"])
    uri = write_spec(spec, tmp_path)
    assert main.run(["--step", "silver", "--spec", uri, "--tables", "accounts"]) == 0
    summary = json.loads(next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith('{"step"')))
    assert summary["step"] == "silver" and summary["ds"] == spec["ds"] and summary["success"] is False
    [dataset] = summary["datasets"]
    assert dataset["dataset"] == "silver.accounts" and dataset["success"] is False
    assert read_json(spec["silver"]["tables"][4]["outputs"]["result"])["success"] is False


def test_exit_1_with_the_reason_when_the_job_fails(spark, sample_lake: SampleLake, tmp_path: Path, capsys):
    spec = sample_lake.spec(DEFECT_DATES["missing_drop"])  # its silver customers partition was never built
    assert main.run(["--step", "gold", "--spec", write_spec(spec, tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "ml_features --step gold failed: MissingInput: gold.customer_features needs silver." in err
    assert "is not committed" in err
    assert main.run(["--step", "silver", "--spec", (tmp_path / "nope.json").as_uri()]) == 1
    assert "ml_features --step silver failed" in capsys.readouterr().err


def test_a_bad_command_line_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main.run(["--step", "bronze", "--spec", "x"])
    assert info.value.code == 2 and "invalid choice: 'bronze'" in capsys.readouterr().err


@pytest.mark.slow
def test_spark_submit_runs_both_steps(tmp_path: Path):
    """The command the local stack runs: spark-submit --master local[*] main.py --step ... --spec <uri>."""
    landing = tmp_path / "landing"
    landing.mkdir()
    cfg = load_config("local-csv", environ={"MLPIPE__LAKE__ROOT": f"file://{tmp_path}/lake",
                                            "MLPIPE__SOURCES__0__LANDING": str(landing)})
    day = dt.date(2026, 11, 1)
    rng = np.random.default_rng(1)
    with open(landing / f"customers_{day}.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "signup_date", "region", "plan", "monthly_charges", "support_tickets",
                    "last_active_date", "churned", "updated_date"])
        for i in range(1, 201):
            w.writerow([i, day - dt.timedelta(days=int(rng.integers(10, 500))), "north", "basic", "9.99",
                        int(rng.integers(0, 4)), day, int(rng.random() < 0.3) if i % 3 else "", day])
    land_drop(cfg.source("crm"), day, LakeLayout.from_config(cfg))
    spec = job_spec(cfg, day)
    uri = f"{spec['lake_root']}/_specs/ml_features/dt={day}/spec.json"
    path(uri).parent.mkdir(parents=True)
    path(uri).write_text(json.dumps(spec))
    submit = Path(sys.executable).parent.parent / "lib" / "python3.12" / "site-packages" / "pyspark" / "bin" / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1"}
    conf = [a for k, v in spec["spark"]["conf"].items() for a in ("--conf", f"{k}={v}")]
    for step in ("silver", "gold"):
        proc = subprocess.run([str(submit), "--master", "local[*]", "--driver-memory", spec["spark"]["driver_memory"],
                               *conf, "--conf", f"spark.sql.warehouse.dir={tmp_path}/wh",
                               "--conf", f"spark.driver.extraJavaOptions=-Dderby.system.home={tmp_path}",
                               str(MAIN), "--step", step, "--spec", uri],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        summary = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith('{"step"')))
        assert summary["step"] == step and summary["success"] is True, summary
    gold = read_json(spec["gold"]["outputs"]["result"])
    assert gold["success"] and gold["rows"] == 200
