"""The whole chain (`make run`) on the default sample: wall time by stage, Airflow's own overhead apart.

Runs ``devtools.run_local`` (two logical dates: the full chain on the first, drift -> monitoring ->
retraining on the second) in a scratch MLPIPE_HOME and AIRFLOW_HOME, then reports from its summary:

* the whole chain's wall time against the 10-minute target (the reference is the target itself, so the
  ratio is the share of the budget used);
* per stage (generate, ingest, features, training, deployment, monitoring, traffic): its wall time, with the
  time inside tasks as the reference, so the ratio shows what `airflow dags test` adds;
* Airflow's own overhead over all DAG runs (process start, DAG parsing, run creation, scheduling between
  tasks: each run's wall time minus its tasks' time) against the tasks' time.

    python -m bench chain          # about 10 minutes on 2 cores
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path
from unittest import mock

from bench.rows import Row

TARGET_SECONDS = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run() -> list[Row]:
    from devtools import run_local

    home = Path(tempfile.mkdtemp(prefix="mlpipe-bench-chain-"))
    scratch_env = {"MLPIPE_HOME": str(home), "AIRFLOW_HOME": str(home / "airflow"),
                   "MLPIPE__DEPLOYMENT__LOCAL__PORT": str(_free_port())}
    with mock.patch.dict(os.environ, scratch_env):
        try:
            summary = json.loads(Path(run_local.main(["--start", "2026-11-01", "--end", "2026-11-02"])).read_text())
        except SystemExit:  # a failed stage: the summary is still written
            summary = json.loads((home / "data" / "reports" / "run-summary.json").read_text())
        finally:
            from mlpipe.config import load_config
            from mlpipe.local.blue_green import spec_from_config, stop_all

            spec = spec_from_config(load_config(environ=dict(os.environ)))
            stop_all(spec.run_dir, spec.name)
    t = summary["timings"]
    rows = [Row(name="whole chain (make run), 2 dates, default sample", value=summary["seconds"], unit="s",
                reference=TARGET_SECONDS, reference_name="the 10-minute budget",
                target=f"<= {TARGET_SECONDS} s", met=summary["seconds"] <= TARGET_SECONDS)]
    for stage, v in t.items():
        work = v.get("work_seconds")
        rows.append(Row(name=f"  {stage}" + (f" ({v['runs']} DAG runs)" if "runs" in v else ""),
                        value=v["seconds"], unit="s", reference=work or None,
                        reference_name="time inside tasks" if work else None, target="report", met=True))
    runs = [v for v in t.values() if "runs" in v]
    work = round(sum(v["work_seconds"] for v in runs), 1)
    overhead = round(sum(v["airflow_seconds"] for v in runs), 1)
    rows.append(Row(name="Airflow overhead over all DAG runs (s)", value=overhead, unit="s", reference=work,
                    reference_name="time inside tasks", target="report", met=True))
    return rows
