"""EMR parity: the Spark steps in EMR 7.9's versions give the local stack's results, row for row.

``.venvs/emr`` (runtimes/emr: Python 3.11, pyspark 3.5.5 as emr-7.9.0 ships Spark 3.5.5, plus exactly the packages
the bootstrap action and the EMR Serverless virtualenv install) runs the silver and gold steps the way an EMR step
does: its ``spark-submit`` of ``code/spark_jobs/main.py`` with ``--py-files code/spark_jobs.zip`` as
``make package`` builds them, the cluster's spark-defaults (with the venv's Python as spark.pyspark.python), no
PYTHONPATH into the checkout. The local stack (``spark-submit`` of pyspark 4.2.1 in .venv, the command and
environment of ``LocalSparkSubmitOperator``) runs the same steps over a copy of the same bronze. Both read the
spec the ``write_spec`` task writes. Two dates: one with DMS updates and deletes, one with the sample's row-level
defects (nulls, duplicate keys, malformed records, out-of-range values). Silver, gold, the quality verdicts
(result.json) and the quarantined records must be equal; nothing is compared with a tolerance.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlpipe import defaults
from mlpipe.config.model import LakeConfig
from mlpipe.errors import DataQualityError
from mlpipe.lake import LakeLayout, to_path
from mlpipe.sample import generate
from mlpipe.sample.targets import standalone_config
from mlpipe.services import storage_for
from mlpipe.stacks.aws.code import MAIN_KEY, PY_FILES_KEY
from mlpipe.stacks.aws.emr import PYSPARK_PYTHON_EMR, cluster_configurations, spark_conf_args
from mlpipe.stacks.local.spark import spark_env, spark_submit_command
from mlpipe.tasks.feature_spec import job_spec
from mlpipe.tasks.features import DAG_ID, quality_gate, step_outputs

from devtools import package

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "spark_jobs"))
from features_helpers import D1, SMALL, ingest  # noqa: E402  (the spark_jobs tests' sample lake helpers)

pytestmark = [pytest.mark.runtime, pytest.mark.slow]

CDC_DAY = D1 + dt.timedelta(days=1)        # DMS CDC with inserts, updates and deletes
DEFECT_DAY = D1 + dt.timedelta(days=2)     # the row-level defects too
DEFECTS = {DEFECT_DAY: {"nulls", "duplicate_keys", "malformed", "out_of_range"}}
RUN_DAYS = (CDC_DAY, DEFECT_DAY)
BOOTSTRAP = ROOT / "include" / "emr" / "bootstrap" / "install-python-packages.sh"
STEP_TIMEOUT_S = 600


# ---- the runtime itself ---------------------------------------------------------------------------------------


def _requirements(name: str) -> list[str]:
    text = (ROOT / "runtimes" / name / "requirements.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_emr_runtime_installs_exactly_what_the_nodes_get():
    """pyspark as the release ships it, then exactly emr.cluster.python_packages' default (the bootstrap's list,
    the Serverless virtualenv's)."""
    pyspark, *packages = _requirements("emr")
    assert pyspark == "pyspark==3.5.5"
    assert packages == list(defaults.EMR_PYTHON_PACKAGES)
    assert (ROOT / "runtimes" / "emr" / "requirements.txt").read_text().startswith("# python: 3.11\n")


def test_the_venv_is_python_3_11_with_spark_3_5(runtime_python):
    probe = ("import sys, pyspark, great_expectations as gx; "
             "print(sys.version_info[:2] == (3, 11), pyspark.__version__, gx.__version__)")
    done = subprocess.run([str(runtime_python("emr")), "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "3.5.5", "1.24.1"]


def test_the_bootstrap_action_installs_into_the_python_it_is_given(runtime_python, tmp_path):
    """The script as EMR runs it (root through sudo, here a pass-through: the venv is the user's own), with the
    request's arguments: its pip resolves the whole set on Python 3.11 (already present: nothing downloaded)."""
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    (shim / "sudo").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
    python = str(runtime_python("emr"))
    ok = subprocess.run(["bash", str(BOOTSTRAP), "--python", python, *defaults.EMR_PYTHON_PACKAGES], env=env,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(["bash", str(BOOTSTRAP), "--python", str(tmp_path / "python3.11"), "x==1"], env=env,
                             capture_output=True, text=True)
    assert missing.returncode == 1
    assert "not found on this node: use an EMR 7.x release from emr-7.1.0 on" in missing.stderr


# Bad values of every declared type through silver's classification, on one Spark or the other: a cast that does
# not fit must quarantine the record (wrong_type) alike, whatever the version's ANSI default.
CLASSIFY_PROBE = """
import json
from pyspark.sql import functions as F
from spark_jobs import session, silver
spark = session.build({"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "1"}, master="local[1]")
spark.sparkContext.setLogLevel("ERROR")
values = [("1", "12", "2026-11-01 10:00:00", "1.5", "true"), ("2", "12abc", "not a time", "x", "maybe"),
          ("3", "99999999999", "2026-13-01 00:00:00", "1e999", "1"), ("4", "1.5", "2026-11-01", "-0", "FALSE"),
          ("5", " 7 ", "2026-11-01T10:00:00Z", "NaN", "yes")]
names = ["id", "n", "ts", "d", "b"]
raw = spark.createDataFrame(values, ", ".join(f"{n} string" for n in names)).select(
    *names, F.lit(None).cast("string").alias("_corrupt"), F.to_json(F.struct(*names)).alias("_raw"),
    F.lit("2026-11-01").alias("_source_dt"), F.lit("f.jsonl").alias("_source_file"))
types = {"id": "string", "n": "int", "ts": "timestamp", "d": "double", "b": "boolean"}
table = {"name": "t", "kind": "events", "format": "jsonl", "key": ["id"],
         "columns": [{"name": n, "type": t} for n, t in types.items()]}
got = silver.classify(raw, table, "2026-11-01")
rows = [r.asDict() for r in got.df.select(*names, "_reason_code").orderBy("id").collect()]
print(json.dumps({"ansi": spark.conf.get("spark.sql.ansi.enabled"), "rows": rows, "counts": got.counts,
                  "reasons": got.reasons}, default=str))
"""


def test_bad_values_are_quarantined_alike_on_spark_3_5_and_4(runtime_python, tmp_path):
    def classify(python: Path) -> dict[str, Any]:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "include"), "PYSPARK_PYTHON": str(python),
               "PYSPARK_DRIVER_PYTHON": str(python), "SPARK_LOCAL_IP": "127.0.0.1"}
        env.pop("SPARK_HOME", None)
        done = subprocess.run([str(python), "-c", CLASSIFY_PROBE], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=STEP_TIMEOUT_S)
        assert done.returncode == 0, f"{python}:\n{done.stderr[-4000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(max_workers=2) as pool:
        emr, local = pool.map(classify, [runtime_python("emr"), Path(sys.executable)])
    assert emr == local
    assert emr["ansi"] == "true"
    codes = {r["id"]: r["_reason_code"] for r in emr["rows"]}
    assert codes["1"] is None and codes["2"] == codes["3"] == "wrong_type:n", emr


# ---- running the steps on both stacks -------------------------------------------------------------------------


def _write_spec(cfg: Any, day: dt.date) -> tuple[str, dict[str, Any]]:
    """What the write_spec task does: the job spec of the date, written where the steps read it."""
    spec = job_spec(cfg, day)
    uri = LakeLayout.from_config(cfg).spec(DAG_ID, day.isoformat())
    storage_for(cfg).write_json(uri, spec)
    return uri, json.loads(to_path(uri).read_text())


def _emr_step(python: Path, code: Path, step: str, uri: str, scratch: Path) -> subprocess.CompletedProcess[str]:
    """An EMR step on a 'cluster' of one machine: the release's spark-submit and Python, the bundle's code."""
    venv_python = str(python)
    site = next((python.parent.parent / "lib").glob("python3.11/site-packages"))
    spark_defaults = {k: (venv_python if v == PYSPARK_PYTHON_EMR else v)
                      for k, v in cluster_configurations(_aws_config())[0]["Properties"].items()}
    spark_defaults.update({"spark.ui.enabled": "false", "spark.sql.warehouse.dir": str(scratch / "warehouse"),
                           "spark.driver.extraJavaOptions": f"-Dderby.system.home={scratch}",
                           "spark.local.dir": str(scratch / "tmp")})
    cmd = [str(site / "pyspark" / "bin" / "spark-submit"), "--master", "local[2]", "--name", f"ml_features-{step}",
           "--driver-memory", "1g", "--py-files", str(code / PY_FILES_KEY), *spark_conf_args(spark_defaults),
           str(code / MAIN_KEY), "--step", step, "--spec", uri]
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(scratch)), "TMPDIR": str(scratch),
           "PYSPARK_PYTHON": venv_python, "PYSPARK_DRIVER_PYTHON": venv_python, "SPARK_LOCAL_IP": "127.0.0.1",
           "GX_ANALYTICS_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    return subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)


def _local_step(step: str, uri: str, spec: dict[str, Any], scratch: Path) -> subprocess.CompletedProcess[str]:
    """What LocalSparkSubmitOperator runs."""
    return subprocess.run(spark_submit_command(step, uri, spec, scratch), cwd=scratch, env=spark_env(),
                          capture_output=True, text=True, timeout=STEP_TIMEOUT_S)


def _aws_config() -> Any:
    from mlpipe.config import load_config

    return load_config("aws-dev")


def _gate(layer: str, cfg: Any, spec: dict[str, Any]) -> str:
    """The gate task (``gate_<layer>``) over the step's verdicts: 'passed', or its DataQualityError's text."""
    try:
        quality_gate(layer, {"ds": spec["ds"], "outputs": step_outputs(spec)}, cfg=cfg)
    except DataQualityError as exc:
        return str(exc)
    return "passed"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, runtime_python) -> dict[str, Any]:
    """Each date as ml_features runs it, on both stacks side by side: silver step, silver gate, and (when the
    gate passes, as in the DAG) gold step and gold gate."""
    python = runtime_python("emr")
    tmp = tmp_path_factory.mktemp("emr-parity")
    started = time.monotonic()
    cfg = standalone_config(tmp / "sample", **SMALL)
    generate(cfg, [D1, *RUN_DAYS], defects=DEFECTS)
    for day in (D1, *RUN_DAYS):
        ingest(cfg, day)
    local_lake = tmp / "local-lake"
    shutil.copytree(to_path(cfg.lake.root), local_lake)       # the same bronze (and ingestion quarantine)
    cfgs = {"emr": cfg, "local": cfg.model_copy(update={"lake": LakeConfig(root=local_lake.as_uri())})}
    code = package.build("aws-dev", dist=tmp / "dist") / "code"
    out: dict[str, Any] = {"emr": {}, "local": {}, "gates": {"emr": {}, "local": {}}, "specs": {},
                           "roots": {k: c.lake.root for k, c in cfgs.items()}, "seconds": {}}
    out["seconds"]["sample, bundle"] = round(time.monotonic() - started, 1)

    def step(stack: str, day: dt.date, name: str) -> subprocess.CompletedProcess[str]:
        scratch = tmp / f"scratch-{stack}-{day}-{name}"
        scratch.mkdir()
        uri, spec = out["specs"][day][stack]
        return (_emr_step(python, code, name, uri, scratch) if stack == "emr"
                else _local_step(name, uri, spec, scratch))

    with ThreadPoolExecutor(max_workers=2) as pool:   # the two stacks' spark-submits run side by side
        for day in RUN_DAYS:
            out["specs"][day] = {stack: _write_spec(c, day) for stack, c in cfgs.items()}
            for name in ("silver", "gold"):
                t0 = time.monotonic()
                done = dict(zip(cfgs, pool.map(lambda stack, n=name, d=day: step(stack, d, n), cfgs), strict=True))
                out["seconds"][f"{day} {name}"] = round(time.monotonic() - t0, 1)
                for stack, proc in done.items():
                    out[stack][(day, name)] = proc
                    out["gates"][stack][(day, name)] = _gate(name, cfgs[stack], out["specs"][day][stack][1])
                if any(out["gates"][stack][(day, name)] != "passed" for stack in cfgs):
                    break                                 # the gate failed: the DAG runs nothing after it
    print(f"\nEMR parity: seconds {out['seconds']}", file=sys.stderr)
    return out


def _normalise(value: Any, roots: dict[str, str]) -> Any:
    """The lake's location out of every string (the two lakes differ only in where they are)."""
    if isinstance(value, str):
        for root in roots.values():
            value = value.replace(root, "<lake>").replace(root.removeprefix("file://"), "<lake>")
        return value
    if isinstance(value, dict):
        return {k: _normalise(v, roots) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, roots) for v in value]
    return value


def _table(uri: str) -> pa.Table | None:
    """The Parquet files directly in a partition directory (a quarantined partition also holds result.json and
    rows/), or None when there is none."""
    files = sorted(to_path(uri).glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else None


def _rows(uri: str, roots: dict[str, str]) -> list[dict[str, Any]]:
    table = _table(uri)
    return [] if table is None else sorted((_normalise(r, roots) for r in table.to_pylist()), key=repr)


def _schema(uri: str) -> list[tuple[str, str]]:
    table = _table(uri)
    return [] if table is None else [(f.name, str(f.type)) for f in table.schema]


def test_both_stacks_run_every_step_and_gate_alike(runs):
    roots = runs["roots"]
    assert set(runs["emr"]) == set(runs["local"]) == {(CDC_DAY, "silver"), (CDC_DAY, "gold"), (DEFECT_DAY, "silver")}
    for key, emr in runs["emr"].items():
        local = runs["local"][key]
        assert emr.returncode == 0, f"{key} on EMR's versions:\n{emr.stderr[-6000:]}"
        assert local.returncode == 0, f"{key} on the local stack:\n{local.stderr[-6000:]}"
        emr_summary, local_summary = (json.loads(p.stdout.strip().splitlines()[-1]) for p in (emr, local))
        for summary in (emr_summary, local_summary):
            summary.pop("seconds")
        assert _normalise(emr_summary, roots) == _normalise(local_summary, roots), key
        assert _normalise(runs["gates"]["emr"][key], roots) == _normalise(runs["gates"]["local"][key], roots), key
    assert runs["gates"]["emr"][(CDC_DAY, "gold")] == "passed"
    # the planted defects fail the silver gate (out-of-range values, quarantined records), so gold never runs
    assert runs["gates"]["emr"][(DEFECT_DAY, "silver")].startswith(f"silver quality gate failed for dt={DEFECT_DAY}")


def test_the_dates_hold_cdc_updates_and_deletes_and_defects(runs):
    """So the comparison below covers what it claims: DMS changes of every kind, and quarantined records."""
    lake = to_path(runs["roots"]["emr"])
    ops = set()
    for f in lake.glob(f"bronze/oltp/*/dt={CDC_DAY}/*.parquet"):
        ops |= set(pq.read_table(f, columns=["Op"]).column("Op").to_pylist())
    assert {"I", "U", "D"} <= ops, ops
    quarantined = {}
    for entry in step_outputs(runs["specs"][DEFECT_DAY]["emr"][1])["silver"]:
        result = json.loads(to_path(entry["result"]).read_text())
        quarantined[entry["name"]] = result["reconciliation"]["rows_quarantined"]
    assert sum(quarantined.values()) > 0, quarantined


def test_silver_gold_verdicts_and_quarantine_are_equal_row_for_row(runs):
    roots = runs["roots"]
    compared = {"rows": 0, "quarantined": 0}
    for day, layer in runs["emr"]:
        specs = runs["specs"][day]
        emr_out, local_out = step_outputs(specs["emr"][1])[layer], step_outputs(specs["local"][1])[layer]
        for emr_entry, local_entry in zip(emr_out, local_out, strict=True):
            what = f"{layer}.{emr_entry['name']} dt={day}"
            emr_result = json.loads(to_path(emr_entry["result"]).read_text())
            local_result = json.loads(to_path(local_entry["result"]).read_text())
            assert _normalise(emr_result, roots) == _normalise(local_result, roots), what
            # the partition (committed, or set aside by a failed gate), same schema, same rows
            e_uri, l_uri = emr_result["partition_uri"], local_result["partition_uri"]
            assert _schema(e_uri) == _schema(l_uri), what
            emr_rows, local_rows = _rows(e_uri, roots), _rows(l_uri, roots)
            assert len(emr_rows) == emr_result["rows"], what
            assert emr_rows == local_rows, what
            compared["rows"] += len(emr_rows)
            if layer == "silver":  # the records set aside while building silver, with their reasons
                e_q, l_q = (f"{r}/quarantine/silver/{emr_entry['name']}/dt={day}/rows" for r in roots.values())
                emr_q = _rows(e_q, roots)
                assert emr_q == _rows(l_q, roots), f"{what}: quarantined records"
                assert len(emr_q) == emr_result["reconciliation"]["rows_quarantined"], what
                compared["quarantined"] += len(emr_q)
    assert compared["rows"] > 0 and compared["quarantined"] > 0, compared
