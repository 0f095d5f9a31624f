"""Parse time of all DAG files over a bare `import airflow`, both measured in the same fresh process.

Target: under 0.5 s added for all DAGs together (MWAA's sample CI allows 0.5 s per file).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.rows import Row

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5
TARGET_SECONDS = 0.5

PROBE = r"""
import json, runpy, sys, time
t0 = time.perf_counter()
import airflow
t1 = time.perf_counter()
for f in sys.argv[1:]:
    runpy.run_path(f)
t2 = time.perf_counter()
print(json.dumps({"airflow": t1 - t0, "dags": t2 - t1}))
"""


def measure(env_name: str) -> tuple[float, float]:
    files = sorted(str(p) for p in (ROOT / "dags").glob("*.py"))
    env = {**os.environ, "PIPELINE_ENV": env_name, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    airflow_s, dags_s = [], []
    for _ in range(REPEATS):
        out = subprocess.run([sys.executable, "-c", PROBE, *files], env=env, capture_output=True, text=True,
                             check=True, cwd=ROOT).stdout
        m = json.loads(out.strip().splitlines()[-1])
        airflow_s.append(m["airflow"])
        dags_s.append(m["dags"])
    return statistics.median(airflow_s), statistics.median(dags_s)


def run() -> list[Row]:
    rows = []
    n = len(list((ROOT / "dags").glob("*.py")))
    for env_name in ("local", "aws-dev"):
        base, added = measure(env_name)
        rows.append(Row(
            name=f"DAG parse, {n} files, {env_name} config (s added)", value=round(added, 3), unit="s",
            reference=round(base, 3), reference_name="bare `import airflow`",
            target=f"< {TARGET_SECONDS} s added", met=added < TARGET_SECONDS,
        ))
    return rows
