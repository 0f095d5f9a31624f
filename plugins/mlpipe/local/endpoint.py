"""The local real-time endpoint: the SageMaker inference handler behind uvicorn, as a managed process.

The local stack's stand-in for a SageMaker endpoint. The server (``mlpipe.local.endpoint_app``) speaks the
container contract (``GET /ping``, ``POST /invocations``) and SageMaker Runtime's ``InvokeEndpoint`` path
(``POST /endpoints/<name>/invocations``), so an unmodified boto3 client works against it::

    handle = start_endpoint("data/models/churn/v3", "churn", capture=CaptureConfig(Path("data/capture")))
    rt = handle.runtime_client()      # boto3 sagemaker-runtime with endpoint_url=handle.url
    rt.invoke_endpoint(EndpointName="churn", ContentType="text/csv", Body=b"12,30.5,3,0,4.2")
    stop_endpoint(handle)

``start_endpoint`` runs uvicorn (uvloop + httptools; ``mlpipe.local.endpoint_app.serve_foreground``) in its own
process group, bound to 127.0.0.1, writes
``<run_dir>/<name>.<variant>.pid`` (JSON: pid, host, port, model dir, log file) and ``<name>.<variant>.log``,
and returns once ``/ping`` answers 200. ``stop_endpoint`` sends SIGTERM (uvicorn drains in-flight
requests and the data capture buffer is flushed), escalates to SIGKILL of the process group after
``timeout_s``, and removes the pid file. Blue/green on the local stack: start the new variant under the
same endpoint name on another port, check it, switch the callers, stop the old one.

CLI (``make serve`` / ``make stop``)::

    python -m mlpipe.local.endpoint serve  --model-dir DIR --name NAME [--variant V] [--port P] [--workers N]
                                           [--capture-dir DIR [--capture-percentage PCT]]
                                           [--max-payload-mb MB] [--run-dir DIR] [--foreground]
    python -m mlpipe.local.endpoint stop   (--name NAME [--variant V] | --pid-file FILE) [--run-dir DIR]
    python -m mlpipe.local.endpoint status [--name NAME [--variant V] | --pid-file FILE] [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from mlpipe.errors import MlPipeError
from mlpipe.local.capture import CaptureConfig
from mlpipe.local.endpoint_config import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_VARIANT,
    INSTANCE_HEADER,
    EndpointConfig,
)
from mlpipe.local.processes import pid_alive, stop_process_group
from mlpipe.paths import CODE_ROOT, local_path

HOST = "127.0.0.1"
DEFAULT_RUN_DIR = "data/run/endpoints"
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
# SageMaker's endpoint and variant name rule.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_CMD_MARK = "mlpipe.local.endpoint"

State = Literal["running", "unhealthy", "dead", "stopped"]
_children: dict[int, subprocess.Popen] = {}  # processes this interpreter started (reaped on stop)


class EndpointError(MlPipeError):
    """The local endpoint could not be started, reached or stopped; the message says what to do."""


@dataclass(frozen=True)
class EndpointHandle:
    """A running local endpoint, as ``start_endpoint`` returns it (also read back from its pid file)."""

    name: str
    variant: str
    host: str
    port: int
    pid: int
    pid_file: Path
    log_file: Path
    model_dir: Path
    workers: int = 1
    capture_dir: Path | None = None
    instance_id: str = ""

    @property
    def url(self) -> str:
        """Base URL; the boto3 ``endpoint_url`` of the SageMaker Runtime client."""
        return f"http://{self.host}:{self.port}"

    @property
    def invocations_url(self) -> str:
        return f"{self.url}/invocations"

    @property
    def runtime_invocations_url(self) -> str:
        return f"{self.url}/endpoints/{self.name}/invocations"

    def runtime_client(self, region_name: str = "us-east-1") -> Any:
        """A boto3 ``sagemaker-runtime`` client pointed at this endpoint (dummy credentials, no retries)."""
        import boto3
        from botocore.config import Config

        return boto3.client("sagemaker-runtime", endpoint_url=self.url, region_name=region_name,
                            aws_access_key_id="local", aws_secret_access_key="local",
                            config=Config(retries={"max_attempts": 1, "mode": "standard"}))

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()} | {"url": self.url}

    @classmethod
    def from_pid_file(cls, pid_file: Path) -> EndpointHandle:
        raw = json.loads(Path(pid_file).read_text())
        return cls(name=raw["name"], variant=raw["variant"], host=raw["host"], port=int(raw["port"]),
                   pid=int(raw["pid"]), pid_file=Path(pid_file), log_file=Path(raw["log_file"]),
                   model_dir=Path(raw["model_dir"]), workers=int(raw.get("workers", 1)),
                   capture_dir=Path(raw["capture_dir"]) if raw.get("capture_dir") else None,
                   instance_id=raw.get("instance_id", ""))


@dataclass(frozen=True)
class EndpointStatus:
    """``running``: the process answers /ping; ``unhealthy``: alive but /ping fails; ``dead``: a pid file
    whose process is gone (``stop_endpoint`` cleans it up); ``stopped``: no pid file."""

    name: str
    variant: str
    state: State
    pid_file: Path
    handle: EndpointHandle | None = None
    detail: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "variant": self.variant, "state": self.state, "pid_file": str(self.pid_file),
                "detail": self.detail, **({"endpoint": self.handle.to_dict()} if self.handle else {})}


# ---- paths --------------------------------------------------------------------------------------------
def run_dir_path(run_dir: str | Path | None = None) -> Path:
    """Where pid and log files go: ``run_dir``, else ``<project>/data/run/endpoints``."""
    return Path(run_dir) if run_dir is not None else local_path(DEFAULT_RUN_DIR)


def pid_file_for(name: str, variant: str = DEFAULT_VARIANT, run_dir: str | Path | None = None) -> Path:
    return run_dir_path(run_dir) / f"{name}.{variant}.pid"


def _check_name(kind: str, value: str) -> None:
    if not NAME_PATTERN.match(value):
        raise EndpointError(f"{kind} {value!r} is not a valid SageMaker name: letters, digits and '-', "
                            f"starting with a letter or digit, at most 63 characters")


# ---- processes ----------------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    return pid_alive(pid)


def _is_endpoint_process(pid: int) -> bool:
    """Whether ``pid`` runs this module (a recycled pid must never be signalled)."""
    if pid in _children:
        return True
    try:
        return _CMD_MARK in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        out = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True)
        return _CMD_MARK in out.stdout


def _ping(host: str, port: int, instance_id: str | None = None, timeout: float = 2.0) -> bool:
    """/ping answers 200 (from the server started as ``instance_id``, when given)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/ping")
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200 and (not instance_id or resp.getheader(INSTANCE_HEADER) == instance_id)
    except OSError:
        return False
    finally:
        conn.close()


def port_free(host: str, port: int) -> bool:
    """Whether ``port`` on ``host`` can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    """A port the OS says is free on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _child_env(model_dir: str | Path | None = None) -> dict[str, str]:
    """The endpoint process imports mlpipe (plugins/) and the handler: the model directory's own ``code/serving``
    when it has one (what the training job put into model.tar.gz, which the SageMaker endpoint runs), else
    include/serving (model directories written without the training job, e.g. by serving.testing)."""
    env = dict(os.environ)
    paths = [str(CODE_ROOT / "plugins"), str(CODE_ROOT / "include")]
    if model_dir is not None and (Path(model_dir) / "code" / "serving" / "inference.py").is_file():
        paths.insert(0, str((Path(model_dir) / "code").resolve()))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _write_pid_file(path: Path, data: dict) -> None:
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


# ---- the API ------------------------------------------------------------------------------------------
def start_endpoint(model_dir: str | Path, name: str, port: int | None = None, *,
                   capture: CaptureConfig | None = None, variant: str = DEFAULT_VARIANT, workers: int = 1,
                   max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES, run_dir: str | Path | None = None,
                   startup_timeout_s: float = STARTUP_TIMEOUT_S) -> EndpointHandle:
    """Start the endpoint for ``model_dir`` as a background process on 127.0.0.1 and wait for /ping.

    ``port=None`` picks a free port. ``workers`` uvicorn worker processes (1 is fastest on 2 cores; each
    loads the model and captures to its own files). Raises ``EndpointError`` when the name is invalid, the
    endpoint already runs, the port is taken, or the process does not come up (with its log's tail).
    """
    _check_name("endpoint name", name)
    _check_name("variant name", variant)
    if workers < 1:
        raise EndpointError(f"workers must be >= 1, got {workers}")
    model_dir = Path(model_dir).resolve()
    if not model_dir.is_dir():
        raise EndpointError(f"model directory {model_dir} does not exist; pass the directory the training job "
                            f"wrote (SM_MODEL_DIR: the model and feature_schema.json)")
    rd = run_dir_path(run_dir)
    rd.mkdir(parents=True, exist_ok=True)
    pid_file = pid_file_for(name, variant, rd)
    if pid_file.exists():
        st = endpoint_status(pid_file)
        if st.state in ("running", "unhealthy"):
            assert st.handle is not None
            raise EndpointError(f"endpoint {name} (variant {variant}) already runs as pid {st.handle.pid} on "
                                f"{st.handle.url}; stop it first: python -m mlpipe.local.endpoint stop --name {name} "
                                f"--variant {variant} --run-dir {rd}")
        pid_file.unlink(missing_ok=True)  # stale
    if port is None:
        port = free_port()
    elif not port_free(HOST, port):
        raise EndpointError(f"port {port} on {HOST} is already in use; choose another port (or port=None for a "
                            f"free one), or stop what listens there")
    log_file = rd / f"{name}.{variant}.log"
    if capture is not None:  # the server runs in the project root: relative paths would move
        capture = dataclasses.replace(capture, directory=capture.directory.resolve())
    cfg = EndpointConfig(model_dir=model_dir, name=name, variant=variant, max_payload_bytes=max_payload_bytes,
                         capture=capture, log_file=str(log_file), instance_id=uuid.uuid4().hex)
    cmd = [sys.executable, "-m", "mlpipe.local.endpoint", "serve", "--foreground", "--config-json", cfg.to_json(),
           "--port", str(port), "--workers", str(workers), "--pid-file", str(pid_file)]
    with log_file.open("a") as log:
        log.write(f"--- {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} starting {name}/{variant} on {HOST}:{port}\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=_child_env(model_dir), cwd=str(CODE_ROOT), start_new_session=True, close_fds=True)
    _children[proc.pid] = proc
    handle = EndpointHandle(name=name, variant=variant, host=HOST, port=port, pid=proc.pid, pid_file=pid_file,
                            log_file=log_file, model_dir=model_dir, workers=workers,
                            capture_dir=capture.directory if capture else None,
                            instance_id=cfg.instance_id)
    _write_pid_file(pid_file, {**handle.to_dict(), "started_at": f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"})
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pid_file.unlink(missing_ok=True)
            _children.pop(proc.pid, None)
            raise EndpointError(f"endpoint {name} exited with code {proc.returncode} while starting; "
                                f"{log_file} ends with:\n{_log_tail(log_file)}")
        if _ping(HOST, port, cfg.instance_id, timeout=1.0):
            return handle
        time.sleep(0.05)
    stop_endpoint(handle, timeout_s=5)
    raise EndpointError(f"endpoint {name} did not answer /ping on {handle.url} within {startup_timeout_s:.0f} s; "
                        f"{log_file} ends with:\n{_log_tail(log_file)}")


def _resolve(target: EndpointHandle | str | Path, variant: str, run_dir: str | Path | None) -> Path:
    if isinstance(target, EndpointHandle):
        return target.pid_file
    text = str(target)
    if isinstance(target, Path) or text.endswith(".pid") or os.sep in text:
        return Path(target)
    return pid_file_for(text, variant, run_dir)


def endpoint_status(target: EndpointHandle | str | Path, *, variant: str = DEFAULT_VARIANT,
                    run_dir: str | Path | None = None) -> EndpointStatus:
    """The state of an endpoint given its handle, its pid file, or its name (+ variant, run dir)."""
    pid_file = _resolve(target, variant, run_dir)
    stem = pid_file.name.removesuffix(".pid")
    name, _, var = stem.rpartition(".")
    if not pid_file.exists():
        return EndpointStatus(name or stem, var or variant, "stopped", pid_file, detail="no pid file")
    try:
        handle = EndpointHandle.from_pid_file(pid_file)
    except (OSError, ValueError, KeyError) as exc:
        return EndpointStatus(name, var, "dead", pid_file, detail=f"unreadable pid file: {exc}")
    if not (_alive(handle.pid) and _is_endpoint_process(handle.pid)):
        return EndpointStatus(handle.name, handle.variant, "dead", pid_file, handle, f"pid {handle.pid} is gone")
    if _ping(handle.host, handle.port, handle.instance_id):
        return EndpointStatus(handle.name, handle.variant, "running", pid_file, handle, f"pid {handle.pid}")
    return EndpointStatus(handle.name, handle.variant, "unhealthy", pid_file, handle,
                          f"pid {handle.pid} does not answer /ping on {handle.url}; see {handle.log_file}")


def list_endpoints(run_dir: str | Path | None = None) -> list[EndpointStatus]:
    """The status of every endpoint with a pid file in ``run_dir``."""
    return [endpoint_status(p) for p in sorted(run_dir_path(run_dir).glob("*.pid"))]


def stop_endpoint(target: EndpointHandle | str | Path, *, variant: str = DEFAULT_VARIANT,
                  run_dir: str | Path | None = None, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop an endpoint (handle, pid file, or name + variant); True if a running process was stopped.

    SIGTERM first (graceful: in-flight requests finish, data capture is flushed), SIGKILL to the process
    group after ``timeout_s``. The pid file is removed in every case; stopping a stopped endpoint is a no-op.
    """
    pid_file = _resolve(target, variant, run_dir)
    if not pid_file.exists():
        return False
    try:
        pid = int(json.loads(pid_file.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        pid_file.unlink(missing_ok=True)
        return False
    if not (_alive(pid) and _is_endpoint_process(pid)):
        pid_file.unlink(missing_ok=True)
        _children.pop(pid, None)
        return False
    # SIGTERM to uvicorn's supervisor, which stops its workers; the group (workers, resource tracker) must end too
    stop_process_group(_children.get(pid, pid), timeout_s, term_leader_only=True, kill_wait_s=5)
    _children.pop(pid, None)
    pid_file.unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlpipe.local.endpoint", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start an endpoint (in the background unless --foreground)")
    serve.add_argument("--model-dir", type=Path)
    serve.add_argument("--name")
    serve.add_argument("--variant", default=DEFAULT_VARIANT)
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--capture-dir", type=Path, help="data capture root (SageMaker's DestinationS3Uri)")
    serve.add_argument("--capture-percentage", type=float, default=100.0)
    serve.add_argument("--max-payload-mb", type=float, default=DEFAULT_MAX_PAYLOAD_BYTES / 1048576)
    serve.add_argument("--run-dir", type=Path)
    serve.add_argument("--foreground", action="store_true", help="run uvicorn in this process (Ctrl-C stops)")
    serve.add_argument("--config-json", help=argparse.SUPPRESS)
    serve.add_argument("--pid-file", type=Path, help=argparse.SUPPRESS)
    for name in ("stop", "status"):
        p = sub.add_parser(name, help=f"{name} an endpoint (status without --name: every endpoint in the run dir)")
        p.add_argument("--name")
        p.add_argument("--variant", default=DEFAULT_VARIANT)
        p.add_argument("--pid-file", type=Path)
        p.add_argument("--run-dir", type=Path)
    args = parser.parse_args(argv)

    try:
        if args.command == "serve":
            if args.config_json:
                config = EndpointConfig.from_json(args.config_json)
            else:
                if args.model_dir is None or args.name is None:
                    parser.error("serve needs --model-dir and --name")
                capture = (CaptureConfig(args.capture_dir, args.capture_percentage) if args.capture_dir else None)
                config = EndpointConfig(model_dir=args.model_dir.resolve(), name=args.name, variant=args.variant,
                                        max_payload_bytes=int(args.max_payload_mb * 1048576), capture=capture)
            if args.foreground:
                from mlpipe.local.endpoint_app import serve_foreground

                return serve_foreground(config, HOST, args.port or 8080, args.workers, args.pid_file)
            handle = start_endpoint(config.model_dir, config.name, args.port, capture=config.capture,
                                    variant=config.variant, workers=args.workers,
                                    max_payload_bytes=config.max_payload_bytes, run_dir=args.run_dir)
            _children.pop(handle.pid, None)  # it outlives this command
            print(json.dumps(handle.to_dict(), indent=2))
            return 0
        if args.command == "stop":
            target = args.pid_file or args.name
            if target is None:
                parser.error("stop needs --name or --pid-file")
            stopped = stop_endpoint(target, variant=args.variant, run_dir=args.run_dir)
            print(f"{'stopped' if stopped else 'not running'}: {_resolve(target, args.variant, args.run_dir)}")
            return 0
        target = args.pid_file or args.name
        statuses = [endpoint_status(target, variant=args.variant, run_dir=args.run_dir)] if target \
            else list_endpoints(args.run_dir)
        print(json.dumps([s.to_dict() for s in statuses], indent=2))
        return 0 if all(s.state == "running" for s in statuses) else 3
    except (EndpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
