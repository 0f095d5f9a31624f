"""The local stand-in for an EMR step: ``spark-submit --master local[*]`` of the same ``include/spark_jobs/main.py``.

Its output streams into the task log line by line; a non-zero exit fails the task with the tail of stderr.
The job runs in a scratch directory (Spark's warehouse and Derby files never land in the checkout) with
the Airflow worker's own Python, so the workers see the same packages (GX, pyarrow) as the driver.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import IO, Any

from airflow.sdk import BaseOperator

from mlpipe.errors import MlPipeError
from mlpipe.lake import to_path
from mlpipe.local.processes import stop_process_group
from mlpipe.paths import CODE_ROOT

SPARK_JOBS_DIR = CODE_ROOT / "include" / "spark_jobs"
MAIN = SPARK_JOBS_DIR / "main.py"
STDERR_TAIL_LINES = 60
STOP_GRACE_S = 20  # between SIGTERM and SIGKILL of the spark-submit process group
# Used when the job spec does not say (its "spark" section: driver_memory, shuffle_partitions, conf).
DEFAULT_DRIVER_MEMORY = "2g"
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.log.level": "WARN",
}


def local_java_options(scratch: Path) -> str:
    # (C1-only JIT, -XX:TieredStopAtLevel=1, starts the small default runs ~3 s faster per step but makes the
    # gold job at 10M events 50% slower: the JVM keeps its defaults)
    return f"-Dderby.system.home={scratch}"


def spark_submit_path() -> Path:
    """``bin/spark-submit`` of the installed pyspark (found without importing pyspark)."""
    spec = find_spec("pyspark")
    if spec is None or not spec.origin:
        raise MlPipeError("pyspark is not installed in this Python; run `make setup` (the local stack needs it)")
    path = Path(spec.origin).parent / "bin" / "spark-submit"
    if not path.exists():
        raise MlPipeError(f"{path} is missing: reinstall pyspark (pip install --force-reinstall pyspark)")
    return path


def local_conf(spec: Mapping[str, Any], scratch: Path) -> dict[str, str]:
    """Local defaults, then the spec's Spark settings, then the scratch locations (kept out of the checkout)."""
    spark = spec.get("spark") or {}
    conf = {**LOCAL_DEFAULTS, **{k: str(v) for k, v in (spark.get("conf") or {}).items()}}
    if spark.get("shuffle_partitions"):
        conf["spark.sql.shuffle.partitions"] = str(spark["shuffle_partitions"])
    conf.pop("spark.driver.memory", None)  # --driver-memory below
    conf.update({
        "spark.sql.warehouse.dir": str(scratch / "spark-warehouse"),
        "spark.driver.extraJavaOptions": local_java_options(scratch),
        "spark.local.dir": str(scratch / "tmp"),
    })
    return conf


def spark_submit_command(step: str, spec_uri: str, spec: Mapping[str, Any], scratch: Path) -> list[str]:
    """``spark-submit --master local[*]`` of main.py with the spec's settings."""
    driver_memory = str((spec.get("spark") or {}).get("driver_memory") or DEFAULT_DRIVER_MEMORY)
    return [
        str(spark_submit_path()),
        "--master", "local[*]",
        "--name", f"ml_features-{step}",
        "--driver-memory", driver_memory,
        *[arg for key, value in sorted(local_conf(spec, scratch).items()) for arg in ("--conf", f"{key}={value}")],
        str(MAIN), "--step", step, "--spec", spec_uri,
    ]


def spark_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    python_path = [str(SPARK_JOBS_DIR.parent)]  # the spark_jobs package, as --py-files spark_jobs.zip on EMR
    if env.get("PYTHONPATH"):
        python_path.append(env["PYTHONPATH"])
    env.update({
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(python_path),
        "SPARK_LOCAL_IP": env.get("SPARK_LOCAL_IP", "127.0.0.1"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


class LocalSparkSubmitOperator(BaseOperator):
    """Runs ``main.py --step <step> --spec <spec_uri>`` with local Spark; fails on a non-zero exit."""

    template_fields: Sequence[str] = ("spec_uri",)
    ui_color = "#f9c915"

    def __init__(self, *, step: str, spec_uri: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step = step
        self.spec_uri = spec_uri
        self._proc: subprocess.Popen[str] | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        spec = json.loads(to_path(self.spec_uri).read_text())
        with tempfile.TemporaryDirectory(prefix=f"mlpipe-spark-{self.step}-") as tmp:
            scratch = Path(tmp)
            cmd = spark_submit_command(self.step, self.spec_uri, spec, scratch)
            self.log.info("running: %s", " ".join(cmd))
            started = time.monotonic()
            rc, tail = self._run(cmd, cwd=scratch)
        seconds = round(time.monotonic() - started, 1)
        if rc != 0:
            raise MlPipeError(
                f"spark-submit --step {self.step} failed (exit {rc}) after {seconds} s; last lines of stderr:\n"
                + "\n".join(tail)
            )
        self.log.info("spark step %s finished in %s s", self.step, seconds)
        return {"step": self.step, "seconds": seconds, "spec_uri": self.spec_uri}

    def _run(self, cmd: list[str], cwd: Path) -> tuple[int, list[str]]:
        tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._proc = subprocess.Popen(cmd, cwd=cwd, env=spark_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, errors="replace", bufsize=1, start_new_session=True)
        readers = [
            threading.Thread(target=self._pump, args=(self._proc.stdout, None), daemon=True),
            threading.Thread(target=self._pump, args=(self._proc.stderr, tail), daemon=True),
        ]
        try:
            for reader in readers:
                reader.start()
            rc = self._proc.wait()
            for reader in readers:
                reader.join(timeout=10)
            return rc, list(tail)
        finally:
            self._stop()

    def _pump(self, stream: IO[str], tail: collections.deque[str] | None) -> None:
        for line in stream:
            line = line.rstrip("\n")
            self.log.info("[spark %s] %s", self.step, line)
            if tail is not None:
                tail.append(line)

    def _stop(self) -> None:
        """Stop the whole spark-submit process group (JVM and Python workers) if anything of it still runs."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process_group(proc, STOP_GRACE_S)

    def on_kill(self) -> None:
        self._stop()
