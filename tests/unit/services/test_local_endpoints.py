"""The local endpoint service: the live state file, the serving ARN, and a runtime client that reaches it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from mlpipe.config import load_config
from mlpipe.errors import MlPipeError
from mlpipe.services import endpoints_for
from mlpipe.services.local_endpoints import LocalEndpoints, live_file, live_url, read_live, write_live


def test_the_live_file_is_replaced_whole(tmp_path):
    assert read_live(tmp_path, "ep") is None
    write_live(tmp_path / "run", "ep", {"version": 1, "url": "http://127.0.0.1:1"})
    write_live(tmp_path / "run", "ep", {"version": 2, "url": "http://127.0.0.1:2"})
    assert read_live(tmp_path / "run", "ep") == {"version": 2, "url": "http://127.0.0.1:2"}
    assert [p.name for p in (tmp_path / "run").iterdir()] == [live_file(tmp_path / "run", "ep").name]
    assert live_url(tmp_path / "run", "ep") == "http://127.0.0.1:2"
    with pytest.raises(MlPipeError, match="endpoint other is not deployed .*run ml_deployment or `make serve`"):
        live_url(tmp_path / "run", "other")


def test_serving_arn_is_the_live_versions(tmp_path):
    endpoints = LocalEndpoints(tmp_path, "ep")
    assert endpoints.serving_arn() is None
    write_live(tmp_path, "ep", {"version": 3, "arn": "local:model-package/g/3", "url": "http://x"})
    assert endpoints.serving_arn() == "local:model-package/g/3"


def test_endpoints_for_the_local_stack_reads_the_configured_run_dir(tmp_path):
    cfg = load_config("local", environ={"MLPIPE__DEPLOYMENT__LOCAL__RUN_DIR": str(tmp_path)})
    endpoints = endpoints_for(cfg)
    assert endpoints == LocalEndpoints(tmp_path, cfg.deployment.endpoint_name)


def test_the_runtime_client_invokes_the_live_url(tmp_path):
    """boto3's InvokeEndpoint reaches the URL of the live file (SageMaker Runtime's path, the body sent)."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            seen.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps({"predictions": [{"score": 0.25}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        write_live(tmp_path, "ep", {"version": 1, "url": f"http://127.0.0.1:{server.server_port}"})
        resp = LocalEndpoints(tmp_path, "ep").runtime_client().invoke_endpoint(
            EndpointName="ep", ContentType="text/csv", Body=b"1,2")
        assert json.loads(resp["Body"].read()) == {"predictions": [{"score": 0.25}]}
    finally:
        server.shutdown()
    assert seen == [("/endpoints/ep/invocations", b"1,2")]
