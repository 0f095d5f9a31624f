"""The endpoint smoke test: rows per request, the prediction check, and requests through a runtime client."""

from __future__ import annotations

import io
import json

import pytest
from botocore.exceptions import ClientError
from mlpipe.config import load_config
from mlpipe.services.endpoint_smoke_test import (
    SmokeTestError,
    check_predictions,
    configured_requests,
    request_rows,
    run_smoke_test,
)


def test_check_predictions():
    ok = json.dumps({"predictions": [{"score": 0.2}, {"score": 0.9}]}).encode()
    assert check_predictions(ok, 2) == [0.2, 0.9]
    with pytest.raises(SmokeTestError, match="2 rows sent but 1"):
        check_predictions(json.dumps({"predictions": [{"score": 0.2}]}).encode(), 2)
    with pytest.raises(SmokeTestError, match="invalid scores"):
        check_predictions(json.dumps({"predictions": [{"score": 1.5}]}).encode(), 1)
    with pytest.raises(SmokeTestError, match="not"):
        check_predictions(b"oops", 1)


def test_request_rows():
    assert request_rows("text/csv", "1,2\n3,4\n") == 2
    assert request_rows("application/json", '{"instances": [[1], [2], [3]]}') == 3
    assert request_rows("application/json", '{"a": 1}') == 1


def test_configured_requests_count_their_rows():
    st = load_config("local").deployment.smoke_test
    got = configured_requests(st)
    assert [(ct, body.decode()) for ct, body, _ in got] == [(r.content_type, r.body) for r in st.requests]
    assert [rows for *_, rows in got] == [request_rows(r.content_type, r.body) for r in st.requests]


class Runtime:
    """A sagemaker-runtime client's invoke_endpoint answering ``answers`` in turn (a ClientError instance raises)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def invoke_endpoint(self, **kwargs):
        self.sent.append(kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {"Body": io.BytesIO(answer)}


def test_run_smoke_test_sends_every_request_and_names_the_failing_one():
    ok = json.dumps({"predictions": [{"score": 0.5}]}).encode()
    client = Runtime(ok, ok)
    assert run_smoke_test(client, "ep", [("text/csv", b"1,2", 1), ("application/json", b"[[1, 2]]", 1)]) == [0.5, 0.5]
    assert [(c["EndpointName"], c["ContentType"], c["Accept"]) for c in client.sent] == [
        ("ep", "text/csv", "application/json"), ("ep", "application/json", "application/json")]
    with pytest.raises(SmokeTestError, match=r"smoke request 1 \(text/csv\) to ep: 2 rows sent but 1"):
        run_smoke_test(Runtime(ok, ok), "ep", [("text/csv", b"1", 1), ("text/csv", b"1\n2", 2)])
    error = ClientError({"Error": {"Code": "ModelError", "Message": "boom"}}, "InvokeEndpoint")
    with pytest.raises(SmokeTestError, match=r"smoke request 0 \(text/csv, 1 rows\) to ep failed: .*boom"):
        run_smoke_test(Runtime(error), "ep", [("text/csv", b"1", 1)])
