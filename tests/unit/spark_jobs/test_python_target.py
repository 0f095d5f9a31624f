"""include/spark_jobs runs on EMR 7's Python 3.11, not MWAA's 3.12: ruff checks it against 3.11 (pyproject's
per-file-target-version), so 3.12-only syntax there fails `make lint`. Running it on 3.11 for real is the EMR
parity tier's job (tests/runtimes/test_emr_parity.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RUFF = Path(sys.executable).parent / "ruff"
# a replacement field reusing the outer quote (PEP 701): valid on 3.12, a SyntaxError on 3.11
PY312_ONLY = 'row = {"a": 1}\nprint(f"{row["a"]}")\n'


def _ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUFF), "check", "--no-cache", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True)


def test_spark_jobs_are_linted_for_python_3_11():
    done = _ruff("--stdin-filename", "include/spark_jobs/_probe.py", "-", stdin=PY312_ONLY)
    assert done.returncode == 1
    assert "on Python 3.11 (syntax was added in Python 3.12)" in done.stdout
    # the library runs on MWAA's 3.12: the same text is fine there
    assert _ruff("--stdin-filename", "plugins/mlpipe/_probe.py", "-", stdin=PY312_ONLY).returncode == 0


def test_the_spark_jobs_pass_that_check():
    done = _ruff("include/spark_jobs")
    assert done.returncode == 0, done.stdout + done.stderr
