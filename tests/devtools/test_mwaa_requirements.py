"""requirements.txt installs on MWAA 3.3.1 (Python 3.12) as delivered: pinned to MWAA's constraints, overriding
none of MWAA's essential pins, adding nothing heavy (MWAA's install budget is 9 minutes).

Two checks. Offline: every line against constraints/ (the same files MWAA publishes). With the package index:
pip resolves requirements.txt for Python 3.12 / manylinux x86_64 without installing (``pip install --dry-run
--report --python-version 3.12 --only-binary=:all:``) on top of ``apache-airflow==3.3.1`` (MWAA's image has it),
and the resolved set must match the constraints. pip cannot resolve without an index (``--no-index`` would need
every wheel locally), so that test is skipped, saying so, only when the index cannot be reached at all.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints" / "airflow-3.3.1-constraints-3.12.txt"
ESSENTIAL = ROOT / "constraints" / "mwaa-3.3.1-essential-constraints.txt"
CONSTRAINT_URL = "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"
# what must never be installed on the workers: the workload's heavy dependencies run on EMR / SageMaker
HEAVY = {"pyspark", "pyspark-client", "xgboost", "sagemaker", "torch", "tensorflow", "mlflow", "great-expectations",
         "scikit-learn", "optuna", "duckdb", "lightgbm", "catboost", "jax", "moto", "pytest"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            out[norm(name.split("[")[0])] = version.strip()
    return out


def requirements(path: Path = ROOT / "requirements.txt") -> tuple[list[str], dict[str, str]]:
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    options = [ln for ln in lines if ln.startswith("-")]
    reqs = {}
    for ln in lines:
        if ln and not ln.startswith(("#", "-")):
            assert "==" in ln, f"requirements.txt: pin {ln!r} to the version in {CONSTRAINTS.name}"
            name, version = ln.split("==", 1)
            reqs[norm(name.split("[")[0])] = version
    return options, reqs


def check_offline(path: Path) -> None:
    options, reqs = requirements(path)
    assert options == [f'--constraint "{CONSTRAINT_URL}"'], "MWAA's constraint line, first"
    assert CONSTRAINT_URL in CONSTRAINTS.read_text()[:400], "constraints/ is the file the line names"
    constraints, essential = pins(CONSTRAINTS), pins(ESSENTIAL)
    assert essential["apache-airflow"] == "3.3.1"
    assert reqs, "requirements.txt lists what MWAA adds"
    for name, version in reqs.items():
        assert name not in essential, f"{name} is one of MWAA's essential pins: MWAA refuses to override it"
        assert name not in HEAVY, f"{name} is heavy: it belongs on EMR / SageMaker, not on the workers"
        if name in constraints:
            assert version == constraints[name], f"{name}=={version} but MWAA's constraints pin {constraints[name]}"


def test_requirements_follow_mwaa_constraints_offline():
    check_offline(ROOT / "requirements.txt")


@pytest.mark.parametrize(("line", "message"), [
    ("flask==3.1.3", "essential"), ("xgboost==3.4.1", "heavy"), ("boto3==1.0.0", "constraints pin"),
    ("boto3", "pin"),
])
def test_the_offline_check_bites(tmp_path, line, message):
    fake = tmp_path / "requirements.txt"
    fake.write_text(f'--constraint "{CONSTRAINT_URL}"\napache-airflow-providers-amazon==9.34.0\n{line}\n')
    with pytest.raises(AssertionError, match=message):
        check_offline(fake)


@pytest.mark.slow
def test_pip_resolves_requirements_for_python_312_against_the_constraints(tmp_path):
    _, reqs = requirements()
    req_file = tmp_path / "requirements-mwaa.txt"  # without the URL line: the same constraints come from constraints/
    req_file.write_text("\n".join(f"{n}=={v}" for n, v in reqs.items()) + "\n")
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
           "--disable-pip-version-check", "--report", str(report), "--python-version", "3.12",
           "--implementation", "cp", "--only-binary=:all:", "--platform", "manylinux_2_34_x86_64",
           "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64", "--platform", "any",
           "-c", str(CONSTRAINTS), "apache-airflow==3.3.1", "-r", str(req_file)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=540)
    if out.returncode and re.search(r"NewConnectionError|Failed to establish|Temporary failure in name resolution"
                                    r"|Network is unreachable", out.stderr):
        pytest.skip("the package index cannot be reached: pip cannot resolve without it (the offline test ran)")
    assert out.returncode == 0, out.stderr[-4000:]
    resolved = {norm(i["metadata"]["name"]): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    constraints, essential = pins(CONSTRAINTS), pins(ESSENTIAL)
    for name, version in reqs.items():
        assert resolved.get(name) == version, (name, resolved.get(name))
    drift = {n: (v, constraints[n]) for n, v in resolved.items() if n in constraints and v != constraints[n]}
    assert not drift, f"resolved off MWAA's constraints: {drift}"
    overridden = {n: (resolved[n], v) for n, v in essential.items() if n in resolved and resolved[n] != v}
    assert not overridden, f"MWAA's essential pins overridden: {overridden}"
    heavy = HEAVY & set(resolved)
    assert not heavy, f"heavy packages pulled in: {heavy}"
    assert resolved["apache-airflow"] == "3.3.1" and resolved["apache-airflow-providers-amazon"] == reqs[
        "apache-airflow-providers-amazon"]


def test_the_image_list_is_mwaas_image_under_its_constraints():
    """runtimes/mwaa/image.txt (MWAA 3.3.1's bill of materials: the parity venv and the offline bundle's baseline)
    holds every essential pin at its version and agrees with the constraints wherever they pin a package."""
    image = pins(ROOT / "runtimes" / "mwaa" / "image.txt")
    constraints, essential = pins(CONSTRAINTS), pins(ESSENTIAL)
    assert {n: image[n] for n in essential if n in image} == {n: v for n, v in essential.items() if n in image}
    assert set(essential) - set(image) == {"gevent"}, "the image installs every essential pin but gevent (its BOM)"
    assert {n: v for n, v in image.items() if n in constraints and constraints[n] != v} == {}
    _, reqs = requirements()
    assert image["apache-airflow-providers-amazon"] == reqs["apache-airflow-providers-amazon"]
    assert not {"pandas", "numpy", "pyarrow", "scipy", "matplotlib", "xgboost-cpu"} & set(image), \
        "the image has none of the workers' data packages: requirements.txt installs them"
