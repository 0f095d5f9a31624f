"""devtools.package: the MWAA bundle (dags/, plugins.zip, requirements.txt, startup.sh, code/) and its upload."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from devtools import package

ROOT = Path(__file__).resolve().parents[2]
KEY = "arn:aws:kms:us-east-1:123456789012:key/1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"


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


def test_the_dags_folder_carries_every_include_package_the_workers_import(dist):
    """check_drift imports include/monitoring (monitoring.workload), the split and evaluation include/training: both
    are derived from the library's imports; the local stack's imports (include/serving) stay out."""
    assert package.worker_packages() == ["monitoring", "training"]
    for rel in ("monitoring/__init__.py", "monitoring/drift.py", "monitoring/capture.py", "monitoring/report.py"):
        assert (dist / "dags" / "include" / rel).is_file(), rel
    assert not (dist / "dags" / "include" / "serving").exists() and not (dist / "dags" / "include" / "spark_jobs").exists()


def test_worker_packages_follow_the_imports(tmp_path):
    """A package the library starts importing joins the bundle; one only the local stack imports does not."""
    for pkg in ("alpha", "beta", "gamma", "delta"):
        (tmp_path / "include" / pkg).mkdir(parents=True)
        (tmp_path / "include" / pkg / "__init__.py").write_text("")
    lib = tmp_path / "plugins" / "mlpipe"
    (lib / "stacks" / "local").mkdir(parents=True)
    (lib / "tasks.py").write_text("import importlib\nfrom alpha.x import y\n"
                                  "def f(m):\n    return importlib.import_module(f'beta.{m}')\n")
    (lib / "stacks" / "local" / "engine.py").write_text("import gamma\n")
    assert package.worker_packages(tmp_path) == ["alpha", "beta"]


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
    cmds = package.deploy("acme-mwaa-dev", "acme-ml-code-dev", KEY, dist, dry_run=True)
    flat = [" ".join(c) for c in cmds]
    assert any(c.startswith("aws s3 sync --delete") and c.endswith("s3://acme-mwaa-dev/dags") for c in flat)
    for name in ("plugins.zip", "requirements.txt", "startup.sh"):
        assert any(c.startswith("aws s3 cp") and c.endswith(f"s3://acme-mwaa-dev/{name}") for c in flat), name
    (code,) = [c for c in cmds if "s3://acme-ml-code-dev" in c]
    assert code[code.index("--sse") + 1] == "aws:kms" and code[code.index("--sse-kms-key-id") + 1] == KEY
    assert "+ aws s3 cp" in capsys.readouterr().out


def test_deploy_takes_the_key_and_the_code_bucket_from_the_config():
    from mlpipe.config import load_config

    aws = load_config("aws-dev").aws
    assert package.deploy_target("aws-dev") == (aws.code_bucket, aws.kms_key_arn)
    assert package.deploy_target("aws-dev", "other-bucket") == ("other-bucket", aws.kms_key_arn)


def test_deploy_without_a_customer_key_is_refused(monkeypatch):
    monkeypatch.setenv("MLPIPE__AWS__KMS_KEY_ARN", "")
    with pytest.raises(SystemExit, match="aws.kms_key_arn is not set"):
        package.deploy_target("aws-dev")


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed: the commands are checked above")
def test_deploy_uploads_with_the_aws_cli_and_the_configured_key(dist, monkeypatch):
    """`make deploy`'s commands run by the AWS CLI against a moto server: the code bucket's objects carry the
    config's customer managed key, not the AWS-managed aws/s3 key."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{server._server.server_port}"
        env = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        key_arn = boto3.client("kms", endpoint_url=url, region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        monkeypatch.setenv("MLPIPE__AWS__KMS_KEY_ARN", key_arn)
        for bucket in ("acme-mwaa-dev", "acme-ml-code-dev"):
            s3.create_bucket(Bucket=bucket)
        code_bucket, kms = package.deploy_target("aws-dev")
        package.deploy("acme-mwaa-dev", code_bucket, kms, dist)
        mwaa = {o["Key"] for o in s3.list_objects_v2(Bucket="acme-mwaa-dev")["Contents"]}
        assert {"plugins.zip", "requirements.txt", "startup.sh", "dags/ml_ingest.py"} <= mwaa
        code = [o["Key"] for o in s3.list_objects_v2(Bucket=code_bucket)["Contents"]]
        assert "spark_jobs/main.py" in code and "training/sourcedir.tar.gz" in code
        for key in code:
            head = s3.head_object(Bucket=code_bucket, Key=key)
            assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn), key
    finally:
        server.stop()


def test_offline_requirements_install_from_the_plugins_folder(tmp_path):
    from devtools import mwaa_wheels

    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f'--constraint "{mwaa_wheels.DAGS_FOLDER}x"\n# c\npandas==3.0.5  # why\nscipy==1.18.0\n')
    wheels = [tmp_path / "pandas-3.0.5-cp312-cp312-manylinux_2_28_x86_64.whl"]
    lines = [ln for ln in mwaa_wheels.offline_requirements(reqs, wheels).splitlines() if not ln.startswith("#")]
    assert lines == ["--find-links /usr/local/airflow/plugins", "--no-index",
                     '--constraint "/usr/local/airflow/dags/constraints-3.12.txt"', "pandas==3.0.5", "scipy==1.18.0"]


def test_a_local_stack_config_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="aws-stack config"):
        package.build("local", tmp_path / "mwaa")
