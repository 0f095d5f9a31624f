"""The MWAA bundle and its upload (dev-time tool; never shipped to MWAA).

    python -m devtools.package build  [--env aws-dev] [--dist dist/mwaa]        (make package)
    python -m devtools.package deploy --bucket B --code-bucket C [--dry-run]    (make deploy BUCKET=... CODE_BUCKET=...)

``build`` writes ``dist/mwaa/``::

    dags/                   the DAG files, .airflowignore (include/), and include/{config,sql,quality,training}
                            (what the workers read: the YAML config, the Athena DDL, the GX suites, train-split code)
    plugins.zip             plugins/ as MWAA unpacks it: mlpipe/ at the root, with plugins/.airflowignore
    requirements.txt        requirements.txt as is (MWAA's --constraint line first)
    startup.sh              exports PIPELINE_ENV and MLPIPE_CODE_ROOT (include/ lives in the DAG folder on MWAA)
    code/                   what the jobs run, as the code bucket (aws.code_bucket) holds it:
                              spark_jobs/main.py, spark_jobs.zip, emr/bootstrap/install-python-packages.sh,
                              training/sourcedir.tar.gz + training/code/ (SageMaker script mode, evaluate.py),
                              serving/sourcedir.tar.gz, quality/, sql/

``deploy`` uploads it with the AWS CLI (``aws s3 sync`` / ``aws s3 cp``): the DAG folder, plugins.zip,
requirements.txt and startup.sh to the MWAA bucket, ``code/`` to the code bucket. The EMR Serverless virtualenv
(``emr/pyspark_venv.tar.gz``) is built with venv-pack on Amazon Linux and uploaded separately (README).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from mlpipe.stacks.aws import code as code_keys

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist" / "mwaa"
# include/ folders the Airflow workers read (MLPIPE_CODE_ROOT/include on MWAA)
WORKER_INCLUDE = ("config", "sql", "quality", "training")
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


def startup_script(environment: str) -> str:
    return f"""#!/bin/sh
# MWAA startup script (runs before the Airflow components start; see the README's "Deploy to MWAA").
# PIPELINE_ENV picks include/config/<env>.yaml; include/ ships inside the DAG folder, so the library reads
# its config, SQL, quality suites and training code from there.
export PIPELINE_ENV="{environment}"
export MLPIPE_CODE_ROOT="${{AIRFLOW_HOME:-/usr/local/airflow}}/dags"
"""


def build(environment: str, dist: Path = DIST, root: Path = ROOT) -> Path:
    """Write the bundle for ``environment`` (an aws-stack config) to ``dist``; returns ``dist``."""
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
    for name in WORKER_INCLUDE:
        _copy_tree(root / "include" / name, dags / "include" / name)

    _zip(root / "plugins", dist / "plugins.zip")
    shutil.copy2(root / "requirements.txt", dist / "requirements.txt")
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


def deploy_commands(bucket: str, code_bucket: str, dist: Path = DIST) -> list[list[str]]:
    """The AWS CLI commands that upload the bundle (MWAA picks plugins/requirements/startup up on update)."""
    return [
        ["aws", "s3", "sync", "--delete", "--exact-timestamps", str(dist / "dags"), f"s3://{bucket}/dags"],
        ["aws", "s3", "cp", str(dist / "plugins.zip"), f"s3://{bucket}/plugins.zip"],
        ["aws", "s3", "cp", str(dist / "requirements.txt"), f"s3://{bucket}/requirements.txt"],
        ["aws", "s3", "cp", str(dist / "startup.sh"), f"s3://{bucket}/startup.sh"],
        ["aws", "s3", "sync", "--exact-timestamps", str(dist / "code"), f"s3://{code_bucket}",
         "--sse", "aws:kms"],
    ]


def deploy(bucket: str, code_bucket: str, dist: Path = DIST, dry_run: bool = False) -> list[list[str]]:
    if not (dist / "plugins.zip").is_file():
        raise SystemExit(f"{dist} has no bundle: run `make package` first")
    commands = deploy_commands(bucket, code_bucket, dist)
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
    d = sub.add_parser("deploy", help="upload dist/mwaa with the AWS CLI")
    d.add_argument("--bucket", required=True, help="the MWAA environment's bucket")
    d.add_argument("--code-bucket", required=True, help="aws.code_bucket of the config")
    d.add_argument("--dist", default=str(DIST))
    d.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    if args.command == "build":
        dist = build(args.env or _default_env(), Path(args.dist))
        for path in sorted(p for p in dist.iterdir()):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        return 0
    if not args.bucket or not args.code_bucket:
        print("make deploy BUCKET=<MWAA bucket> CODE_BUCKET=<aws.code_bucket>", file=sys.stderr)
        return 2
    deploy(args.bucket, args.code_bucket, Path(args.dist), args.dry_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
