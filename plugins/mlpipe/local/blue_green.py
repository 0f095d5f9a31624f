"""Blue/green deployment of the local endpoint (the local stack's UpdateEndpoint with a blue/green config).

``deploy``: the new version starts beside the live one on another port (its pid/log files under
``<run_dir>/<endpoint>/v<version>/``), must pass ``smoke_test`` (called with a boto3 ``sagemaker-runtime``
client of the new version), then ``<run_dir>/<endpoint>.live.json`` (the live port, URL, version and package
ARN; :mod:`mlpipe.services.local_endpoints`) is replaced atomically, the old version keeps serving
``drain_seconds`` for clients that read the old port, and stops. If the new version does not start or fails
its smoke test it is stopped, the live file is untouched (the old version keeps serving) and
:class:`MlPipeError` (the smoke test's own type) says so. A retry after a switch finds the version live and
does nothing. ``stop_all`` stops every version of an endpoint.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpipe.errors import MlPipeError
from mlpipe.lake import to_path
from mlpipe.local.capture import CaptureConfig
from mlpipe.local.endpoint import EndpointError, endpoint_status, port_free, start_endpoint, stop_endpoint
from mlpipe.services.endpoints import capture_root
from mlpipe.services.local_endpoints import live_file, read_live, write_live

if TYPE_CHECKING:
    from mlpipe.config import PipelineConfig

log = logging.getLogger(__name__)

SmokeTest = Callable[[Any], list[float]]   # the new version's runtime client -> its scores, or MlPipeError


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
    from mlpipe.paths import local_path

    dep = cfg.deployment
    cap = dep.data_capture
    return EndpointSpec(name=dep.endpoint_name, run_dir=Path(local_path(dep.local.run_dir)), port=dep.local.port,
                        variant=dep.variant_name, workers=dep.local.workers,
                        capture_dir=to_path(capture_root(cfg)) if cap.enabled else None,
                        capture_percentage=float(cap.sampling_percentage),
                        drain_seconds=dep.blue_green.drain_seconds)


def deploy(model_dir: str | Path, version: int, spec: EndpointSpec, smoke_test: SmokeTest,
           arn: str | None = None) -> dict[str, Any]:
    """Blue/green-deploy ``model_dir`` as ``version`` (model package ``arn``) of ``spec.name``."""
    live = read_live(spec.run_dir, spec.name)
    live_running = live is not None and endpoint_status(Path(live["pid_file"])).state == "running"
    if live_running and int(live["version"]) == int(version):
        log.info("endpoint %s already serves version %s on %s: nothing to do", spec.name, version, live["url"])
        return {**live, "action": "unchanged"}
    slot = spec.run_dir / spec.name / f"v{version}"
    stop_endpoint(spec.name, variant=spec.variant, run_dir=slot)  # a leftover of a failed attempt
    port = spec.port if not live_running and port_free("127.0.0.1", spec.port) else None
    capture = CaptureConfig(spec.capture_dir, spec.capture_percentage) if spec.capture_dir else None
    keeps = (f"version {live['version']} keeps serving on {live['url']}" if live_running
             else "no version was serving before")
    try:
        handle = start_endpoint(model_dir, spec.name, port, capture=capture, variant=spec.variant,
                                workers=spec.workers, run_dir=slot)
    except EndpointError as exc:
        raise MlPipeError(f"version {version} of endpoint {spec.name} did not start; rolled back: {keeps}.\n{exc}") from None
    try:
        scores = smoke_test(handle.runtime_client())
    except MlPipeError as exc:
        stop_endpoint(handle)
        raise type(exc)(f"version {version} of endpoint {spec.name} failed its smoke test; rolled back: "
                        f"{keeps}. {exc}") from None
    doc = {"name": spec.name, "variant": spec.variant, "version": int(version), "arn": arn, "port": handle.port,
           "url": handle.url, "pid": handle.pid, "pid_file": str(handle.pid_file), "log_file": str(handle.log_file),
           "model_dir": str(Path(model_dir).resolve()),
           "capture_dir": str(spec.capture_dir) if spec.capture_dir else None,
           "switched_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "previous_version": int(live["version"]) if live_running else None}
    write_live(spec.run_dir, spec.name, doc)
    log.info("endpoint %s: traffic switched to version %s on %s (smoke scores %s)", spec.name, version, handle.url,
             scores[:3])
    if live is not None:
        if live_running:
            time.sleep(spec.drain_seconds)
        stop_endpoint(Path(live["pid_file"]))
    return {**doc, "action": "switched" if live_running else "created", "smoke_scores": scores[:5]}


def stop_all(run_dir: Path, name: str) -> list[str]:
    """Stop every version of endpoint ``name`` and remove its live file; the pid files it stopped."""
    stopped = [str(p) for p in sorted((Path(run_dir) / name).glob("v*/*.pid")) if stop_endpoint(p)]
    live_file(run_dir, name).unlink(missing_ok=True)
    return stopped
