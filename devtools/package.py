"""The MWAA bundle and its upload (dev-time tool; never shipped to MWAA).

    python -m devtools.package build  [--env aws-dev] [--dist dist/mwaa] [--offline]   (make package [OFFLINE=1])
    python -m devtools.package deploy [--env aws-dev] --bucket B [--code-bucket C] [--dry-run]
                                                                  (make deploy BUCKET=... [CODE_BUCKET=...])

``build`` writes ``dist/mwaa/``::

    dags/                   the DAG files, .airflowignore (include/), and include/{config,sql,quality} (what the
                            workers read: the YAML config, the Athena DDL, the GX suites) plus the include/ packages
                            the library imports on the aws stack (worker_packages: training, monitoring)
    plugins.zip             plugins/ as MWAA unpacks it: mlpipe/ at the root, with plugins/.airflowignore
    requirements.txt        requirements.txt as is (MWAA's --constraint line first)
    --offline               also: the wheels requirements.txt needs beyond MWAA's image at the root of plugins.zip,
                            requirements.txt with --find-links /usr/local/airflow/plugins --no-index, and
                            dags/constraints-3.12.txt (MWAA's constraints) as its --constraint (devtools.mwaa_wheels)
    startup.sh              exports PIPELINE_ENV and MLPIPE_CODE_ROOT (include/ lives in the DAG folder on MWAA)
    code/                   what the jobs run, as the code bucket (aws.code_bucket) holds it:
                              spark_jobs/main.py, spark_jobs.zip, emr/bootstrap/install-python-packages.sh,
                              training/sourcedir.tar.gz + training/code/ (SageMaker script mode, evaluate.py),
                              serving/sourcedir.tar.gz, quality/, sql/

``deploy`` uploads it with the AWS CLI (``aws s3 sync`` / ``aws s3 cp``): the DAG folder, plugins.zip,
requirements.txt and startup.sh to the MWAA bucket, ``code/`` to the code bucket (aws.code_bucket unless given),
encrypted with the config's aws.kms_key_arn (``--sse aws:kms --sse-kms-key-id``). The EMR Serverless virtualenv
(``emr/pyspark_venv.tar.gz``) is built with venv-pack on Amazon Linux and uploaded separately (README).
"""

from __future__ import annotations

import argparse
import ast
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from mlpipe.stacks.aws import code as code_keys

from devtools import mwaa_wheels

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist" / "mwaa"
# include/ folders the Airflow workers read by path (MLPIPE_CODE_ROOT/include on MWAA): the YAML config, the Athena
# DDL, the GX suites. The include/ *packages* they import are derived from the library's imports (worker_packages).
WORKER_DATA = ("config", "sql", "quality")
# the local stack's modules: they never run on an MWAA worker, so what they import stays out of the bundle
LOCAL_ONLY = ("mlpipe/local", "mlpipe/stacks/local")
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
SKIP_SUFFIXES = (".pyc", ".pyo")
TRAINING_SOURCEDIR_KEY = "training/sourcedir.tar.gz"   # mlpipe.stacks.aws.training.SOURCEDIR_KEY
TRAINING_CODE_PREFIX = "training/code/"                 # mlpipe.stacks.aws.training.CODE_PREFIX_KEY
SERVING_SOURCEDIR_KEY = "serving/sourcedir.tar.gz"      # inference.py at the root (SageMaker script mode)
MWAA_DAGS_FOLDER = "/usr/local/airflow/dags"
EPOCH = (1980, 1, 1, 0, 0, 0)                           # fixed zip timestamps: the same tree, the same bytes


def _files(folder: Path) -> list[Path]:
    """Files under ``folder`` (sorted), without caches and bytecode."""
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not SKIP_DIRS.intersection(rel.parts) and not path.name.endswith(SKIP_SUFFIXES):
            out.append(path)
    return out


def _copy_tree(src: Path, dest: Path) -> None:
    for path in _files(src):
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _zip(folder: Path, dest: Path, prefix: str = "") -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in _files(folder):
            info = zipfile.ZipInfo(prefix + path.relative_to(folder).as_posix(), EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())


def _tar(folder: Path, dest: Path) -> None:
    """A gzipped tarball with ``folder``'s files at its root (deterministic: fixed owner and mtime)."""
    with tarfile.open(dest, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for path in _files(folder):
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tf.addfile(info, io.BytesIO(data))


def _imported_names(tree: ast.AST) -> set[str]:
    """Top-level names a module imports: import statements and ``importlib.import_module("pkg.x")`` /
    ``import_module(f"pkg.{name}")`` calls (how the library loads include/'s workload packages)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and getattr(node.func, "attr", getattr(node.func, "id", None)) \
                == "import_module":
            arg = node.args[0]
            if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                arg = arg.values[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value.split(".")[0])
    return names


def worker_packages(root: Path = ROOT) -> list[str]:
    """The include/ packages (folders with ``__init__.py``) the library imports on the aws stack (sorted)."""
    packages = {p.parent.name for p in (root / "include").glob("*/__init__.py")}
    plugins = root / "plugins"
    imported: set[str] = set()
    for path in _files(plugins / "mlpipe"):
        rel = path.relative_to(plugins).as_posix()
        if path.suffix == ".py" and not rel.startswith(tuple(f"{d}/" for d in LOCAL_ONLY)):
            imported |= _imported_names(ast.parse(path.read_text(), filename=str(path)))
    return sorted(packages & imported)


def worker_include(root: Path = ROOT) -> list[str]:
    """include/ folders the DAG folder carries: the data the workers read and the packages they import."""
    return sorted({*WORKER_DATA, *worker_packages(root)})


def startup_script(environment: str) -> str:
    return f"""#!/bin/sh
# MWAA startup script (runs before the Airflow components start; see the README's "Deploy to MWAA").
# PIPELINE_ENV picks include/config/<env>.yaml; include/ ships inside the DAG folder, so the library reads
# its config, SQL, quality suites and training code from there.
export PIPELINE_ENV="{environment}"
export MLPIPE_CODE_ROOT="${{AIRFLOW_HOME:-/usr/local/airflow}}/dags"
"""


def build(environment: str, dist: Path = DIST, root: Path = ROOT, offline: bool = False,
          arch: str = mwaa_wheels.ARCH) -> Path:
    """Write the bundle for ``environment`` (an aws-stack config) to ``dist``; returns ``dist``. ``offline``: the
    workers' wheels go into plugins.zip and requirements.txt installs from them (:func:`add_offline_wheels`)."""
    from mlpipe.config import load_config

    cfg = load_config(environment)
    if cfg.stack != "aws":
        raise SystemExit(f"PIPELINE_ENV={environment} is on the '{cfg.stack}' stack; MWAA runs an aws-stack config "
                         "(for example aws-dev): make package PIPELINE_ENV=aws-dev")
    if dist.exists():
        shutil.rmtree(dist)
    dags = dist / "dags"
    dags.mkdir(parents=True)
    for dag_file in sorted((root / "dags").glob("*.py")):
        shutil.copy2(dag_file, dags / dag_file.name)
    (dags / ".airflowignore").write_text("# library files, not DAGs\ninclude/\n")
    for name in worker_include(root):
        _copy_tree(root / "include" / name, dags / "include" / name)

    _zip(root / "plugins", dist / "plugins.zip")
    shutil.copy2(root / "requirements.txt", dist / "requirements.txt")
    if offline:
        add_offline_wheels(dist, root / "requirements.txt", arch)
    (dist / "startup.sh").write_text(startup_script(environment))
    os.chmod(dist / "startup.sh", 0o755)

    code = dist / "code"
    spark = root / "include" / "spark_jobs"
    (code / code_keys.MAIN_KEY).parent.mkdir(parents=True)
    shutil.copy2(spark / "main.py", code / code_keys.MAIN_KEY)
    _zip(spark, code / code_keys.PY_FILES_KEY, prefix="spark_jobs/")
    (code / code_keys.BOOTSTRAP_KEY).parent.mkdir(parents=True)
    shutil.copy2(root / "include" / "emr" / "bootstrap" / "install-python-packages.sh", code / code_keys.BOOTSTRAP_KEY)
    (code / "training").mkdir()
    sourcedir = dist / ".training-sourcedir"    # train.py at the root, serving/ beside it (model.tar.gz's code/)
    _copy_tree(root / "include" / "training", sourcedir)
    _copy_tree(root / "include" / "serving", sourcedir / "serving")
    _tar(sourcedir, code / TRAINING_SOURCEDIR_KEY)
    shutil.rmtree(sourcedir)
    _copy_tree(root / "include" / "training", code / TRAINING_CODE_PREFIX)
    (code / "serving").mkdir()
    _tar(root / "include" / "serving", code / SERVING_SOURCEDIR_KEY)
    for name in ("quality", "sql"):
        _copy_tree(root / "include" / name, code / name)
    return dist


def add_offline_wheels(dist: Path, requirements: Path, arch: str = mwaa_wheels.ARCH) -> list[str]:
    """MWAA without internet: the wheels requirements.txt needs beyond MWAA's image, at the root of plugins.zip
    (stored: wheels are compressed already); requirements.txt installs them with --find-links/--no-index under
    MWAA's constraints, which the DAG folder carries. Returns the wheels' file names."""
    with tempfile.TemporaryDirectory() as tmp:
        wheels = mwaa_wheels.download(mwaa_wheels.needed(requirements, arch), Path(tmp), arch)
        with zipfile.ZipFile(dist / "plugins.zip", "a") as zf:
            for wheel in wheels:
                info = zipfile.ZipInfo(wheel.name, EPOCH)
                info.external_attr = 0o644 << 16
                zf.writestr(info, wheel.read_bytes(), compress_type=zipfile.ZIP_STORED)
        (dist / "requirements.txt").write_text(mwaa_wheels.offline_requirements(requirements, wheels))
    shutil.copy2(mwaa_wheels.CONSTRAINTS, dist / "dags" / mwaa_wheels.CONSTRAINTS_NAME)
    return [w.name for w in wheels]


def deploy_commands(bucket: str, code_bucket: str, kms_key_arn: str, dist: Path = DIST) -> list[list[str]]:
    """The AWS CLI commands that upload the bundle (MWAA picks plugins/requirements/startup up on update); the code
    bucket's objects are encrypted with ``kms_key_arn`` (the config's aws.kms_key_arn), not the AWS-managed aws/s3
    key that ``--sse aws:kms`` alone would use."""
    return [
        ["aws", "s3", "sync", "--delete", "--exact-timestamps", str(dist / "dags"), f"s3://{bucket}/dags"],
        ["aws", "s3", "cp", str(dist / "plugins.zip"), f"s3://{bucket}/plugins.zip"],
        ["aws", "s3", "cp", str(dist / "requirements.txt"), f"s3://{bucket}/requirements.txt"],
        ["aws", "s3", "cp", str(dist / "startup.sh"), f"s3://{bucket}/startup.sh"],
        ["aws", "s3", "sync", "--exact-timestamps", str(dist / "code"), f"s3://{code_bucket}",
         "--sse", "aws:kms", "--sse-kms-key-id", kms_key_arn],
    ]


def deploy_target(environment: str, code_bucket: str | None = None) -> tuple[str, str]:
    """``(code bucket, KMS key ARN)`` of an aws-stack config: --code-bucket, else aws.code_bucket; aws.kms_key_arn."""
    from mlpipe.config import load_config

    cfg = load_config(environment)
    if cfg.stack != "aws" or cfg.aws is None:
        raise SystemExit(f"PIPELINE_ENV={environment} is not an aws-stack config: make deploy PIPELINE_ENV=aws-dev ...")
    if not cfg.aws.kms_key_arn:
        raise SystemExit(f"aws.kms_key_arn is not set in {environment}.yaml: the code bucket's objects would be "
                         "encrypted with the AWS-managed aws/s3 key; set it to the pipeline's customer managed key")
    bucket = code_bucket or cfg.aws.code_bucket
    if not bucket:
        raise SystemExit(f"no code bucket: set aws.code_bucket in {environment}.yaml or pass CODE_BUCKET=...")
    return bucket, cfg.aws.kms_key_arn


def deploy(bucket: str, code_bucket: str, kms_key_arn: str, dist: Path = DIST,
           dry_run: bool = False) -> list[list[str]]:
    if not (dist / "plugins.zip").is_file():
        raise SystemExit(f"{dist} has no bundle: run `make package` first")
    commands = deploy_commands(bucket, code_bucket, kms_key_arn, dist)
    for cmd in commands:
        print("+", " ".join(cmd))
        if dry_run:
            continue
        if shutil.which(cmd[0]) is None:
            raise SystemExit("the AWS CLI (`aws`) is not on PATH: install it and configure credentials for the "
                             "account, or run the commands above by hand")
        subprocess.run(cmd, check=True)
    if not dry_run:
        print(f"uploaded; point the MWAA environment at s3://{bucket}: DAG folder dags/, plugins.zip, "
              "requirements.txt and startup.sh (their new S3 object versions), then update it")
    return commands


def _default_env() -> str:
    env = os.environ.get("PIPELINE_ENV")
    return env if env and env != "local" else "aws-dev"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MWAA bundle (build) and upload (deploy)")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write dist/mwaa")
    b.add_argument("--env", default=None, help="the aws-stack config (default: $PIPELINE_ENV, else aws-dev)")
    b.add_argument("--dist", default=str(DIST))
    b.add_argument("--offline", action="store_true",
                   help="ship the workers' wheels in plugins.zip (MWAA without internet; needs the index now)")
    b.add_argument("--arch", default=mwaa_wheels.ARCH, help="the workers' CPU architecture (with --offline)")
    d = sub.add_parser("deploy", help="upload dist/mwaa with the AWS CLI")
    d.add_argument("--env", default=None, help="the aws-stack config (aws.kms_key_arn, aws.code_bucket)")
    d.add_argument("--bucket", required=True, help="the MWAA environment's bucket")
    d.add_argument("--code-bucket", default=None, help="default: aws.code_bucket of the config")
    d.add_argument("--dist", default=str(DIST))
    d.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    if args.command == "build":
        dist = build(args.env or _default_env(), Path(args.dist), offline=args.offline, arch=args.arch)
        for path in sorted(p for p in dist.iterdir()):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        return 0
    if not args.bucket:
        print("make deploy BUCKET=<MWAA bucket> [CODE_BUCKET=<default: aws.code_bucket>]", file=sys.stderr)
        return 2
    code_bucket, kms_key_arn = deploy_target(args.env or _default_env(), args.code_bucket)
    deploy(args.bucket, code_bucket, kms_key_arn, Path(args.dist), args.dry_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
