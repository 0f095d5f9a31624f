"""Request bodies parsed into a ``Payload`` (``input_fn``'s work), each mistake an ``InferenceError``.

* CSV: one row per line, no header, values in schema order; an empty field is a missing value.
* JSON: ``{"instances": [[v, ...], ...]}`` (rows in schema order), ``{"instances": [{"name": v, ...}]}``
  (records by feature name), a single record ``{"name": v, ...}``, a bare list of rows ``[[...], ...]``
  or one bare row ``[v, ...]``; SageMaker's built-in format ``{"instances": [{"features": [v, ...]}]}``
  too. ``null`` (or ``NaN``) is missing.

A body over the payload limit (SageMaker's 6 MB, or $SAGEMAKER_MAX_REQUEST_SIZE) is 413, an unsupported content
type 415, an empty or malformed body 400. Bodies arrive as bytes, or as text decoded the way the SageMaker
container decodes them (a U+FFFD in the text is refused as bytes that were not UTF-8). JSON nesting is limited
before parsing (``json_too_deep``), so every server gives the same answer.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re

import numpy as np

from serving.content_types import CSV, JSON, SUPPORTED_CONTENT_TYPES, media_type
from serving.errors import (
    EmptyBodyError,
    InferenceError,
    MalformedPayloadError,
    PayloadTooLargeError,
    UnsupportedContentTypeError,
)
from serving.messages import clip
from serving.payload import Payload

# SageMaker's InvokeEndpoint payload limit (6 MB); the XGBoost container reads SAGEMAKER_MAX_REQUEST_SIZE.
DEFAULT_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
ENV_MAX_PAYLOAD = "SAGEMAKER_MAX_REQUEST_SIZE"
# The SageMaker container (sagemaker_containers' Request.content) hands a text/csv or application/json body over
# decoded as UTF-8 with each undecodable byte replaced by U+FFFD; a text body holding it is refused.
REPLACEMENT_CHARACTER = "\ufffd"
# Deepest JSON nesting accepted (a request needs 3: {"instances": [[...]]}); checked before parsing.
MAX_JSON_DEPTH = 64


def max_payload_bytes() -> int:
    raw = os.environ.get(ENV_MAX_PAYLOAD)
    return int(raw) if raw and raw.isdigit() else DEFAULT_MAX_PAYLOAD_BYTES


def parse_csv(body: bytes | str) -> Payload:
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPayloadError(f"the CSV body is not valid UTF-8 (byte {exc.start})") from None
    else:
        text = body
        if REPLACEMENT_CHARACTER in text:
            raise _replaced("CSV")
    if "\x00" in text:
        raise MalformedPayloadError("the CSV body contains a NUL byte")
    if '"' in text:
        try:
            raw_rows = list(csv.reader(text.splitlines()))
        except csv.Error as exc:
            raise MalformedPayloadError(f"malformed CSV: {exc}") from None
    else:
        raw_rows = [line.split(",") for line in text.splitlines()]
    rows: list[list[str]] = []
    lines: list[int] = []
    for n, row in enumerate(raw_rows, start=1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        rows.append(row)
        lines.append(n)
    if not rows:
        raise EmptyBodyError("the CSV body has no rows; send one row per line, values in the model's feature order")
    width = len(rows[0])
    for row, n in zip(rows, lines):  # noqa: B905 - py3.8
        if len(row) != width:
            raise MalformedPayloadError(f"ragged CSV: line {lines[0]} has {width} values but line {n} has {len(row)}")
    return Payload(rows=rows, tokens=True, source="csv", batch=len(rows) > 1, line_numbers=lines)


def _reject_constant(name: str) -> float:
    if name == "NaN":
        return math.nan
    raise MalformedPayloadError(f"JSON contains {name}; send a finite number (or null for a missing value)")


def _replaced(kind: str) -> MalformedPayloadError:
    return MalformedPayloadError(f"the {kind} body is not valid UTF-8: it holds U+FFFD, the character the SageMaker "
                                 f"container puts in place of bytes that do not decode; send UTF-8")


_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_BRACKET_STEP = np.zeros(256, np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


def json_too_deep(body: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets nest more than ``limit`` levels outside strings, decided before parsing: the depth at
    which ``json.loads`` gives up depends on the caller's stack (a gunicorn/gevent worker's is deeper), so
    without this the same body could be "malformed" on one server and "nested too deeply" on another."""
    raw = body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else bytes(body)
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if b"\\" in raw:  # escaped quotes: walk the strings and brackets
        depth = 0
        for m in _JSON_TOKEN.finditer(raw):
            token = m.group()
            if token in (b"[", b"{"):
                depth += 1
                if depth > limit:
                    return True
            elif token in (b"]", b"}"):
                depth -= 1
        return False
    a = np.frombuffer(raw, dtype=np.uint8)
    step = _BRACKET_STEP[a]
    if int(np.cumsum(step, dtype=np.int32).max()) <= limit:   # brackets in strings counted too: a bound
        return False
    quotes = np.flatnonzero(a == 34)
    if len(quotes):  # no step between a string's quotes (quotes[0]..quotes[1], quotes[2]..quotes[3], ...)
        inside = np.zeros(len(a) + 1, np.int8)
        inside[quotes[0::2]] += 1
        inside[quotes[1::2]] -= 1
        step = np.where(np.cumsum(inside[:-1], dtype=np.int8) > 0, 0, step)
    return bool(np.cumsum(step, dtype=np.int32).max() > limit)


def parse_json(body: bytes | str) -> Payload:
    if isinstance(body, str) and REPLACEMENT_CHARACTER in body:
        raise _replaced("JSON")
    too_deep = f"the JSON body is nested too deeply (more than {MAX_JSON_DEPTH} levels)"
    if json_too_deep(body):
        raise MalformedPayloadError(too_deep)
    try:
        doc = json.loads(body, parse_constant=_reject_constant)
    except InferenceError:
        raise
    except RecursionError:
        raise MalformedPayloadError(too_deep) from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise MalformedPayloadError(f"malformed JSON: {clip(str(exc), 160)}") from None
    single = False
    if isinstance(doc, dict):
        if "instances" in doc:
            extra = sorted(k for k in doc if k != "instances")
            if extra:
                raise MalformedPayloadError(f"unexpected keys {extra} next to 'instances'")
            items = doc["instances"]
            if not isinstance(items, list):
                raise MalformedPayloadError(f"'instances' must be a list of rows or of objects, got "
                                            f"{type(items).__name__}")
        else:
            items, single = [doc], True
    elif isinstance(doc, list):
        if doc and not isinstance(doc[0], (list, dict)):
            items, single = [doc], True  # one bare row
        else:
            items = doc
    else:
        raise MalformedPayloadError('the JSON body must be an object or a list: {"instances": [[...], ...]}, '
                                    '{"instances": [{"feature": value, ...}]} or {"feature": value, ...}')
    if not items:
        raise EmptyBodyError("'instances' is empty; send at least one row")
    first = items[0]
    if isinstance(first, dict) and set(first) == {"features"} and isinstance(first["features"], list):
        rows = []  # SageMaker's built-in format: {"instances": [{"features": [...]}]}
        for i, it in enumerate(items):
            if not (isinstance(it, dict) and set(it) == {"features"} and isinstance(it["features"], list)):
                raise MalformedPayloadError(f"instance {i}: expected {{'features': [...]}} like instance 0")
            rows.append(it["features"])
        return Payload(rows=rows, source="json", batch=not single)
    if isinstance(first, dict):
        for i, it in enumerate(items):
            if not isinstance(it, dict):
                raise MalformedPayloadError(f"instance {i} is a {type(it).__name__}; instance 0 is an object, "
                                            f"so every instance must be an object")
        return Payload(records=items, source="json", batch=not single)
    for i, it in enumerate(items):
        if not isinstance(it, list):
            raise MalformedPayloadError(f"instance {i} is {type(it).__name__}; send rows as lists "
                                        f"([[v1, v2, ...], ...]) or objects ([{{'feature': v, ...}}])")
    return Payload(rows=items, source="json", batch=not single)


def payload_too_large(size: int, limit: int) -> PayloadTooLargeError:
    """The error for a body of ``size`` bytes over ``limit`` (the local endpoint's early 413 says the same)."""
    return PayloadTooLargeError(f"the payload is {size} bytes; the limit is {limit} bytes ({limit / 1048576:g} MiB); "
                                f"split it into smaller requests or use batch transform")


def parse_request(body: bytes | str | None, content_type: str | None,
                  max_bytes: int | None = None) -> Payload:
    """``input_fn`` with an explicit payload limit (default: $SAGEMAKER_MAX_REQUEST_SIZE or 6 MiB)."""
    if isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    elif body is None:
        body = b""
    size = len(body) if not isinstance(body, str) else len(body.encode("utf-8"))
    limit = max_payload_bytes() if max_bytes is None else max_bytes
    if size > limit:
        raise payload_too_large(size, limit)
    ct = media_type(content_type)
    if ct not in SUPPORTED_CONTENT_TYPES:
        raise UnsupportedContentTypeError(
            f"content type {content_type!r} is not supported; use {CSV!r} or {JSON!r}"
            if content_type else f"no content type given; set Content-Type to {CSV!r} or {JSON!r}")
    if size == 0 or not body.strip():
        raise EmptyBodyError(f"the request body is empty; send {'CSV rows' if ct == CSV else 'JSON instances'}")
    return parse_csv(body) if ct == CSV else parse_json(body)
