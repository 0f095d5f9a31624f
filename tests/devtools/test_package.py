"""devtools.package: the MWAA bundle (dags/, plugins.zip, requirements.txt, startup.sh, code/) and its upload."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from devtools import package

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    return package.build("aws-dev", tmp_path_factory.mktemp("bundle") / "mwaa")


def test_dags_folder_has_every_dag_and_what_the_workers_read(dist):
    dags = dist / "dags"
    assert sorted(p.name for p in dags.glob("*.py")) == sorted(p.name for p in (ROOT / "dags").glob("*.py"))
    assert "include/" in (dags / ".airflowignore").read_text().split()
    for rel in ("config/aws-dev.yaml", "sql/athena", "quality/gold", "training/data.py", "training/_package.py"):
        assert (dags / "include" / rel).exists(), rel
    assert not any("__pycache__" in p.parts or p.suffix == ".pyc" for p in dags.rglob("*"))


def test_plugins_zip_is_the_library_at_its_root(dist):
    names = zipfile.ZipFile(dist / "plugins.zip").namelist()
    assert ".airflowignore" in names, "the plugins manager must not import the library's modules"
    expected = {p.relative_to(ROOT / "plugins").as_posix() for p in (ROOT / "plugins" / "mlpipe").rglob("*.py")
                if "__pycache__" not in p.parts}
    assert expected <= set(names)
    assert all(n.startswith(("mlpipe/", ".airflowignore")) for n in names), "nothing but the library"
    assert not any(n.startswith(("tests/", "devtools/", "dags/", "include/")) or "__pycache__" in n
                   or n.endswith(".pyc") for n in names)


def test_requirements_and_startup_script(dist):
    lines = (dist / "requirements.txt").read_text().splitlines()
    assert lines[0] == ('--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/'
                        'constraints-3.12.txt"')
    startup = (dist / "startup.sh").read_text()
    assert 'export PIPELINE_ENV="aws-dev"' in startup and "MLPIPE_CODE_ROOT" in startup
    assert os.access(dist / "startup.sh", os.X_OK)


def test_code_bucket_tree(dist):
    from mlpipe.stacks.aws import code as keys
    from mlpipe.stacks.aws import training

    code = dist / "code"
    assert (code / keys.MAIN_KEY).read_bytes() == (ROOT / "include/spark_jobs/main.py").read_bytes()
    assert "spark_jobs/main.py" in zipfile.ZipFile(code / keys.PY_FILES_KEY).namelist()
    assert (code / keys.BOOTSTRAP_KEY).is_file()
    with tarfile.open(code / training.SOURCEDIR_KEY) as tf:
        assert {"train.py", "_package.py", "contract.py"} <= set(tf.getnames()), "script mode: train.py at the root"
    assert training.SOURCEDIR_KEY == package.TRAINING_SOURCEDIR_KEY
    assert training.CODE_PREFIX_KEY == package.TRAINING_CODE_PREFIX and (code / "training/code/evaluate.py").is_file()
    with tarfile.open(code / package.SERVING_SOURCEDIR_KEY) as tf:
        assert "inference.py" in tf.getnames()
    assert (code / "quality").is_dir() and (code / "sql/athena").is_dir()


def test_the_dags_parse_from_the_bundle_alone(dist, tmp_path):
    """MWAA's layout: plugins.zip unpacked into plugins/ (on sys.path), the DAG folder as synced, startup.sh's
    variables; every DAG file imports with nothing from the checkout."""
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(dist / "plugins.zip").extractall(plugins)
    code = (
        "import runpy, sys, pathlib\n"
        "for f in sorted(pathlib.Path(sys.argv[1]).glob('*.py')):\n"
        "    dag = runpy.run_path(str(f))['dag']\n"
        "    print(dag.dag_id, len(dag.tasks))\n"
        "import mlpipe.paths as p; assert str(p.CODE_ROOT) == sys.argv[1], p.CODE_ROOT\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPIPE", "PYTHONPATH", "PIPELINE_ENV"))}
    env.update(PYTHONPATH=str(plugins), PIPELINE_ENV="aws-dev", MLPIPE_CODE_ROOT=str(dist / "dags"),
               AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    out = subprocess.run([sys.executable, "-c", code, str(dist / "dags")], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    parsed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("ml_")}
    assert {"ml_ingest", "ml_features", "ml_training", "ml_deployment"} <= parsed


def test_deploy_commands(dist, capsys):
    cmds = package.deploy("acme-mwaa-dev", "acme-ml-code-dev", dist, dry_run=True)
    flat = [" ".join(c) for c in cmds]
    assert any(c.startswith("aws s3 sync --delete") and c.endswith("s3://acme-mwaa-dev/dags") for c in flat)
    for name in ("plugins.zip", "requirements.txt", "startup.sh"):
        assert any(c.startswith("aws s3 cp") and c.endswith(f"s3://acme-mwaa-dev/{name}") for c in flat), name
    assert any(" s3://acme-ml-code-dev " in c + " " and "--sse aws:kms" in c for c in flat)
    assert "+ aws s3 cp" in capsys.readouterr().out


def test_a_local_stack_config_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="aws-stack config"):
        package.build("local", tmp_path / "mwaa")
