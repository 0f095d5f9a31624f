"""MWAA parity: the offline bundle (``make package OFFLINE=1``) alone, as an MWAA 3.3.1 worker runs it.

An MWAA worker's ``AIRFLOW_HOME`` is built from ``dist/mwaa`` only: ``dags/`` as the DAG folder, ``plugins.zip``
unpacked into ``plugins/``, ``startup.sh``'s exports, ``PYTHONPATH`` = the DAG folder and the plugins folder (never
the checkout). Its Python is MWAA's image (``runtimes/mwaa``: Python 3.12, the image's bill of materials under MWAA's
constraints) with the bundle's ``requirements.txt`` installed on top the way MWAA does at start-up: ``pip install
--constraint <MWAA's essential pins> -r requirements.txt``, here with ``--no-index`` from the wheels in the unpacked
plugins.zip alone (the machine's pip configuration, which adds local wheel folders, is switched off). Then:

(a) every DAG file parses in a ``DagBag`` with no import error;
(b) every DAG's tasks run on the aws stack against moto: tests/aws/test_dags_on_moto.py and
    test_monitoring_on_moto.py (ml_monitoring's ``check_drift``, which imports include/monitoring) run unchanged in
    that Python, from a copy of tests/ placed beside the bundle so that the harness loads the bundle's DAG files;
    a pytest plugin records where every imported module came from, and the test fails naming any module that was
    loaded from outside the bundle, the venv and the copied tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from devtools import mwaa_wheels, package

pytestmark = [pytest.mark.runtime, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ESSENTIAL = ROOT / "constraints" / "mwaa-3.3.1-essential-constraints.txt"
DAGS = ("ml_deployment", "ml_features", "ml_ingest", "ml_monitoring", "ml_training")
TIMINGS: dict[str, float] = {}

# loaded into the worker's pytest with -p: where each module came from, written when the session ends
ORIGIN_PLUGIN = '''
import json, os, sys
from pathlib import Path

def pytest_sessionfinish(session, exitstatus):
    files = {}
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None)
        if path:
            files[name] = str(Path(path).resolve())
    Path(os.environ["MWAA_ORIGINS"]).write_text(json.dumps({"modules": files, "sys_path": sys.path}))
'''

# run by the worker's Python after the offline install: what pip put into the worker's own site-packages, and any
# requirement of those that neither they, the shipped wheels nor MWAA's image satisfy (a wheel the bundle lacks).
# The shipped wheels count because the runtime venv also holds the test's own tools (moto's dependencies include
# pyparsing): there pip skips a wheel that an MWAA worker would install; such wheels are installed separately.
DEPENDENCY_CHECK = '''
import json, sys
from importlib.metadata import distributions
from pathlib import Path
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

local_site, image = Path(sys.argv[1]).resolve(), json.loads(Path(sys.argv[2]).read_text())
shipped = dict(w.split("-")[:2] for w in json.loads(sys.argv[3]))
local = {}
for dist in distributions(path=[str(local_site)]):
    local[canonicalize_name(dist.metadata["Name"])] = (dist.version, dist.requires or [])
have = {**{canonicalize_name(n): v for n, v in image.items()}, **{canonicalize_name(n): v for n, v in shipped.items()},
        **{n: v for n, (v, _) in local.items()}}
missing = []
for name, (_, requires) in local.items():
    for line in requires:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        got = have.get(canonicalize_name(req.name))
        if got is None or (req.specifier and not req.specifier.contains(got, prereleases=True)):
            missing.append(f"{name} needs {req} (has {got})")
print(json.dumps({"installed": {n: v for n, (v, _) in local.items()}, "missing": missing}))
'''


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of an MWAA worker process: nothing of the checkout's, no pip configuration."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLPIPE", "PIPELINE_ENV", "PYTHONPATH", "PIP_", "AIRFLOW", "VIRTUAL_ENV"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PYTHONNOUSERSITE="1", **extra)
    return env


def _run(cmd: list[str], timeout: int, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _dist(wheel: str) -> str:
    """The distribution's normalized name from a wheel's file name."""
    return wheel.split("-", 1)[0].replace("_", "-").lower()


def _startup_exports(startup: Path, home: Path) -> dict[str, str]:
    """The variables ``startup.sh`` exports, run as MWAA runs it (AIRFLOW_HOME set)."""
    out = _run(["sh", "-c", f'. "{startup}" && env -0'], 30, env={"AIRFLOW_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    env = dict(item.split("=", 1) for item in out.stdout.split("\0") if "=" in item)
    return {k: env[k] for k in ("PIPELINE_ENV", "MLPIPE_CODE_ROOT")}


@pytest.fixture(scope="module")
def worker(runtime_python, tmp_path_factory) -> dict[str, object]:
    """AIRFLOW_HOME of an MWAA worker from the offline bundle, and its Python (see the module docstring)."""
    started = time.monotonic()
    image_python = runtime_python("mwaa")
    TIMINGS["runtime venv (build or reuse)"] = time.monotonic() - started
    tmp = tmp_path_factory.mktemp("mwaa")
    started = time.monotonic()
    dist = package.build("aws-dev", tmp / "dist", offline=True)
    TIMINGS["offline bundle (resolve + download wheels)"] = time.monotonic() - started

    home = tmp / "airflow"                                  # /usr/local/airflow on MWAA
    shutil.copytree(dist / "dags", home / "dags")
    with zipfile.ZipFile(dist / "plugins.zip") as zf:
        zf.extractall(home / "plugins")
    wheels = sorted(p.name for p in (home / "plugins").glob("*.whl"))

    # the worker's Python: a fresh venv that sees MWAA's image (the runtime venv's packages) through a .pth file
    started = time.monotonic()
    venv = home / ".local-venv"
    base = _run([str(image_python), "-c", "import sys; print(sys._base_executable)"], 30).stdout.strip()
    assert _run([base, "-m", "venv", str(venv)], 120).returncode == 0
    site = Path(_run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     30).stdout.strip())
    image_site = _run([str(image_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                      30).stdout.strip()
    (site / "_mwaa_image.pth").write_text(image_site + "\n")
    requirements = home / "requirements.txt"               # the bundle's, with MWAA's paths under this home
    requirements.write_text((dist / "requirements.txt").read_text().replace(mwaa_wheels.MWAA_HOME, str(home)))
    install = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                    "--constraint", str(ESSENTIAL), "-r", str(requirements)], 600, env=_clean_env(), cwd=home)
    TIMINGS["offline install of requirements.txt"] = time.monotonic() - started
    assert install.returncode == 0, f"the offline requirements.txt does not install:\n{install.stdout[-3000:]}" \
                                    f"{install.stderr[-3000:]}"
    image_pins = tmp / "image.json"
    image_pins.write_text(json.dumps(mwaa_wheels.image_packages()))
    check = _run([str(venv / "bin" / "python"), "-c", DEPENDENCY_CHECK, str(site), str(image_pins),
                  json.dumps(wheels)], 60, env=_clean_env())
    assert check.returncode == 0, check.stderr
    deps = json.loads(check.stdout)
    # the shipped wheels pip skipped because the test's tools brought the same package: each installs from the
    # plugins folder alone too (its tags fit this Python), into a folder of its own
    skipped = [w for w in wheels if _dist(w) not in deps["installed"]]
    if skipped:
        extra = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                      "--no-index", "--no-deps", "--find-links", str(home / "plugins"), "--target", str(tmp / "extra"),
                      *(str(home / "plugins" / w) for w in skipped)], 300, env=_clean_env())
        assert extra.returncode == 0, f"shipped wheels that do not install: {skipped}\n{extra.stderr[-3000:]}"
    deps["skipped"] = [_dist(w) for w in skipped]
    # `airflow db migrate` (the harness's) is run as sys.executable's sibling
    (venv / "bin" / "airflow").write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\n"
                                          "from airflow.__main__ import main\nsys.exit(main())\n")
    (venv / "bin" / "airflow").chmod(0o755)
    env = _clean_env(**_startup_exports(dist / "startup.sh", home),
                     PYTHONPATH=os.pathsep.join([str(home / "dags"), str(home / "plugins"), str(home)]),
                     AIRFLOW__CORE__LOAD_EXAMPLES="False")
    return {"home": home, "python": venv / "bin" / "python", "site": site, "image_site": Path(image_site),
            "env": env, "wheels": wheels, "deps": deps, "requirements": requirements.read_text()}


def test_the_offline_requirements_install_from_the_bundles_wheels_alone(worker):
    text = worker["requirements"]
    assert "--no-index" in text.splitlines() and f"--find-links {worker['home'] / 'plugins'}" in text.splitlines()
    assert (worker["home"] / "dags" / mwaa_wheels.CONSTRAINTS_NAME).is_file()
    deps = worker["deps"]
    assert not deps["missing"], "wheels the bundle should ship:\n" + "\n".join(deps["missing"])
    installed = set(deps["installed"])
    for name in ("pandas", "pyarrow", "scipy", "matplotlib", "xgboost-cpu", "numpy"):
        assert name in installed, f"{name} was not installed from the bundle's wheels"
    shipped = {_dist(w) for w in worker["wheels"]}
    # every wheel used (installed, or installed on its own where the test's tools had it), nothing from elsewhere
    assert shipped == (installed - {"pip"}) | set(deps["skipped"]), (shipped, installed, deps["skipped"])
    assert set(deps["skipped"]) <= {"pyparsing"}, deps["skipped"]
    assert "apache-airflow" not in shipped and "boto3" not in shipped, "the image's packages are not shipped again"


def test_every_dag_parses_from_the_bundle(worker):
    code = textwrap.dedent("""
        import json, sys
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder=sys.argv[1])
        import mlpipe
        print(json.dumps({"errors": {k: str(v)[-2000:] for k, v in bag.import_errors.items()},
                          "dags": sorted(bag.dag_ids), "mlpipe": mlpipe.__file__}))
    """)
    env = {**worker["env"], "AIRFLOW_HOME": str(worker["home"])}
    out = _run([str(worker["python"]), "-c", code, str(worker["home"] / "dags")], 300, env=env, cwd=worker["home"])
    assert out.returncode == 0, out.stderr[-4000:]
    bag = json.loads(out.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}, bag["errors"]
    assert bag["dags"] == sorted(DAGS)
    assert Path(bag["mlpipe"]).is_relative_to(worker["home"] / "plugins")


def test_every_task_runs_against_moto_from_the_bundle(worker):
    home = worker["home"]
    shutil.copytree(ROOT / "tests", home / "tests", ignore=shutil.ignore_patterns("__pycache__", "runtimes"))
    (home / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow\n    runtime\n    postgres\n"
                                     "filterwarnings = ignore::DeprecationWarning\n")
    (home / "mwaa_origins.py").write_text(ORIGIN_PLUGIN)
    origins = home / "origins.json"
    env = {**worker["env"], "MWAA_ORIGINS": str(origins)}
    started = time.monotonic()
    out = _run([str(worker["python"]), "-m", "pytest", "-q", "-p", "mwaa_origins", "-p", "no:cacheprovider",
                "--rootdir", str(home), "tests/aws/test_dags_on_moto.py", "tests/aws/test_monitoring_on_moto.py"],
               900, env=env, cwd=home)
    TIMINGS["DAG runs on moto in the worker's Python"] = time.monotonic() - started
    print("\n".join(f"  {k}: {v:.0f} s" for k, v in TIMINGS.items()), file=sys.stderr)
    assert out.returncode == 0, f"the aws-stack DAG runs failed from the bundle:\n{out.stdout[-6000:]}"
    summary = out.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" not in summary and "deselected" not in summary, summary

    found = json.loads(origins.read_text())
    allowed = [home / "dags", home / "plugins", home / "tests", worker["site"], worker["image_site"],
               Path(sys.base_prefix).resolve(), home / "mwaa_origins.py"]
    python_home = Path(_run([str(worker["python"]), "-c", "import sys; print(sys.base_prefix)"], 30).stdout.strip())
    allowed.append(python_home.resolve())
    outside = sorted(f"{name}: {path}" for name, path in found["modules"].items()
                     if not any(Path(path).is_relative_to(a) for a in allowed))
    assert not outside, "modules loaded from outside the bundle and the worker's Python:\n" + "\n".join(outside)
    checkout = [p for p in found["sys_path"] if p and Path(p).resolve().is_relative_to(ROOT)
                and not Path(p).resolve().is_relative_to(worker["image_site"])]
    assert not checkout, f"the checkout is on the worker's sys.path: {checkout}"
    modules = found["modules"]
    assert Path(modules["mlpipe"]).is_relative_to(home / "plugins")
    for name in ("training.data", "monitoring.drift", "monitoring.capture", "monitoring.report"):
        assert name in modules, f"{name} was never imported: the task that needs it did not run"
        assert Path(modules[name]).is_relative_to(home / "dags" / "include"), (name, modules[name])
