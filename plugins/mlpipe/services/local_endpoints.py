"""The endpoint service on the local stack: the local endpoint's live state file and a client that reaches it.

The blue/green switch (:mod:`mlpipe.local.blue_green`) writes ``<run_dir>/<endpoint>.live.json`` atomically
when traffic moves to a new version: ``{"name", "version", "arn", "port", "url", "pid_file", "model_dir", ...}``.
Clients, ``make serve`` and ml_monitoring read it; a missing file means no version is live.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpipe.errors import MlPipeError

if TYPE_CHECKING:
    from mlpipe.config import PipelineConfig

LIVE_SUFFIX = ".live.json"
LOCAL_REGION = "us-east-1"   # boto3 wants one; the local endpoint ignores it


def live_file(run_dir: Path, name: str) -> Path:
    return Path(run_dir) / f"{name}{LIVE_SUFFIX}"


def read_live(run_dir: Path, name: str) -> dict[str, Any] | None:
    """The live version of endpoint ``name`` (the state file's document), or None."""
    try:
        return json.loads(live_file(run_dir, name).read_text())
    except FileNotFoundError:
        return None


def write_live(run_dir: Path, name: str, doc: dict[str, Any]) -> None:
    """Replace the state file atomically: a reader sees the old or the new version, never half."""
    path = live_file(run_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, path)


def live_url(run_dir: Path, name: str) -> str:
    live = read_live(run_dir, name)
    if live is None:
        raise MlPipeError(f"endpoint {name} is not deployed ({live_file(run_dir, name)} does not exist); run "
                          f"ml_deployment or `make serve`")
    return live["url"]


def runtime_client_for(url: str, region_name: str = LOCAL_REGION) -> Any:
    """A boto3 ``sagemaker-runtime`` client whose ``invoke_endpoint`` reaches the local endpoint at ``url``."""
    import boto3
    from botocore.config import Config

    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name=region_name,
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


@dataclass(frozen=True)
class LocalEndpoints:
    """The local endpoint ``name`` whose state files are under ``run_dir``."""

    run_dir: Path
    name: str

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> LocalEndpoints:
        from mlpipe.paths import local_path

        return cls(Path(local_path(cfg.deployment.local.run_dir)), cfg.deployment.endpoint_name)

    def runtime_client(self) -> Any:
        return runtime_client_for(live_url(self.run_dir, self.name))

    def serving_arn(self) -> str | None:
        live = read_live(self.run_dir, self.name)
        return live.get("arn") if live else None
