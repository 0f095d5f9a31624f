"""serving.content_types: the response type an Accept header gets."""

from __future__ import annotations

import pytest
from serving.content_types import choose_accept
from serving.errors import UnsupportedAcceptError


@pytest.mark.parametrize(("accept", "expected"), [
    (None, "application/json"), ("*/*", "application/json"), ("text/csv", "text/csv"),
    ("image/png, text/csv;q=0.5", "text/csv"), ("application/json; charset=utf-8", "application/json"),
])
def test_accept_negotiation(accept: str | None, expected: str) -> None:
    assert choose_accept(accept) == expected


def test_an_unsupported_accept_is_406() -> None:
    with pytest.raises(UnsupportedAcceptError) as info:
        choose_accept("image/png")
    assert info.value.status_code == 406 and "'image/png'" in info.value.message
