"""Run the real Airflow CLI against this checkout: a local AIRFLOW_HOME, the project's dags/ and plugins/."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args()
    migrate(airflow_env())


if __name__ == "__main__":
    main()
