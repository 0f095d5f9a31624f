"""The SageMaker training container contract, as the training script sees it.

Inside a SageMaker training container (and in each local trial, which mimics it)::

    /opt/ml/input/config/hyperparameters.json   every hyperparameter, values as strings
    /opt/ml/input/data/<channel>/               one directory per input channel (SM_CHANNEL_<NAME>)
    /opt/ml/model/                              the model artifact (SM_MODEL_DIR), uploaded as model.tar.gz
    /opt/ml/output/data/                        other outputs (SM_OUTPUT_DATA_DIR), uploaded as output.tar.gz
    /opt/ml/output/failure                      why the job failed (shown as the job's FailureReason)
    /opt/ml/checkpoints/                        synced with CheckpointConfig.S3Uri, restored on a restart

The sagemaker-training toolkit also passes the hyperparameters as ``SM_HPS`` (JSON), as ``SM_HP_<NAME>``
variables and as ``--name value`` arguments; they all carry the same values. Later sources override
earlier ones: hyperparameters.json, SM_HPS, SM_HP_*, command-line arguments.

Checkpoints: the ``checkpoint_dir`` hyperparameter, else ``SM_CHECKPOINT_DIR``, else the ``LocalPath`` of
``/opt/ml/input/config/checkpointconfig.json`` (what SageMaker writes from the job's ``CheckpointConfig``), else
``/opt/ml/checkpoints``; inside it each training job keeps its own subdirectory named by ``TRAINING_JOB_NAME``
(set in every SageMaker training container), so the parallel trials of one tuning job, which share its one
``CheckpointConfig.S3Uri``, never overwrite or resume each other's checkpoints, and a restarted spot job (same
name) resumes its own. Without ``TRAINING_JOB_NAME`` the directory itself is used.

``SAGEMAKER_BASE_DIR`` moves the whole ``/opt/ml`` tree elsewhere, as it does for ``sagemaker_containers``
(a fake tree in tests, the local stack).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

OPT_ML = "/opt/ml"
ENV_BASE_DIR = "SAGEMAKER_BASE_DIR"      # sagemaker_containers' override of /opt/ml
HYPERPARAMETERS_FILE = "hyperparameters.json"
CHECKPOINT_CONFIG_FILE = "checkpointconfig.json"
DEFAULT_INPUT_CONFIG_DIR = OPT_ML + "/input/config"
DEFAULT_INPUT_DATA_DIR = OPT_ML + "/input/data"
DEFAULT_MODEL_DIR = OPT_ML + "/model"
DEFAULT_OUTPUT_DIR = OPT_ML + "/output"
DEFAULT_OUTPUT_DATA_DIR = OPT_ML + "/output/data"
DEFAULT_CHECKPOINT_DIR = OPT_ML + "/checkpoints"
ENV_TRAINING_JOB_NAME = "TRAINING_JOB_NAME"
ENV_CHECKPOINT_CONFIG_FILE = "SM_CHECKPOINT_CONFIG_FILE"   # set by the XGBoost image
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")   # SageMaker's training job names

ENV_INPUT_CONFIG_DIR = "SM_INPUT_CONFIG_DIR"
ENV_INPUT_DATA_DIR = "SM_INPUT_DATA_DIR"
ENV_CHANNELS = "SM_CHANNELS"
ENV_CHANNEL_PREFIX = "SM_CHANNEL_"
ENV_MODEL_DIR = "SM_MODEL_DIR"
ENV_OUTPUT_DIR = "SM_OUTPUT_DIR"
ENV_OUTPUT_DATA_DIR = "SM_OUTPUT_DATA_DIR"
ENV_CHECKPOINT_DIR = "SM_CHECKPOINT_DIR"
ENV_NUM_GPUS = "SM_NUM_GPUS"
ENV_NUM_CPUS = "SM_NUM_CPUS"
ENV_HPS = "SM_HPS"
ENV_HP_PREFIX = "SM_HP_"

# What the script writes into the model directory (all of it travels in model.tar.gz).
MODEL_FILE = "model.json"                # XGBoost JSON model, already cut at the best iteration
SCHEMA_FILE = "feature_schema.json"      # feature names, dtypes, order, categories: what serving must send
BASELINE_FILE = "baseline.json"          # training statistics for drift monitoring, and the naive baseline
METRICS_FILE = "metrics.json"            # final metrics, best iteration, rounds, timings
# Into the output data directory.
EVALUATION_FILE = "evaluation.json"      # test-set evaluation and gate (when a 'test' channel is given)
HISTORY_FILE = "history.json"            # the metric of every round

# Exit status after a SIGTERM (spot interruption, StopTrainingJob): 128 + 15, the shell's convention, so that
# no orchestrator mistakes an interrupted run for a finished one. SageMaker itself ignores the status of a
# job it stopped, and restarts a spot job with the checkpoints restored.
EXIT_INTERRUPTED = 143
EXIT_FAILED = 1


@dataclass(frozen=True)
class ContainerEnv:
    """Where everything is for this run, resolved from the environment and the command line."""

    hyperparameters: dict[str, str]
    channels: dict[str, str]
    model_dir: str
    output_dir: str
    output_data_dir: str
    checkpoint_dir: str
    num_gpus: int
    sources: list[str] = field(default_factory=list)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None,
                     argv: Sequence[str] = ()) -> ContainerEnv:
        env = dict(os.environ if environ is None else environ)
        hps, sources = read_hyperparameters(env, argv)
        channels = read_channels(env)
        base = base_dir(env)
        return cls(
            hyperparameters=hps,
            channels=channels,
            model_dir=env.get(ENV_MODEL_DIR, base + "/model"),
            output_dir=env.get(ENV_OUTPUT_DIR, base + "/output"),
            output_data_dir=env.get(ENV_OUTPUT_DATA_DIR, base + "/output/data"),
            checkpoint_dir=job_checkpoint_dir(checkpoint_root(env, hps), env.get(ENV_TRAINING_JOB_NAME)),
            num_gpus=_int_or(env.get(ENV_NUM_GPUS), -1),
            sources=sources,
        )

    def channel(self, name: str) -> str | None:
        return self.channels.get(name)

    def write_failure(self, reason: str) -> None:
        """``/opt/ml/output/failure``: SageMaker shows its first 1024 characters as the job's FailureReason."""
        try:
            os.makedirs(self.output_dir, exist_ok=True)
            with open(os.path.join(self.output_dir, "failure"), "w") as fh:
                fh.write(reason)
        except OSError:
            pass


def base_dir(environ: Mapping[str, str]) -> str:
    """``/opt/ml``, or ``SAGEMAKER_BASE_DIR`` when set (as ``sagemaker_containers`` chooses it)."""
    return (environ.get(ENV_BASE_DIR) or OPT_ML).rstrip("/") or "/"


def checkpoint_root(environ: Mapping[str, str], hps: Mapping[str, str]) -> str:
    """The directory SageMaker syncs with ``CheckpointConfig.S3Uri`` (see the module docstring for the order)."""
    if (hps.get("checkpoint_dir") or "").strip():
        return hps["checkpoint_dir"].strip()
    if environ.get(ENV_CHECKPOINT_DIR):
        return environ[ENV_CHECKPOINT_DIR]
    config_dir = environ.get(ENV_INPUT_CONFIG_DIR, base_dir(environ) + "/input/config")
    path = environ.get(ENV_CHECKPOINT_CONFIG_FILE) or os.path.join(config_dir, CHECKPOINT_CONFIG_FILE)
    if os.path.isfile(path):
        with open(path) as fh:
            doc = json.load(fh)
        local = doc.get("LocalPath") if isinstance(doc, dict) else None
        if local:
            return str(local)
    return base_dir(environ) + "/checkpoints"


def job_checkpoint_dir(root: str, job_name: str | None) -> str:
    """``root/<job_name>``: this training job's own checkpoints (``root`` itself without a job name)."""
    if not job_name:
        return root
    if not _JOB_NAME.match(job_name):
        raise ValueError(f"{ENV_TRAINING_JOB_NAME}={job_name!r} is not a SageMaker training job name (1-63 "
                         f"letters, digits and hyphens); it names this job's checkpoint directory")
    return os.path.join(root, job_name)


def read_hyperparameters(environ: Mapping[str, str], argv: Sequence[str] = ()) -> tuple[dict[str, str], list[str]]:
    """All hyperparameters as strings, and the sources they came from (for the log)."""
    hps: dict[str, str] = {}
    sources: list[str] = []
    config_dir = environ.get(ENV_INPUT_CONFIG_DIR, base_dir(environ) + "/input/config")
    path = os.path.join(config_dir, HYPERPARAMETERS_FILE)
    if os.path.isfile(path):
        with open(path) as fh:
            data = json.load(fh)
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a JSON object of name -> value, got {type(data).__name__}")
        hps.update({str(k): _as_string(v) for k, v in data.items()})
        sources.append(path)
    if environ.get(ENV_HPS):
        data = json.loads(environ[ENV_HPS])
        if isinstance(data, dict):
            hps.update({str(k): _as_string(v) for k, v in data.items()})
            sources.append(ENV_HPS)
    from_env = {k[len(ENV_HP_PREFIX):].lower(): v for k, v in environ.items() if k.startswith(ENV_HP_PREFIX)}
    if from_env:
        hps.update({k: _as_string(v) for k, v in from_env.items()})
        sources.append(ENV_HP_PREFIX + "*")
    from_argv = parse_argv(argv)
    if from_argv:
        hps.update(from_argv)
        sources.append("argv")
    return hps, sources


def parse_argv(argv: Sequence[str]) -> dict[str, str]:
    """``--name value`` and ``--name=value`` pairs, as the sagemaker-training toolkit passes them."""
    out: dict[str, str] = {}
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--"):
            raise ValueError(f"unexpected argument {item!r}: hyperparameters are passed as --name value")
        name = item[2:]
        if "=" in name:
            name, value = name.split("=", 1)
            i += 1
        elif i + 1 < len(items):
            value = items[i + 1]
            i += 2
        else:
            raise ValueError(f"argument --{name} has no value")
        out[name.replace("-", "_")] = _as_string(value)
    return out


def read_channels(environ: Mapping[str, str]) -> dict[str, str]:
    """Channel name -> directory, from SM_CHANNEL_<NAME>, else the folders under /opt/ml/input/data."""
    channels = {k[len(ENV_CHANNEL_PREFIX):].lower(): v for k, v in environ.items()
                if k.startswith(ENV_CHANNEL_PREFIX) and v}
    if not channels:
        data_dir = environ.get(ENV_INPUT_DATA_DIR, base_dir(environ) + "/input/data")
        if os.path.isdir(data_dir):
            channels = {name: os.path.join(data_dir, name) for name in sorted(os.listdir(data_dir))
                        if os.path.isdir(os.path.join(data_dir, name))}
    return channels


def cuda_visible(num_gpus: int) -> bool:
    """True when the job should train on a GPU.

    ``SM_NUM_GPUS`` decides when it is set (SageMaker always sets it); otherwise a GPU counts as visible
    when ``CUDA_VISIBLE_DEVICES`` does not hide them all and ``nvidia-smi -L`` lists one.
    """
    if num_gpus >= 0:
        return num_gpus > 0
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    exe = shutil.which("nvidia-smi")
    if not exe:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def _as_string(value: object) -> str:
    """SageMaker passes strings; the Python SDK JSON-encodes them once more ('"churned_30d"'): undo that."""
    if not isinstance(value, str):
        return json.dumps(value) if isinstance(value, (bool, list, dict)) or value is None else str(value)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, str) else value
    return value


def _int_or(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default
