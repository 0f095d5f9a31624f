"""The pieces `make run` strings together: one DAG run through `airflow dags test` (timed, with Airflow's own
overhead separated from the tasks' work), simulated endpoint traffic, and the retraining Asset events read
back from Airflow's metadata database."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devtools.airflow_local import ROOT, dags_test

_TASK_EDGE = re.compile(r"^(\S+Z) .*\[DAG TEST\] (starting|end task) task_id=(\S+)")


@dataclass
class DagRunResult:
    """One `airflow dags test` run: its state, wall time, and the seconds spent inside tasks."""

    dag_id: str
    ds: str
    state: str
    seconds: float
    task_seconds: dict[str, float] = field(default_factory=dict)
    log: str | None = None

    @property
    def work_seconds(self) -> float:
        return round(sum(self.task_seconds.values()), 1)

    @property
    def airflow_seconds(self) -> float:
        """Process start, DAG parsing, run creation, scheduling between tasks: the run minus its tasks."""
        return round(max(self.seconds - self.work_seconds, 0.0), 1)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "work_seconds": self.work_seconds, "airflow_seconds": self.airflow_seconds}


def task_seconds(log_text: str) -> dict[str, float]:
    """Each task's wall time, from the `[DAG TEST] starting` / `end task` lines of a `dags test` log."""
    started: dict[str, dt.datetime] = {}
    out: dict[str, float] = {}
    for line in log_text.splitlines():
        m = _TASK_EDGE.match(line)
        if not m:
            continue
        when = dt.datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        if m.group(2) == "starting":
            started[m.group(3)] = when
        elif m.group(3) in started:
            out[m.group(3)] = round(out.get(m.group(3), 0.0) + (when - started.pop(m.group(3))).total_seconds(), 2)
    return out


def run_dag(dag_id: str, ds: str, env: dict[str, str], log_file: Path) -> DagRunResult:
    """`airflow dags test <dag_id> <ds>`; a failed run is a result (state "failed"), not an exception."""
    t0 = time.perf_counter()
    try:
        state = dags_test(dag_id, ds, env, log_file=log_file)
    except RuntimeError:
        state = "failed"
    seconds = round(time.perf_counter() - t0, 1)
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    return DagRunResult(dag_id, ds, state, seconds, task_seconds(text), str(log_file))


def failure_lines(log_file: str | Path | None, limit: int = 12) -> str:
    """The lines of a failed run's log that say why (errors and the gates' messages)."""
    if not log_file or not Path(log_file).exists():
        return ""
    keep = [line for line in Path(log_file).read_text(errors="replace").splitlines()
            if "Error" in line or "gate failed" in line or "failed:" in line or line.startswith("  ")]
    return "\n".join(f"   | {line[:300]}" for line in keep[-limit:])


# ---- simulated traffic ------------------------------------------------------------------------------------------


def send_traffic(cfg: Any, ds: str, rows: int, batch: int = 10, seed: int = 0) -> dict[str, Any]:
    """Score ``rows`` of the date's gold scoring rows (a uniform sample drawn with ``seed``: the live population,
    which ml_monitoring compares with the training baseline) on the live local endpoint through boto3's
    ``invoke_endpoint`` (what a client application would do), in requests of ``batch`` JSON records. The
    endpoint's data capture records them for ml_monitoring."""
    from mlpipe.lake import LakeLayout
    from mlpipe.local.blue_green import spec_from_config
    from mlpipe.services.endpoint_smoke_test import check_predictions
    from mlpipe.services.local_endpoints import read_live, runtime_client_for
    from mlpipe.tasks.deployment import gold_records

    spec = spec_from_config(cfg)
    live = read_live(spec.run_dir, spec.name)
    if not live:
        return {"ds": ds, "requests": 0, "rows": 0, "note": "no live endpoint"}
    records = gold_records(cfg, LakeLayout.from_config(cfg).gold(cfg.features.gold.name, ds), rows, seed=seed)
    client = runtime_client_for(live["url"])
    sent = predicted = 0
    for start in range(0, len(records), batch):
        chunk = records[start:start + batch]
        body = json.dumps({"instances": chunk}, default=str).encode()
        resp = client.invoke_endpoint(EndpointName=spec.name, ContentType="application/json",
                                      Accept="application/json", Body=body)
        predicted += len(check_predictions(resp["Body"].read(), len(chunk)))
        sent += 1
    return {"ds": ds, "requests": sent, "rows": predicted, "version": live.get("version"), "url": live.get("url")}


# ---- Asset events from Airflow's metadata database --------------------------------------------------------------

_EVENTS_SCRIPT = """
import datetime, json, sys
from sqlalchemy import select
from airflow.models.asset import AssetEvent, AssetModel
from airflow.utils.session import create_session
with create_session() as s:
    rows = s.execute(select(AssetEvent.timestamp, AssetEvent.extra, AssetEvent.source_dag_id,
                            AssetEvent.source_run_id).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                     .where(AssetModel.name == sys.argv[1],
                            AssetEvent.timestamp >= datetime.datetime.fromisoformat(sys.argv[2]))
                     .order_by(AssetEvent.timestamp)).all()
print(json.dumps([{"timestamp": r[0].isoformat(), "extra": r[1], "source_dag_id": r[2], "source_run_id": r[3]}
                  for r in rows], default=str))
"""


def asset_events(asset_name: str, env: dict[str, str], since: dt.datetime) -> list[dict[str, Any]]:
    """The events of the Asset named ``asset_name`` recorded in Airflow's metadata database since ``since``
    (timezone-aware), oldest first."""
    proc = subprocess.run([sys.executable, "-c", _EVENTS_SCRIPT, asset_name, since.isoformat()], env=env, cwd=ROOT,
                          text=True, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"reading the events of Asset {asset_name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
