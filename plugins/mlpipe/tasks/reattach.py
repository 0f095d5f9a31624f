"""Retry-safe SageMaker jobs: which attempt of a deterministically named job a task (or an operator) uses.

A job's first name is ``mlpipe.naming.job_name`` (dag id, date, config hash); a retry derives the same name and
describes it: InProgress/Stopping -> wait for that job (no second one); Completed -> reuse it; Failed/Stopped ->
the next attempt (``-r2``, ``-r3``...), described in turn; unknown -> start it. So a retried task never starts a
second concurrent job and never fails on "already exists".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mlpipe.naming import next_attempt

log = logging.getLogger(__name__)

ACTIVE = ("InProgress", "Stopping")
StatusOf = Callable[[str], "str | None"]


def decide_attempt(name: str, status_of: StatusOf | None, kind: str = "job") -> tuple[str, str]:
    """``(action, name)``: ``start`` a new job, ``wait`` for a running one or ``reuse`` a completed one, given
    ``status_of(name)`` (None: SageMaker has no such job)."""
    while status_of is not None:
        status = status_of(name)
        if status is None:
            break
        if status in ACTIVE:
            return "wait", name
        if status == "Completed":
            return "reuse", name
        log.warning("%s %s is %s: starting the next attempt", kind, name, status)
        name = next_attempt(name)
    return "start", name


def not_found(err: Any) -> bool:
    """A ClientError meaning "no such resource" (SageMaker answers ValidationException for most)."""
    msg = str(err).lower()
    code = getattr(err, "response", {}).get("Error", {}).get("Code")
    return code in ("ResourceNotFound", "ValidationException") and (
        "not found" in msg or "could not find" in msg or "does not exist" in msg)


def status_reader(describe: Callable[[str], dict[str, Any]], status_key: str) -> StatusOf:
    """``name -> status`` from a describe call (``hook.describe_transform_job``...), None when it does not exist."""
    from botocore.exceptions import ClientError

    def status_of(name: str) -> str | None:
        try:
            return describe(name)[status_key]
        except ClientError as err:
            if not_found(err):
                return None
            raise
    return status_of
