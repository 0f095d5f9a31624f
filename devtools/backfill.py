"""`make backfill`: reprocess history with `airflow backfill create`, executed by a real local scheduler.

Airflow 3 runs tasks through its Execution API, so this starts an API server and a scheduler (LocalExecutor)
on the project's AIRFLOW_HOME, creates the backfill, waits for every backfill run to finish, then stops
them. The scheduler's own cron scheduling is switched off meanwhile, so only the backfill's runs execute.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from devtools.airflow_local import (
    airflow_env,
    migrate,
    run_airflow,
    services_env,
    start_component,
    stop_component,
    wait_api_healthy,
)

FINISHED = {"success", "failed"}


def backfill_env(home: Path | None = None) -> dict[str, str]:
    return services_env(home, extra={"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"})


def backfill_runs(dag_id: str, env: dict[str, str]) -> list[dict[str, str]]:
    out = run_airflow(["dags", "list-runs", dag_id, "-o", "json"], env, quiet=True).stdout
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith("[")), "[]")
    return [r for r in json.loads(line) if r["run_id"].startswith("backfill__")]


def backfill(dag_id: str, start: str, end: str, home: Path | None = None, timeout: float = 1800) -> list[dict]:
    """Create and execute a backfill; returns the backfill runs (dicts with run_id, logical_date, state)."""
    env = backfill_env(home)
    migrate(env)
    logs = Path(env["AIRFLOW_HOME"]) / "backfill-logs"
    run_airflow(["dags", "reserialize"], env, quiet=True)
    run_airflow(["dags", "unpause", dag_id], env, quiet=True)
    port = int(env["AIRFLOW__API__PORT"])
    api = start_component(["api-server", "--port", str(port), "--host", "127.0.0.1"], env, logs / "api-server.log")
    scheduler = None
    try:
        wait_api_healthy(port, api, logs / "api-server.log")
        run_airflow(["backfill", "create", "--dag-id", dag_id, "--from-date", start, "--to-date", end,
                     "--max-active-runs", "1", "--reprocess-behavior", "completed"], env, quiet=True)
        scheduler = start_component(["scheduler"], env, logs / "scheduler.log")
        deadline = time.monotonic() + timeout
        while True:
            runs = [r for r in backfill_runs(dag_id, env) if start <= r["logical_date"][:10] <= end]
            if runs and all(r["state"] in FINISHED for r in runs):
                return sorted(runs, key=lambda r: r["logical_date"])
            if time.monotonic() > deadline:
                raise RuntimeError(f"backfill of {dag_id} not finished after {timeout:.0f} s: {runs}")
            if scheduler.poll() is not None:
                raise RuntimeError(f"the scheduler exited (code {scheduler.returncode}); see {logs}")
            time.sleep(3)
    finally:
        for proc in (scheduler, api):
            if proc is not None:
                stop_component(proc)
        run_airflow(["dags", "pause", dag_id], env, quiet=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dag", required=True)
    parser.add_argument("--start", required=True, help="first logical date, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last logical date, YYYY-MM-DD")
    args = parser.parse_args()
    runs = backfill(args.dag, args.start, args.end)
    for run in runs:
        print(f"{run['logical_date'][:10]}  {run['state']:<8} {run['run_id']}")
    failed = [r for r in runs if r["state"] != "success"]
    if failed:
        raise SystemExit(f"{len(failed)} of {len(runs)} backfill runs failed; task logs are under "
                         f"{airflow_env()['AIRFLOW_HOME']}/logs/dag_id={args.dag}/")


if __name__ == "__main__":
    main()
