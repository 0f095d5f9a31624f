"""The fuzz's request bodies and headers, shared by the local endpoint's fuzz (tests/unit/local/test_endpoint.py)
and the SageMaker container's (tests/runtimes/test_sagemaker_container.py), so both stacks get the same
malformed payloads: random bytes, CSV of odd tokens, arbitrary JSON, deeply nested JSON, bodies near and over
the payload limit."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

CONTENT_TYPES = ["text/csv", "application/json", "text/csv; charset=utf-8", "application/xml", "",
                 "multipart/form-data; boundary=x", "application/octet-stream"]
ACCEPTS = [None, "*/*", "text/csv", "application/json", "image/png", ";;;"]

_token = st.one_of(st.floats().map(repr), st.integers().map(str), st.text(max_size=5),
                   st.sampled_from(["", "nan", "inf", "true", "1e39", '"', "\x00", "1,2"]))
_scalar = st.one_of(st.none(), st.booleans(), st.floats(), st.integers(min_value=-(10**400), max_value=10**400),
                    st.text(max_size=4))
_value = st.recursive(_scalar, lambda k: st.one_of(st.lists(k, max_size=6), st.dictionaries(st.text(max_size=6), k,
                                                                                            max_size=6)), max_leaves=25)


def bodies(row: bytes, json_row: list[Any], limit: int) -> st.SearchStrategy[bytes]:
    """Request bodies for a model whose valid CSV row is ``row`` (``json_row`` as JSON) and whose payload limit
    is ``limit`` bytes."""
    width = len(json_row)
    csv = st.lists(st.lists(_token, max_size=width + 1), max_size=5).map(
        lambda rs: "\n".join(",".join(r) for r in rs).encode())
    js = st.one_of(_value, st.fixed_dictionaries({"instances": _value}),
                   st.lists(st.lists(_scalar, min_size=width, max_size=width), min_size=1, max_size=4)).map(
        lambda v: json.dumps(v).encode())
    deep = st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * (n % 3 == 0) * n)
    huge = st.integers(limit // 8, limit // 4).flatmap(
        lambda n: st.sampled_from([(row + b"\n") * (n // (len(row) + 1) + 1),
                                   json.dumps({"instances": [json_row] * (n // 10)}).encode(),
                                   b"9" * (limit + n)]))
    return st.one_of(st.binary(max_size=300), csv, js, deep, huge)
