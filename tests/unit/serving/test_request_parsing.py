"""serving.request_parsing: request bodies a client gets wrong, each refused with its status and what to fix;
the payload limit; JSON nesting decided before parsing."""

from __future__ import annotations

import pytest
from serving.errors import (
    EmptyBodyError,
    InferenceError,
    MalformedPayloadError,
    PayloadTooLargeError,
    UnsupportedContentTypeError,
)
from serving.request_parsing import json_too_deep, parse_json, parse_request

ROW = b"1,2,3,0,4,basic"  # a valid row of the test model

CASES = [
    (b"", "text/csv", EmptyBodyError, 400, "the request body is empty"),
    (b"  \n\n", "text/csv", EmptyBodyError, 400, "empty"),
    (ROW + b"\n1,2,3,0\n", "text/csv", MalformedPayloadError, 400, "ragged CSV: line 1 has 6 values but line 2 has 4"),
    (b"\xff\xfe1,2", "text/csv", MalformedPayloadError, 400, "not valid UTF-8"),
    (b"1,2\x00,3,0,4,basic", "text/csv", MalformedPayloadError, 400, "NUL"),
    (b'{"instances": []}', "application/json", EmptyBodyError, 400, "'instances' is empty"),
    (b'{"instances": 5}', "application/json", MalformedPayloadError, 400, "'instances' must be a list"),
    (b'{"instances": [[1,2,3,0,4,"basic"]], "x": 1}', "application/json", MalformedPayloadError, 400, "unexpected keys ['x']"),
    (b'{"instances": [[1,2,3,0,4,"basic"], {"a": 1}]}', "application/json", MalformedPayloadError, 400, "instance 1 is dict"),
    (b'[1,2,3,0,Infinity,"basic"]', "application/json", MalformedPayloadError, 400, "JSON contains Infinity"),
    (b'{"instances": [[1,2,3,0,4]', "application/json", MalformedPayloadError, 400, "malformed JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", MalformedPayloadError, 400, "nested too deeply"),
    (b'"just a string"', "application/json", MalformedPayloadError, 400, "must be an object or a list"),
    (ROW, "application/xml", UnsupportedContentTypeError, 415, "'application/xml' is not supported"),
    (ROW, None, UnsupportedContentTypeError, 415, "no content type given"),
]


@pytest.mark.parametrize(("body", "ct", "error", "status", "message"), CASES,
                         ids=[f"{c[2].__name__}-{i}" for i, c in enumerate(CASES)])
def test_client_errors_say_what_is_wrong(body: bytes, ct: str | None, error: type[InferenceError], status: int,
                                         message: str) -> None:
    with pytest.raises(error) as info:
        parse_request(body, ct)
    assert info.value.status_code == status
    assert message in info.value.message


def test_oversized_payload_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PayloadTooLargeError) as info:
        parse_request((ROW + b"\n") * 20, "text/csv", max_bytes=100)
    assert info.value.status_code == 413 and "the limit is 100 bytes" in info.value.message
    monkeypatch.setenv("SAGEMAKER_MAX_REQUEST_SIZE", "50")
    with pytest.raises(PayloadTooLargeError):
        parse_request((ROW + b"\n") * 20, "text/csv")
    monkeypatch.delenv("SAGEMAKER_MAX_REQUEST_SIZE")
    assert parse_request((ROW + b"\n") * 20, "text/csv").n_rows == 20


@pytest.mark.parametrize(("body", "deep"), [
    (b"[" * 64, False), (b"[" * 65, True), (b"[1," * 65, True), (b'{"a": ' * 65, True),
    (b'["' + b"[" * 100 + b'"]', False),                      # brackets inside a string do not nest
    (b'["\\"' + b"[" * 100 + b'"]', False),                   # nor after an escaped quote
    (b'["\\\\"' + b"[" * 100, True),                          # an escaped backslash ends the string
    (b'{"instances": [' + b"[1, 2]," * 1000 + b"[3, 4]]}", False),
])
def test_json_depth_is_decided_before_parsing(body, deep) -> None:
    """The nesting limit is checked before json.loads, whose own limit depends on the caller's stack: in the
    SageMaker container's gevent worker a body 865 levels deep hit it, on the local endpoint it did not, so the
    two answered the same body with different messages."""
    assert json_too_deep(body) is deep
    assert json_too_deep(body.decode("utf-8")) is deep
    if deep:
        with pytest.raises(MalformedPayloadError, match="nested too deeply"):
            parse_json(body)
