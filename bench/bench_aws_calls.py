"""AWS API calls per DAG run on the aws stack, and worker slots kept free by the deferrable waits (moto server).

Each DAG runs once through ``dag.test()`` (what ``airflow dags test`` calls) on PIPELINE_ENV=aws-dev against an
in-process moto server, with the harness of the tests (tests/aws/moto_harness.py: resources seeded from
aws-dev.yaml, the jobs moto leaves open finished after 0.5 s, every poll interval 1 s). The server records every
request, so the counts include polling, lookups and S3 traffic, from the worker and from triggers alike.

Rows and their references (all measured in the same run, in a fresh process with its own AIRFLOW_HOME):

- ``aws_calls: <dag> calls/run``: the calls of one run, polling included. Reference: the floor, the distinct
  requests of the run (a task repeating an identical request is polling), i.e. what the run sends if every
  wait ends on its first check; value / floor is what polling adds. Target: at most 2x the floor. Jobs on moto
  end within a poll or two (DataSync needs five describes by moto's design), so more would mean a wait that
  polls too fast or a task repeating requests. Real jobs run minutes to hours; there the poll intervals (60 s
  SageMaker/EMR, 30 s cluster start-up, 120 s DMS, 60 s DataSync) set the count, not this ratio.
- ``aws_calls: tuning wait, worker-held seconds``: ml_training with the tuning job InProgress for
  ``WAIT_SECONDS``: the seconds ``tune.tuning_job`` held a worker slot *while the job was running* (its worker
  intervals intersected with the job's created..ended interval), deferrable (as the DAG ships) vs the same DAG
  with the operator switched to ``deferrable=False`` (the reference, which polls in the worker). Target: at most
  25% of the non-deferrable variant: the deferrable task only creates the job, checks it once and defers; the
  trigger waits. (Task start-up and the result collection happen outside that interval in both variants.)
- ``aws_calls: tuning wait, polls by the worker``: DescribeHyperParameterTuningJob calls sent by the
  worker during that run vs by the non-deferrable variant's worker. Target: at most 3 (the reattach check, the
  status check right after the create, the result in execute_complete); every other poll is the trigger's.

About three to four minutes on a shared 2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.rows import Row

ROOT = Path(__file__).resolve().parents[1]
DAGS = ("ml_ingest", "ml_features", "ml_training", "ml_deployment")
WAIT_SECONDS = 8.0
CALLS_TARGET = 2.0
WORKER_SHARE_TARGET = 0.25
WORKER_POLLS_TARGET = 3


def _floor(calls: list[dict]) -> int:
    """Distinct requests: a repeat of an identical request by the same task is a poll."""
    return len({(c["task"], c["service"], c["operation"], c["request"]) for c in calls})


def _overlap(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in intervals)


def measure() -> dict:
    """In this (fresh) process: every DAG once, then the tuning wait deferrable and not; JSON-ready figures."""
    from tests.aws import moto_harness as h

    h.migrate_airflow_db()
    server = h.RecordingMotoServer().start()
    out: dict = {"dags": {}, "tuning": {}}
    try:
        def fresh() -> None:
            from mlpipe.config import load_config

            server.reset()
            os.environ.update(h.base_env(server))
            os.environ.update(h.seed(server, load_config()))
            server.calls.clear()

        for dag_id in DAGS:
            fresh()
            if dag_id == "ml_deployment":
                from mlpipe.config import load_config

                h.register_approved(server, load_config())
                h.queue_predictions(4, load_config().deployment.smoke_test.gold_rows)
            r = h.run_dag(server, dag_id)
            calls = [{"task": c.task, "service": c.service, "operation": c.operation, "phase": c.phase,
                      "request": c.request} for c in r.calls]
            out["dags"][dag_id] = {"state": r.state, "calls": len(calls), "floor": _floor(calls),
                                   "trigger_calls": sum(c["phase"] == "trigger" for c in calls),
                                   "worker_seconds": r.worker_seconds, "trigger_seconds": r.trigger_seconds,
                                   "deferrals": r.deferrals, "wall_seconds": r.wall_seconds}
        for variant, deferrable in (("deferrable", True), ("non_deferrable", False)):
            fresh()
            scenario = h.Scenario(tuning_status="InProgress", step_seconds=WAIT_SECONDS)
            r = h.run_dag(server, "ml_training", scenario=scenario,
                          adjust=None if deferrable else _not_deferrable("tune.tuning_job"))
            polls = [c for c in r.calls if c.task == "tune.tuning_job" and c.operation ==
                     "DescribeHyperParameterTuningJob"]
            (created, ended), = [v for v in r.jobs.values()]
            out["tuning"][variant] = {"state": r.state, "job_seconds": (ended or created) - created,
                                      "worker_seconds": _overlap(r.task_intervals.get("tune.tuning_job", []), created,
                                                                 ended or created),
                                      "trigger_seconds": r.trigger_seconds,
                                      "worker_polls": sum(c.phase == "worker" for c in polls),
                                      "trigger_polls": sum(c.phase == "trigger" for c in polls)}
    finally:
        server.stop()
    return out


def _not_deferrable(task_id: str):  # noqa: ANN202 - a DAG adjuster for run_dag
    def adjust(dag) -> None:  # noqa: ANN001
        dag.get_task(task_id).deferrable = False
    return adjust


def run() -> list[Row]:
    home = tempfile.mkdtemp(prefix="mlpipe-bench-aws-")
    env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
           "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING", "MLPIPE_HOME": os.environ.get("MLPIPE_HOME", str(ROOT)),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "include"), str(ROOT)])}
    env = {k: v for k, v in env.items() if not k.startswith("MLPIPE__") and k != "PIPELINE_ENV"}
    proc = subprocess.run([sys.executable, "-m", "bench.bench_aws_calls", "--measure"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)
    marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("MEASURED ")]
    if proc.returncode != 0 or not marker:
        raise RuntimeError(f"bench_aws_calls --measure failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    m = json.loads(marker[-1][len("MEASURED "):])
    rows = []
    for dag_id, d in m["dags"].items():
        ok = d["state"] == "success"
        rows.append(Row(f"aws_calls: {dag_id} calls/run", d["calls"], "calls", f"<= {CALLS_TARGET:g}x floor, run ok",
                        ok and d["calls"] <= CALLS_TARGET * d["floor"], reference=d["floor"],
                        reference_name="one call per distinct (task, operation)"))
    t = m["tuning"]
    dfr, blocking = t["deferrable"], t["non_deferrable"]
    ok = dfr["state"] == blocking["state"] == "success"
    rows.append(Row("aws_calls: tuning wait, worker-held seconds", dfr["worker_seconds"], "s",
                    f"<= {WORKER_SHARE_TARGET:.0%} of non-deferrable",
                    ok and dfr["worker_seconds"] <= WORKER_SHARE_TARGET * blocking["worker_seconds"],
                    reference=blocking["worker_seconds"], reference_name="the same wait with deferrable=False"))
    rows.append(Row("aws_calls: tuning wait, polls by the worker", dfr["worker_polls"], "calls",
                    f"<= {WORKER_POLLS_TARGET}, the rest by the trigger",
                    ok and dfr["worker_polls"] <= WORKER_POLLS_TARGET and dfr["trigger_polls"] >= 1,
                    reference=blocking["worker_polls"], reference_name="worker polls with deferrable=False"))
    for r in rows:
        r.value = round(float(r.value), 3)
    print(json.dumps(m, indent=1), file=sys.stderr)
    return rows


if __name__ == "__main__" and "--measure" in sys.argv:
    import logging

    logging.disable(logging.WARNING)
    print("MEASURED " + json.dumps(measure()), flush=True)
