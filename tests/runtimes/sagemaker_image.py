"""The SageMaker XGBoost image 3.0-5 on this machine: its package set (``runtimes/sagemaker-xgboost``), its entry
points, and the ``/opt/ml`` trees SageMaker lays out for a training job, a processing job and an endpoint.

What is real: the interpreter and packages (Python 3.10, xgboost 3.0.5, sagemaker-containers 2.8.6.post2 with
the image's patch, Flask, gunicorn, gevent), ``sagemaker_containers``' ``train`` (``_trainer`` ->
``training_env()`` -> ``run_module``: unpack the sourcedir, ``pip install .`` of it, ``python -m train``) and
its ``server.start`` (gunicorn with gevent workers, the image's command line). Stand-ins: the image's own
``sagemaker_xgboost_container`` entry modules (``tests/runtimes/image``, not on PyPI), and ``/opt/ml``, which is
``<tmp>/opt/ml`` through ``SAGEMAKER_BASE_DIR`` (sagemaker_containers' own switch) with every ``/opt/ml`` path of
the rendered requests rewritten to it. No nginx (``SAGEMAKER_USE_NGINX=false``: gunicorn binds the port).

Script mode pip-installs the code into the interpreter's site-packages; each job gets a throwaway virtualenv
layered on the runtime venv (its packages through a ``.pth``), so the runtime venv stays as built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IMAGE_MODULES = Path(__file__).resolve().parent / "image"
OPT_ML = "/opt/ml"
# The image's ENV lines (docker/3.0-5/final/Dockerfile.cpu), relative to /opt/ml.
IMAGE_ENV = {"SM_INPUT": "/input", "SM_INPUT_TRAINING_CONFIG_FILE": "/input/config/hyperparameters.json",
             "SM_INPUT_DATA_CONFIG_FILE": "/input/config/inputdataconfig.json",
             "SM_CHECKPOINT_CONFIG_FILE": "/input/config/checkpointconfig.json", "SM_MODEL_DIR": "/model"}
TRAINING_MODULE = "sagemaker_xgboost_container.training:main"
SERVING_MODULE = "sagemaker_xgboost_container.serving:main"


def layered_venv(runtime_python: Path, dest: Path) -> Path:
    """A virtualenv that sees the runtime venv's packages and takes script mode's ``pip install`` itself."""
    dest = Path(dest).resolve()
    site = subprocess.run([str(runtime_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([str(runtime_python), "-m", "venv", "--without-pip", str(dest)], check=True)
    (own,) = dest.glob("lib/python3.*/site-packages")
    (own / "_runtime_venv.pth").write_text(site + "\n")
    for tool in ("gunicorn",):  # what the image runs by name (sagemaker_containers' server)
        (dest / "bin" / tool).symlink_to(Path(runtime_python).parent / tool)
    return dest / "bin" / "python"


def container_env(python: Path, base: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a container of the image whose /opt/ml is ``base``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SM_", "SAGEMAKER_", "PIP_", "PYTHON", "VIRTUAL_ENV", "MLPIPE_", "TRAINING_JOB"))}
    env.update({k: str(base) + v for k, v in IMAGE_ENV.items()})
    env.update({
        "SAGEMAKER_BASE_DIR": str(base),
        "SAGEMAKER_TRAINING_MODULE": TRAINING_MODULE,
        "SAGEMAKER_SERVING_MODULE": SERVING_MODULE,
        "PYTHONPATH": str(IMAGE_MODULES),
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8",
        # script mode's `pip install .`: offline, the image's pip/setuptools build it in place (no index needed)
        "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PATH": f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
        "OMP_NUM_THREADS": "1",
    })
    env.update(extra or {})
    return env


_OPT_ML = re.compile(r"(?<![\w/.])/opt/ml(?=/|\b|$)")


def in_container(value: Any, base: Path) -> Any:
    """A request's value with every ``/opt/ml`` path moved to the fake tree (strings, also inside a shell
    command, lists and dicts)."""
    if isinstance(value, str):
        return _OPT_ML.sub(str(base).replace("\\", "\\\\"), value)
    if isinstance(value, list):
        return [in_container(v, base) for v in value]
    if isinstance(value, dict):
        return {k: in_container(v, base) for k, v in value.items()}
    return value


def pack_model(model_dir: Path, dest: Path) -> Path:
    """model.tar.gz as SageMaker uploads SM_MODEL_DIR: its content at the archive's root."""
    with tarfile.open(dest, "w:gz") as tf:
        for path in sorted(model_dir.iterdir()):
            tf.add(path, arcname=path.name)
    return dest


# ---- training ----------------------------------------------------------------------------------------------
@dataclass
class TrainingJob:
    """One training job of a tuning job, laid out as SageMaker lays it out under ``base`` (its /opt/ml)."""

    base: Path
    name: str
    hyperparameters: dict[str, str]
    definition: dict[str, Any]
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.base.parent / "train.log"

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def checkpoint_dir(self) -> Path:
        return Path(in_container(self.definition["CheckpointConfig"]["LocalPath"], self.base))

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def lay_out_training_job(base: Path, tuning_request: Mapping[str, Any], job_name: str, tuned: Mapping[str, str],
                         channels: Mapping[str, Path], sourcedir: Path) -> TrainingJob:
    """``base`` as SageMaker prepares /opt/ml for a training job that ``tuning_request`` starts with ``tuned``
    values: input/config/{hyperparameters,inputdataconfig,resourceconfig,checkpointconfig}.json (every
    hyperparameter a string, the tuner's ``_tuning_objective_metric`` too), input/data/<channel>/ with the
    channel's files (the ``code`` channel: the sourcedir tarball under its S3 name), model/, output/,
    checkpoints/."""
    definition = tuning_request["TrainingJobDefinition"]
    objective = tuning_request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
    hps = {**definition["StaticHyperParameters"], **tuned, "_tuning_objective_metric": objective}
    assert all(isinstance(v, str) for v in hps.values()), "SageMaker passes every hyperparameter as a string"
    hps = in_container(hps, base)
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hps))
    data_config = {}
    for ch in definition["InputDataConfig"]:
        name = ch["ChannelName"]
        data_config[name] = {"ContentType": ch["ContentType"], "TrainingInputMode": ch["InputMode"],
                             "S3DistributionType": ch["DataSource"]["S3DataSource"]["S3DataDistributionType"],
                             "RecordWrapperType": "None"}
        target = base / "input" / "data" / name
        target.mkdir(parents=True)
        if name == "code":
            uri = ch["DataSource"]["S3DataSource"]["S3Uri"]
            shutil.copy2(sourcedir, target / uri.rsplit("/", 1)[-1])
        else:
            shutil.copytree(channels[name], target, dirs_exist_ok=True)
    (config / "inputdataconfig.json").write_text(json.dumps(data_config))
    instance = definition["ResourceConfig"]["InstanceType"]
    (config / "resourceconfig.json").write_text(json.dumps({
        "current_host": "algo-1", "current_instance_type": instance, "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"], "network_interface_name": "eth0",
        "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": instance,
                             "hosts": ["algo-1"]}]}))
    ckpt = definition["CheckpointConfig"]
    (config / "checkpointconfig.json").write_text(json.dumps(in_container(ckpt, base)))
    for sub in ("model", "output/data", "checkpoints"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    return TrainingJob(base, job_name, hps, definition)


def start_training(python: Path, job: TrainingJob, extra_env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """The image's ``train`` (sagemaker_containers' console script) in its own process group."""
    env = container_env(python, job.base, {"TRAINING_JOB_NAME": job.name, **(extra_env or {})})
    log = open(job.log_path, "ab")  # noqa: SIM115 - the process holds it
    return subprocess.Popen([str(python), "-m", "sagemaker_containers.cli.train"], stdout=log,
                            stderr=subprocess.STDOUT, env=env, cwd=job.base.parent, start_new_session=True)


def wait_for_group(pgid: int, timeout: float) -> None:
    """Until no process of the process group is left (the script outlives sagemaker_containers' parent)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"process group {pgid} still running after {timeout} s")
        time.sleep(0.05)


# ---- serving -----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Endpoint:
    proc: subprocess.Popen
    url: str
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


def start_endpoint(python: Path, base: Path, model_tar: Path, environment: Mapping[str, str],
                   extra_env: Mapping[str, str] | None = None, timeout: float = 120) -> Endpoint:
    """An endpoint's container: ``model_tar`` unpacked into <base>/model as SageMaker does, the model package's
    ``environment`` (its /opt/ml paths moved to ``base``), the image's ``serve`` on a free port; waits for /ping."""
    model = base / "model"
    model.mkdir(parents=True)
    with tarfile.open(model_tar) as tf:
        tf.extractall(model, filter="data")
    port = free_port()
    env = container_env(python, base, {**in_container(dict(environment), base), "SAGEMAKER_USE_NGINX": "false",
                                       "SAGEMAKER_BIND_TO_PORT": str(port), "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                                       **(extra_env or {})})
    env.pop("OMP_NUM_THREADS")  # the image's serve defaults it to 1 itself
    log_path = base.parent / "serve.log"
    proc = subprocess.Popen([str(python), "-m", "sagemaker_xgboost_container.serving"],
                            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, env=env,  # noqa: SIM115
                            cwd=base.parent, start_new_session=True)
    ep = Endpoint(proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}:\n{ep.log[-4000:]}")
        try:
            if ep.get("/ping") == 200:
                return ep
        except OSError:
            pass
        if time.monotonic() > deadline:
            ep.stop()
            raise AssertionError(f"no /ping 200 within {timeout} s:\n{ep.log[-4000:]}")
        time.sleep(0.2)
