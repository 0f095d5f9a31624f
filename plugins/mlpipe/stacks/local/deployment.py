"""Local deployment: the Approved version of the local registry behind the local endpoint, blue/green, and the
local batch transform::

    resolve_version >> deploy_endpoint >> smoke_test        (mode endpoint | both)
    resolve_version >> batch_transform                      (mode batch | both)

Blue/green (``deploy``): the new version starts beside the live one on another port (its pid/log files under
``<run_dir>/<endpoint>/v<version>/``), must answer the configured smoke requests with valid predictions through
boto3 ``invoke_endpoint``, then ``<run_dir>/<endpoint>.live.json`` (the live port, URL and version; clients and
``make serve`` read it) is replaced atomically, the old version keeps serving ``blue_green.drain_seconds`` for
clients that read the old port, and stops. If the new version does not start or fails its smoke test it is
stopped, the live file is untouched (the old version keeps serving) and the task fails with the reason. A retry
after a switch finds the version live and does nothing. Data capture goes to ``<lake>/capture/<endpoint>/``.

CLI (``make serve`` / ``make stop``)::

    python -m mlpipe.stacks.local.deployment serve [--version N]   # deploy the newest Approved (or N); print the URL
    python -m mlpipe.stacks.local.deployment status                # the live endpoint
    python -m mlpipe.stacks.local.deployment stop                  # stop every version of the endpoint
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpipe.config import PipelineConfig, load_config
from mlpipe.errors import MlPipeError
from mlpipe.tasks import deployment as d

log = logging.getLogger(__name__)

LIVE_SUFFIX = ".live.json"


@dataclass(frozen=True)
class EndpointSpec:
    """Everything a local blue/green deployment needs (no config object: tests build it directly)."""

    name: str
    run_dir: Path
    port: int
    variant: str = "AllTraffic"
    workers: int = 1
    capture_dir: Path | None = None
    capture_percentage: float = 100.0
    drain_seconds: float = 2.0


def spec_from_config(cfg: PipelineConfig) -> EndpointSpec:
    from mlpipe.lake import to_path
    from mlpipe.paths import local_path

    dep = cfg.deployment
    cap = dep.data_capture
    return EndpointSpec(name=dep.endpoint_name, run_dir=Path(local_path(dep.local.run_dir)), port=dep.local.port,
                        variant=dep.variant_name, workers=dep.local.workers,
                        capture_dir=to_path(d.capture_root(cfg)) if cap.enabled else None,
                        capture_percentage=float(cap.sampling_percentage),
                        drain_seconds=dep.blue_green.drain_seconds)


# ---- the live state file -------------------------------------------------------------------------------------


def live_file(run_dir: Path, name: str) -> Path:
    return Path(run_dir) / f"{name}{LIVE_SUFFIX}"


def read_live(run_dir: Path, name: str) -> dict[str, Any] | None:
    """The live version of endpoint ``name`` (``{"name", "version", "port", "url", "pid_file", ...}``), or None."""
    path = live_file(run_dir, name)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def _write_live(run_dir: Path, name: str, doc: dict[str, Any]) -> None:
    path = live_file(run_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, path)  # atomic: a reader sees the old or the new version, never half


def live_url(run_dir: Path, name: str) -> str:
    live = read_live(run_dir, name)
    if live is None:
        raise MlPipeError(f"endpoint {name} is not deployed ({live_file(run_dir, name)} does not exist); run "
                          f"ml_deployment or `make serve`")
    return live["url"]


def runtime_client_for(url: str, region_name: str = "us-east-1") -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name=region_name,
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


# ---- blue/green ---------------------------------------------------------------------------------------------


def deploy(model_dir: str | Path, version: int, spec: EndpointSpec,
           requests: list[tuple[str, bytes, int]]) -> dict[str, Any]:
    """Blue/green-deploy ``model_dir`` as ``version`` of ``spec.name`` (see the module docstring)."""
    from mlpipe.local.capture import CaptureConfig
    from mlpipe.local.endpoint import EndpointError, _port_free, endpoint_status, start_endpoint, stop_endpoint

    live = read_live(spec.run_dir, spec.name)
    live_running = live is not None and endpoint_status(Path(live["pid_file"])).state == "running"
    if live_running and int(live["version"]) == int(version):
        log.info("endpoint %s already serves version %s on %s: nothing to do", spec.name, version, live["url"])
        return {**live, "action": "unchanged"}
    slot = spec.run_dir / spec.name / f"v{version}"
    stop_endpoint(spec.name, variant=spec.variant, run_dir=slot)  # a leftover of a failed attempt
    port = spec.port if not live_running and _port_free("127.0.0.1", spec.port) else None
    capture = CaptureConfig(spec.capture_dir, spec.capture_percentage) if spec.capture_dir else None
    keeps = (f"version {live['version']} keeps serving on {live['url']}" if live_running
             else "no version was serving before")
    try:
        handle = start_endpoint(model_dir, spec.name, port, capture=capture, variant=spec.variant,
                                workers=spec.workers, run_dir=slot)
    except EndpointError as exc:
        raise MlPipeError(f"version {version} of endpoint {spec.name} did not start; rolled back: {keeps}.\n{exc}") from None
    try:
        scores = d.run_smoke_test(handle.runtime_client(), spec.name, requests)
    except d.SmokeTestError as exc:
        stop_endpoint(handle)
        raise d.SmokeTestError(f"version {version} of endpoint {spec.name} failed its smoke test; rolled back: "
                               f"{keeps}. {exc}") from None
    doc = {"name": spec.name, "variant": spec.variant, "version": int(version), "port": handle.port,
           "url": handle.url, "pid": handle.pid, "pid_file": str(handle.pid_file), "log_file": str(handle.log_file),
           "model_dir": str(Path(model_dir).resolve()),
           "capture_dir": str(spec.capture_dir) if spec.capture_dir else None,
           "switched_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "previous_version": int(live["version"]) if live_running else None}
    _write_live(spec.run_dir, spec.name, doc)
    log.info("endpoint %s: traffic switched to version %s on %s (smoke scores %s)", spec.name, version, handle.url,
             scores[:3])
    if live is not None:
        if live_running:
            time.sleep(spec.drain_seconds)
        stop_endpoint(Path(live["pid_file"]))
    return {**doc, "action": "switched" if live_running else "created", "smoke_scores": scores[:5]}


def stop_all(run_dir: Path, name: str) -> list[str]:
    """Stop every version of endpoint ``name`` and remove its live file; the pid files it stopped."""
    from mlpipe.local.endpoint import stop_endpoint

    stopped = [str(p) for p in sorted((Path(run_dir) / name).glob("v*/*.pid")) if stop_endpoint(p)]
    live_file(run_dir, name).unlink(missing_ok=True)
    return stopped


# ---- the model directory of a version --------------------------------------------------------------------------


def model_dir_of(package: dict[str, Any], models_root: Path) -> Path:
    """The version's model directory: the training trial's, else its ``model.tar.gz`` unpacked once under
    ``models_root/<group>/v<version>/`` (as SageMaker unpacks ModelDataUrl into /opt/ml/model)."""
    from mlpipe.lake import to_path

    trial_dir = ((package.get("lineage") or {}).get("best_trial") or {}).get("model_dir")
    if trial_dir and (Path(trial_dir) / "feature_schema.json").is_file():
        return Path(trial_dir)
    uri = str(package["model_uri"])
    src = to_path(uri) if uri.startswith("file://") else Path(uri)
    if src.is_dir():
        return src
    dest = models_root / package["group"] / f"v{package['version']}"
    if (dest / "feature_schema.json").is_file():
        return dest
    if not src.is_file():
        raise MlPipeError(f"version {package['version']} of {package['group']}: model artifact {uri} does not exist")
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    with tarfile.open(src) as tar:
        tar.extractall(tmp, filter="data")
    if dest.exists():
        import shutil

        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest


# ---- task bodies ----------------------------------------------------------------------------------------------


def approved_package(version: int | None, cfg: PipelineConfig) -> dict[str, Any]:
    from mlpipe.lake import to_path
    from mlpipe.local.registry import LocalModelRegistry

    package = LocalModelRegistry.from_config(cfg).require_deployable(cfg.training.registry.model_package_group,
                                                                     version).to_dict()
    models_root = to_path(f"{d.lake(cfg).root}/models")
    package["model_dir"] = str(model_dir_of(package, models_root))
    return package


def deploy_endpoint(resolved: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``deploy_endpoint``."""
    cfg = cfg or load_config()
    requests = d.smoke_requests(cfg, resolved.get("gold_partition"))
    out = deploy(resolved["model_dir"], int(resolved["version"]), spec_from_config(cfg), requests)
    from mlpipe.stacks.local.storage import LocalStorage

    LocalStorage().write_json(d.record_uri(cfg, resolved["ds"]), {**out, "package": resolved["arn"]})
    return out


def batch_transform(resolved: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``batch_transform``: the gold partition's scoring rows -> ``predictions/dt=<ds>/``,
    exactly one prediction per input row."""
    import pyarrow.parquet as pq

    from mlpipe.lake import atomic_partition, to_path
    from mlpipe.local.batch import batch_transform as run

    cfg = cfg or load_config()
    ds = resolved["ds"]
    table = d.read_scoring_rows(cfg, resolved["gold_partition"])
    staging = to_path(f"{d.lake(cfg).root}/_staging/{d.DAG_ID}/scoring/dt={ds}")
    with atomic_partition(staging) as tmp:
        pq.write_table(table, tmp / "part-00000.parquet")
    ids = [c for c in cfg.training.id_columns if c in table.column_names]
    summary = run(resolved["model_dir"], staging, to_path(resolved["predictions"]),
                  chunk_rows=cfg.deployment.transform.chunk_rows, id_columns=ids)
    if not summary.rows_out == summary.rows_in == table.num_rows:
        raise MlPipeError(f"batch transform: {table.num_rows} scoring rows, {summary.rows_in} read, "
                          f"{summary.rows_out} predictions")
    log.info("batch transform of version %s: %d rows -> %s (%.0f rows/s)", resolved["version"], summary.rows_out,
             resolved["predictions"], summary.rows_per_second)
    return {"version": resolved["version"], "rows": summary.rows_out, "predictions": resolved["predictions"],
            "output_file": summary.output_file}


class LocalDeployment:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    def approved_package(self, version: int | None) -> dict[str, Any]:
        return approved_package(version, self.cfg)

    def runtime_client(self) -> Any:
        spec = spec_from_config(self.cfg)
        return runtime_client_for(live_url(spec.run_dir, spec.name))

    def endpoint(self, resolved: Any) -> Any:
        from airflow.sdk import task

        return task(deploy_endpoint, task_id="deploy_endpoint")(resolved)

    def batch(self, resolved: Any) -> Any:
        from airflow.sdk import task

        return task(batch_transform, task_id="batch_transform")(resolved)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mlpipe.stacks.local.deployment",
                                     description="The local endpoint of deployment.endpoint_name.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="deploy the newest Approved version (or --version N)").add_argument(
        "--version", type=int)
    sub.add_parser("status", help="the live endpoint")
    sub.add_parser("stop", help="stop every version of the endpoint")
    args = parser.parse_args(argv)
    try:
        cfg = load_config()
        spec = spec_from_config(cfg)
        if args.command == "serve":
            package = approved_package(args.version, cfg)
            requests = d.smoke_requests(cfg.model_copy(update={"deployment": cfg.deployment.model_copy(
                update={"smoke_test": cfg.deployment.smoke_test.model_copy(update={"gold_rows": 0})})}), None) \
                if cfg.deployment.smoke_test.requests else []
            out = deploy(package["model_dir"], package["version"], spec, requests)
            print(json.dumps(out, indent=2))
        elif args.command == "status":
            print(json.dumps(read_live(spec.run_dir, spec.name), indent=2))
        else:
            stopped = stop_all(spec.run_dir, spec.name)
            print(f"stopped {len(stopped)} process(es) of {spec.name}")
        return 0
    except MlPipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
