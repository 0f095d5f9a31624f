"""Deterministic names for AWS jobs: from dag id, logical date and a config hash, within each API's limits.

A retried task derives the same name, so it finds and reattaches to its own job instead of starting a
second one or failing on "already exists"; a new attempt after a failed job gets a suffix (``-r2``...).
SageMaker names match ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``; a tuning job name is at most 32 characters,
training, model, endpoint-config and endpoint names at most 63.
"""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = {
    "tuning_job": 32,
    "training_job": 63,
    "transform_job": 63,
    "model": 63,
    "endpoint_config": 63,
    "endpoint": 63,
    "emr_cluster": 256,
    "client_token": 64,
}
_INVALID = re.compile(r"[^a-zA-Z0-9-]+")
_VALID = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


def job_name(kind: str, dag_id: str, ds: str, config_hash: str, attempt: int = 1) -> str:
    """``<dag>-<yyyymmdd>-<hash>[-r<attempt>]``, the dag part shortened to fit ``kind``'s limit.

    The date and the hash are never cut, so two dates or two configs never share a name.
    """
    if kind not in MAX_LENGTH:
        raise ValueError(f"unknown job kind {kind!r}; one of {sorted(MAX_LENGTH)}")
    if not re.fullmatch(r"[0-9a-f]{6,16}", config_hash):
        raise ValueError(f"config_hash must be 6-16 lower-case hex digits, got {config_hash!r}")
    suffix = f"-{ds.replace('-', '')}-{config_hash}" + (f"-r{attempt}" if attempt > 1 else "")
    room = MAX_LENGTH[kind] - len(suffix)
    stem = _INVALID.sub("-", dag_id).strip("-")
    if len(stem) > room:
        digest = hashlib.sha256(stem.encode()).hexdigest()[:4]
        stem = stem[: max(room - 5, 1)].rstrip("-") + "-" + digest
    name = f"{stem}{suffix}"
    assert len(name) <= MAX_LENGTH[kind] and _VALID.match(name), name
    return name


def next_attempt(name: str) -> str:
    """The name of the next attempt after a failed job: ``x`` -> ``x-r2``, ``x-r2`` -> ``x-r3``."""
    match = re.search(r"-r(\d+)$", name)
    return f"{name[: match.start()]}-r{int(match.group(1)) + 1}" if match else f"{name}-r2"
