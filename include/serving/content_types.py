"""The content types the handler reads and answers with, and the choice of the response's type.

Requests: ``text/csv`` and ``application/json`` (a ``; charset=utf-8`` parameter is fine). Responses: the first
supported type of the ``Accept`` header; ``*/*`` or none gives $SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, else JSON.
"""

from __future__ import annotations

import os

from serving.errors import UnsupportedAcceptError

CSV = "text/csv"
JSON = "application/json"
SUPPORTED_CONTENT_TYPES = (CSV, JSON)
SUPPORTED_ACCEPTS = (JSON, CSV)
# The container's default response type for ``Accept: */*``.
ENV_DEFAULT_ACCEPT = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"


def media_type(content_type: str | None) -> str:
    """'text/csv; charset=utf-8' -> 'text/csv'."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def choose_accept(accept: str | None) -> str:
    """The response type for an Accept header (first supported type; ``*/*`` or none: the default)."""
    default = media_type(os.environ.get(ENV_DEFAULT_ACCEPT)) or JSON
    if not accept:
        return default
    for part in accept.split(","):
        mt = media_type(part)
        if mt in SUPPORTED_ACCEPTS:
            return mt
        if mt in ("*/*", ""):
            return default
        if mt in ("application/*", "text/*"):
            return JSON if mt == "application/*" else CSV
    raise UnsupportedAcceptError(f"cannot answer with {accept!r}; accept {JSON!r} or {CSV!r}")
