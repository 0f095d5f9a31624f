"""Run the real Airflow CLI against this checkout: a local AIRFLOW_HOME, the project's dags/ and plugins/.

Besides one-shot CLI commands (``run_airflow``, ``dags_test``), ``airflow_services`` starts Airflow's own
long-running components (API server, scheduler, DAG processor, triggerer; LocalExecutor on the SQLite metadata
DB) as separate process groups, waits until the API answers, and stops every one of them on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = Path(sys.executable).with_name("airflow")


def airflow_env(home: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for an Airflow command on the local stack."""
    env = dict(os.environ)
    home = home or Path(env.get("AIRFLOW_HOME") or ROOT / ".airflow")
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": env.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
            "MLPIPE_HOME": env.get("MLPIPE_HOME", str(ROOT)),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "include"), str(ROOT)]),
        }
    )
    env.update(extra or {})
    return env


def migrate(env: dict[str, str]) -> None:
    """`airflow db migrate` once per AIRFLOW_HOME (about 5 s)."""
    stamp = Path(env["AIRFLOW_HOME"]) / ".migrated"
    if stamp.exists():
        return
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    run_airflow(["db", "migrate"], env, quiet=True)
    stamp.touch()


def run_airflow(args: list[str], env: dict[str, str], *, quiet: bool = False,
                log_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `airflow <args>`; raise with the output's tail if it fails."""
    proc = subprocess.run([str(AIRFLOW), *args], env=env, cwd=ROOT, text=True, capture_output=True)
    output = proc.stdout + proc.stderr
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(output)
    if not quiet and not log_file:
        print(output)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed (exit {proc.returncode}):\n{output[-4000:]}")
    return proc


def dags_test(dag_id: str, ds: str, env: dict[str, str], log_file: Path | None = None) -> str:
    """`airflow dags test <dag_id> <ds>` (exit 1 when the DagRun fails); returns the DagRun's final state."""
    proc = run_airflow(["dags", "test", dag_id, ds], env, quiet=True, log_file=log_file)
    match = re.search(r"DagRun Finished: dag_id=\S+ .*?state=(\w+)", proc.stdout + proc.stderr)
    return match.group(1) if match else "unknown"


# ---- long-running components --------------------------------------------------------------------------------

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def services_env(home: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """``airflow_env`` plus what the components need to run side by side on one machine: an API server on a free
    local port (also the tasks' Execution API), free log-server ports, no login (SimpleAuthManager, everyone is
    admin; 127.0.0.1 only), and one task at a time (SQLite: avoids lock contention between the components)."""
    port = free_port()
    return airflow_env(home, extra={
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__PARALLELISM": "1",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        **(extra or {}),
    })


def start_component(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`airflow <args>` in its own process group (so stopping it stops its children too), output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen([str(AIRFLOW), *args], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_component(proc: subprocess.Popen[bytes], grace: float = 30) -> None:
    """SIGTERM the component's process group, SIGKILL it after ``grace`` seconds; also reaps what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:  # children of the group (task processes, gunicorn/uvicorn workers) that outlived the leader
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def wait_api_healthy(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API server exited (code {proc.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"the API server did not answer on port {port} within {timeout:.0f} s; see {log}")


@dataclass
class AirflowServices:
    """Running components and a small client of their REST API (``/api/v2``)."""

    env: dict[str, str]
    port: int
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/v2/{path.lstrip('/')}", data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} /api/v2/{path}: HTTP {exc.code} {exc.read()[:2000]!r}") from exc

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"Airflow components exited: {dead}; see the logs in {self.logs}")

    def wait_for_dags(self, dag_ids: Sequence[str], timeout: float = 300) -> None:
        """Until the DAG processor has parsed and stored every one of ``dag_ids``."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            known = {d["dag_id"] for d in self.request("GET", "dags?limit=100")["dags"]}
            if set(dag_ids) <= known:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"DAGs {sorted(set(dag_ids) - known)} not parsed within {timeout:.0f} s; "
                                   f"see {self.logs / 'dag-processor.log'}")
            time.sleep(2)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.request("PATCH", f"dags/{dag_id}", {"is_paused": paused})

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"dags/{dag_id}/dagRuns?order_by=run_after&limit=100")["dag_runs"]

    def wait_for_runs(self, dag_id: str, count: int = 1, timeout: float = 900) -> list[dict[str, Any]]:
        """Until ``dag_id`` has at least ``count`` runs and all of them finished; returns them, oldest first."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            runs = self.dag_runs(dag_id)
            if len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs):
                return runs
            if time.monotonic() > deadline:
                raise RuntimeError(f"{dag_id}: {[(r['dag_run_id'], r['state']) for r in runs]} after {timeout:.0f} s "
                                   f"(wanted {count} finished); task logs under {self.env['AIRFLOW_HOME']}/logs")
            time.sleep(3)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        from urllib.parse import quote

        entry = self.request("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/"
                                    f"xcomEntries/{key}?stringify=false")
        value = entry["value"]
        return json.loads(value) if isinstance(value, str) else value

    def upstream_asset_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        from urllib.parse import quote

        return self.request("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/upstreamAssetEvents")[
            "asset_events"]


@contextmanager
def airflow_services(env: dict[str, str], components: Sequence[str] = COMPONENTS,
                     logs: Path | None = None) -> Iterator[AirflowServices]:
    """Start ``components`` (``airflow <name>`` each; env from ``services_env``) on a migrated AIRFLOW_HOME, wait
    until the API server answers, yield them; on exit (also on an error) stop every process group started."""
    migrate(env)
    logs = logs or Path(env["AIRFLOW_HOME"]) / "service-logs"
    port = int(env["AIRFLOW__API__PORT"])
    services = AirflowServices(env=env, port=port, logs=logs)
    with ExitStack() as stack:
        for name in components:
            args = [name, "--port", str(port), "--host", "127.0.0.1"] if name == "api-server" else [name]
            proc = start_component(args, env, logs / f"{name}.log")
            services.procs[name] = proc
            stack.callback(stop_component, proc)
        if "api-server" in services.procs:
            wait_api_healthy(port, services.procs["api-server"], logs / "api-server.log")
        yield services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args()
    migrate(airflow_env())


if __name__ == "__main__":
    main()
