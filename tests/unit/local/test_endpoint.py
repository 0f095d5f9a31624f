"""The local endpoint as a real uvicorn process: boto3 InvokeEndpoint, the container contract, fuzzing,
data capture on shutdown, and process management (start, ping, stop, busy port, broken model, CLI)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlpipe.local.capture import CaptureConfig
from mlpipe.local.endpoint import EndpointError, EndpointHandle, endpoint_status, start_endpoint, stop_endpoint
from mlpipe.local.processes import group_members
from mlpipe.paths import CODE_ROOT
from serving.testing import csv_body, json_values, make_model_dir, synthetic_features

from tests.unit.serving import fuzz_payloads

NAME = "churn-test"
LIMIT = 256 * 1024  # the module endpoint's payload limit (the default is SageMaker's 6 MB)
ROW = b"1,2,3,0,4,basic"  # a valid row of the test model


def scores(body: bytes, content_type: str) -> np.ndarray:
    if content_type.startswith("text/csv"):
        return np.array(body.decode().split(), dtype=np.float32)
    return np.array([p["score"] for p in json.loads(body)["predictions"]], dtype=np.float32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("endpoint") / "model")


@pytest.fixture(scope="module")
def booster(model_dir: Path):  # the in-process reference: XGBoost's public API, not the handler
    import xgboost as xgb

    return xgb.Booster(model_file=str(model_dir / "model.json"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="module")
def endpoint(model_dir: Path, run_dir: Path):
    handle = start_endpoint(model_dir, NAME, run_dir=run_dir, max_payload_bytes=LIMIT)
    yield handle
    stop_endpoint(handle)


@pytest.fixture(scope="module")
def http(endpoint: EndpointHandle):
    with httpx.Client(base_url=endpoint.url, timeout=30) as client:
        yield client


# ---- boto3 sagemaker-runtime against the local server ---------------------------------------------------
def test_boto3_invoke_endpoint_returns_the_in_process_predictions(endpoint: EndpointHandle, booster,
                                                                  model_dir: Path) -> None:
    rt = endpoint.runtime_client()
    X = synthetic_features(20, seed=11, missing_rate=0.1)
    names = json.loads((model_dir / "feature_schema.json").read_text())
    names = [f["name"] for f in names["features"]]
    requests = {
        "csv 1 row": ("text/csv", csv_body(X[:1]), X[:1]),
        "csv batch": ("text/csv", csv_body(X), X),
        "json 1 row": ("application/json", json.dumps(json_values(X[:1])[0]), X[:1]),
        "json batch": ("application/json", json.dumps({"instances": json_values(X)}), X),
        "json 1 record": ("application/json", json.dumps(dict(zip(names, json_values(X[:1])[0], strict=True))), X[:1]),
        "json records": ("application/json",
                         json.dumps({"instances": [dict(zip(names, r, strict=True)) for r in json_values(X)]}), X),
    }
    for label, (ct, body, rows) in requests.items():
        expected = booster.inplace_predict(rows)
        for accept in ("text/csv", "application/json"):
            resp = rt.invoke_endpoint(EndpointName=NAME, ContentType=ct, Accept=accept, Body=body)
            assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
            assert resp["ContentType"] == accept
            assert resp["InvokedProductionVariant"] == "AllTraffic"
            got = scores(resp["Body"].read(), accept)
            np.testing.assert_array_equal(got, expected, err_msg=f"{label}, Accept {accept}")


def test_boto3_errors_are_client_errors_in_sagemakers_shapes(endpoint: EndpointHandle) -> None:
    rt = endpoint.runtime_client()
    with pytest.raises(ClientError) as info:
        rt.invoke_endpoint(EndpointName=NAME, ContentType="text/csv", Body=b"1,2")
    err = info.value.response
    assert err["Error"]["Code"] == "ModelError"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert err["OriginalStatusCode"] == 400
    assert "CSV line 1 has 2 values; the model expects 6 features" in err["OriginalMessage"]
    assert "Received client error (400) from primary" in err["Error"]["Message"]

    with pytest.raises(ClientError) as info:
        rt.invoke_endpoint(EndpointName=NAME, ContentType="application/x-npy", Body=b"\x93NUMPY")
    assert info.value.response["OriginalStatusCode"] == 415

    with pytest.raises(ClientError) as info:
        rt.invoke_endpoint(EndpointName="not-this-one", ContentType="text/csv", Body=ROW)
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Endpoint not-this-one" in info.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as info:
        rt.invoke_endpoint(EndpointName=NAME, ContentType="text/csv", Body=(ROW + b"\n") * (LIMIT // 15 + 1))
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert f"exceeded {LIMIT} bytes" in info.value.response["Error"]["Message"]

    ok = rt.invoke_endpoint(EndpointName=NAME, ContentType="text/csv", Body=ROW)
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_concurrent_requests_each_get_their_own_predictions(endpoint: EndpointHandle, booster) -> None:
    """The batcher predicts the rows of concurrent requests together and hands each request its own rows."""
    X = synthetic_features(300, seed=31, missing_rate=0.05)
    sizes = [1, 3, 1, 7, 2, 1, 1, 12, 1, 5, 1, 2]
    offsets = np.cumsum([0, *sizes])
    before = httpx.get(f"{endpoint.url}/stats").json()

    def call(k: int) -> tuple[int, np.ndarray]:
        rows = X[offsets[k]:offsets[k + 1]]
        with httpx.Client(base_url=endpoint.url, timeout=30) as c:
            got = []
            for _ in range(4):
                r = c.post("/invocations", content=csv_body(rows), headers={"Content-Type": "text/csv",
                                                                            "Accept": "text/csv"})
                assert r.status_code == 200, r.text
                got.append(scores(r.content, "text/csv"))
        return k, np.stack(got)

    with ThreadPoolExecutor(max_workers=len(sizes)) as pool:
        results = list(pool.map(call, range(len(sizes))))
    for k, got in results:
        expected = booster.inplace_predict(X[offsets[k]:offsets[k + 1]])
        for g in got:
            np.testing.assert_array_equal(g, expected)
    after = httpx.get(f"{endpoint.url}/stats").json()
    requests = after["invocations"] - before["invocations"]
    calls = after["predict_calls"] - before["predict_calls"]
    assert requests == 4 * len(sizes)
    assert after["predicted_rows"] - before["predicted_rows"] == 4 * sum(sizes)
    assert calls < requests  # some requests shared an XGBoost call


# ---- the container contract -----------------------------------------------------------------------------
def test_container_contract_ping_and_invocations(http: httpx.Client, booster) -> None:
    assert http.get("/ping").status_code == 200
    X = synthetic_features(7, seed=2)
    r = http.post("/invocations", content=csv_body(X), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    np.testing.assert_array_equal(scores(r.content, "application/json"), booster.inplace_predict(X))
    params = http.get("/execution-parameters").json()
    assert params["MaxPayloadInMB"] >= 0 and params["BatchStrategy"] == "MULTI_RECORD"


@pytest.mark.parametrize(("body", "headers", "status", "code", "message"), [
    (b"1,2,3", {"Content-Type": "text/csv"}, 400, "feature_count", "has 3 values"),
    (b"{", {"Content-Type": "application/json"}, 400, "malformed_payload", "malformed JSON"),
    (b"", {"Content-Type": "text/csv"}, 400, "empty_body", "empty"),
    # text/csv and application/json arrive decoded as sagemaker_containers decodes them (bad bytes: U+FFFD)
    (b"\xff,2,3,0,4,basic", {"Content-Type": "text/csv"}, 400, "malformed_payload", "U+FFFD"),
    (b"\xff,2,3,0,4,basic", {"Content-Type": "text/csv; charset=utf-8"}, 400, "malformed_payload", "not valid UTF-8"),
    (ROW, {"Content-Type": "text/plain"}, 415, "unsupported_content_type", "'text/plain'"),
    (ROW, {"Content-Type": "text/csv", "Accept": "image/png"}, 406, "unsupported_accept", "image/png"),
    (b"9" * (LIMIT + 1), {"Content-Type": "text/csv"}, 413, "payload_too_large", f"the limit is {LIMIT} bytes"),
])
def test_container_errors_are_4xx_with_a_message(http: httpx.Client, body: bytes, headers: dict, status: int,
                                                 code: str, message: str) -> None:
    r = http.post("/invocations", content=body, headers=headers)
    assert r.status_code == status
    assert r.json()["error"] == code and message in r.json()["message"]


def test_chunked_body_over_the_limit_is_413(http: httpx.Client) -> None:
    def chunks():
        for _ in range(LIMIT // 4096 + 2):
            yield b"1" * 4096

    r = http.post("/invocations", content=chunks(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 413


# ---- fuzz: never a 5xx, never a crash -------------------------------------------------------------------
def test_fuzzed_requests_never_get_a_5xx_and_the_server_stays_healthy(http: httpx.Client,
                                                                      endpoint: EndpointHandle) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=fuzz_payloads.bodies(ROW, [1, 2, 3, 0, 4, "basic"], LIMIT),
           path=st.sampled_from(["/invocations", f"/endpoints/{NAME}/invocations"]),
           content_type=st.sampled_from(fuzz_payloads.CONTENT_TYPES), accept=st.sampled_from(fuzz_payloads.ACCEPTS))
    def fuzz(body: bytes, path: str, content_type: str, accept: str | None) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        if accept is not None:
            headers["Accept"] = accept
        r = http.post(path, content=body, headers=headers)
        assert 200 <= r.status_code < 500, (r.status_code, r.text[:300])
        if r.status_code == 424:  # the runtime's ModelError: the handler's own status must be a 4xx too
            assert 400 <= r.json()["OriginalStatusCode"] < 500, r.text[:300]

    fuzz()
    assert http.get("/ping").status_code == 200
    assert http.post("/invocations", content=ROW, headers={"Content-Type": "text/csv"}).status_code == 200
    assert endpoint_status(endpoint).state == "running"


def _process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


# ---- data capture, flushed on shutdown -------------------------------------------------------------------
CAPTURE_FILE = re.compile(r"^capture-test/AllTraffic/(\d{4})/(\d{2})/(\d{2})/(\d{2})/\d{2}-\d{2}-\d{3}-[0-9a-f]{32}\.jsonl$")


def test_data_capture_samples_the_configured_fraction_in_sagemakers_layout(model_dir: Path, tmp_path: Path,
                                                                          booster) -> None:
    capture_root = tmp_path / "capture"
    # a flush interval longer than the test: every line below was written by the shutdown flush
    handle = start_endpoint(model_dir, "capture-test", run_dir=tmp_path / "run",
                            capture=CaptureConfig(capture_root, sampling_percentage=25, flush_interval_s=600))
    rt = handle.runtime_client()
    http_client = httpx.Client(timeout=30)
    X = synthetic_features(40, seed=21)
    sent = []
    try:
        for i in range(40):
            body = csv_body(X[i:i + 1])
            if i % 2:
                out = rt.invoke_endpoint(EndpointName="capture-test", ContentType="text/csv", Accept="text/csv",
                                         Body=body, InferenceId=f"req-{i}")["Body"].read()
            else:
                out = http_client.post(handle.invocations_url, content=body,
                                       headers={"Content-Type": "text/csv", "Accept": "text/csv"}).content
            sent.append((body, out))
            if i % 4 == 1:
                with pytest.raises(ClientError):  # failures are not captured and not counted
                    rt.invoke_endpoint(EndpointName="capture-test", ContentType="text/csv", Body=b"1,2")
        assert not list(capture_root.rglob("*.jsonl"))  # still buffered: the request path never writes
    finally:
        http_client.close()
        assert stop_endpoint(handle) is True
    # stopped: process gone, pid file removed, port closed; stopping again is a no-op
    assert _process_gone(handle.pid) and not handle.pid_file.exists()
    assert endpoint_status(handle).state == "stopped" and stop_endpoint(handle) is False
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{handle.url}/ping")
    files = sorted(capture_root.rglob("*.jsonl"))
    assert len(files) == 1
    rel = files[0].relative_to(capture_root).as_posix()
    assert CAPTURE_FILE.match(rel), rel
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert len(lines) == 10  # 25 % of 40, deterministic: the 4th, 8th, ... successful invocation
    for k, line in enumerate(lines):
        body, out = sent[4 * k + 3]
        assert line["captureData"]["endpointInput"] == {"observedContentType": "text/csv", "mode": "INPUT",
                                                        "data": body.decode(), "encoding": "CSV"}
        assert line["captureData"]["endpointOutput"] == {"observedContentType": "text/csv", "mode": "OUTPUT",
                                                         "data": out.decode(), "encoding": "CSV"}
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", line["eventMetadata"]["inferenceTime"])
        assert re.fullmatch(r"[0-9a-f-]{36}", line["eventMetadata"]["eventId"])
        assert line["eventMetadata"]["inferenceId"] == f"req-{4 * k + 3}"
        assert line["eventVersion"] == "0"
        y, mo, d, h = CAPTURE_FILE.match(rel).groups()  # type: ignore[union-attr]
        assert line["eventMetadata"]["inferenceTime"].startswith(f"{y}-{mo}-{d}T{h}")
        np.testing.assert_array_equal(scores(out, "text/csv"), booster.inplace_predict(X[4 * k + 3:4 * k + 4]))


# ---- process management ---------------------------------------------------------------------------------
def start_should_fail(*args, match: str, **kwargs) -> None:
    """start_endpoint must raise EndpointError matching ``match``; a server it started anyway is stopped."""
    try:
        handle = start_endpoint(*args, **kwargs)
    except EndpointError as exc:
        assert re.search(match, str(exc)), str(exc)
        return
    stop_endpoint(handle)
    pytest.fail(f"start_endpoint{args} should have failed with {match!r}")


def test_start_ping_stop_cleans_the_pid_file(endpoint: EndpointHandle, run_dir: Path) -> None:
    assert endpoint.pid_file == run_dir / f"{NAME}.AllTraffic.pid"
    assert json.loads(endpoint.pid_file.read_text())["port"] == endpoint.port
    assert httpx.get(f"{endpoint.url}/ping").status_code == 200
    assert endpoint_status(NAME, run_dir=run_dir).state == "running"
    assert EndpointHandle.from_pid_file(endpoint.pid_file) == endpoint


def test_second_start_on_a_busy_port_fails_clearly(endpoint: EndpointHandle, model_dir: Path,
                                                   tmp_path: Path) -> None:
    start_should_fail(model_dir, "other", port=endpoint.port, run_dir=tmp_path,
                      match=f"port {endpoint.port} on 127.0.0.1 is already in use")
    assert not list(tmp_path.glob("*.pid"))


def test_port_taken_between_check_and_bind_fails_with_the_log(endpoint: EndpointHandle, model_dir: Path,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mlpipe.local.endpoint.port_free", lambda host, port: True)
    start_should_fail(model_dir, "other", port=endpoint.port, run_dir=tmp_path,
                      match=r"(?s)exited with code \d+ while starting.*address already in use")
    assert not list(tmp_path.glob("*.pid"))


def test_starting_a_running_endpoint_again_fails(endpoint: EndpointHandle, model_dir: Path, run_dir: Path) -> None:
    start_should_fail(model_dir, NAME, run_dir=run_dir, match=f"already runs as pid {endpoint.pid}")


def test_a_broken_model_directory_fails_with_the_reason(tmp_path: Path, model_dir: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_bytes((model_dir / "model.json").read_bytes())
    start_should_fail(broken, "broken", run_dir=tmp_path / "run",
                      match=r"(?s)exited with code.*feature_schema\.json is missing")
    start_should_fail(model_dir, "bad_name", run_dir=tmp_path / "run", match="not a valid SageMaker name")


def test_cli_serve_status_stop(model_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CODE_ROOT / "plugins"), str(CODE_ROOT / "include")])}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mlpipe.local.endpoint", *args, "--run-dir", str(tmp_path)],
                              capture_output=True, text=True, env=env, timeout=120)

    served = cli("serve", "--model-dir", str(model_dir), "--name", "cli-test", "--workers", "2")
    assert served.returncode == 0, served.stderr
    handle = json.loads(served.stdout)
    assert handle["workers"] == 2
    try:
        assert httpx.post(f"{handle['url']}/endpoints/cli-test/invocations", content=ROW,
                          headers={"Content-Type": "text/csv"}).status_code == 200
        status = cli("status", "--name", "cli-test")
        assert status.returncode == 0 and json.loads(status.stdout)[0]["state"] == "running"
        again = cli("serve", "--model-dir", str(model_dir), "--name", "cli-test")
        assert again.returncode == 2 and "already runs" in again.stderr
    finally:
        stopped = cli("stop", "--name", "cli-test")
    assert stopped.returncode == 0 and stopped.stdout.startswith("stopped")
    assert not Path(handle["pid_file"]).exists()
    assert _process_gone(handle["pid"]) and group_members(handle["pid"]) == []  # its workers too
    status = cli("status")
    assert status.returncode == 0 and json.loads(status.stdout) == []


def test_a_model_dir_with_code_is_served_by_its_own_handler(model_dir: Path, tmp_path: Path) -> None:
    """A model directory the training job wrote carries the handler in code/ (model.tar.gz's content, what the
    SageMaker endpoint runs); the local endpoint serves that copy, not include/serving."""
    import shutil

    from training.model_code import write_model_code

    own = tmp_path / "model"
    shutil.copytree(model_dir, own)
    write_model_code(str(own))
    with (own / "code" / "serving" / "request_parsing.py").open("a") as fh:
        fh.write("\n\ndef parse_json(body):\n    raise MalformedPayloadError('the handler in the model dir')\n")
    handle = start_endpoint(own, "own-code", run_dir=tmp_path / "run")
    try:
        with httpx.Client(base_url=handle.url, timeout=30) as http:
            r = http.post("/invocations", content=b"[1, 2, 3, 0, 4, \"basic\"]",
                          headers={"Content-Type": "application/json"})
            assert r.status_code == 400 and r.json()["message"] == "the handler in the model dir"
            assert http.post("/invocations", content=ROW, headers={"Content-Type": "text/csv"}).status_code == 200
    finally:
        stop_endpoint(handle)
