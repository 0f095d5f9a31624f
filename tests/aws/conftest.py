"""tests/aws on sys.path (the request tests import botocore_shapes and provider_requests from here), and the
fixtures for the aws-stack DAG runs against an in-process moto server (see tests/aws/moto_harness.py).

- ``moto_server`` (session): the recording server on 127.0.0.1 and a free port, plus the migrated Airflow DB.
- ``aws_stack`` (function): moto emptied, the environment of a run (PIPELINE_ENV=aws-dev, the connection
  pointing at the server, 1 s waits, no retries), aws-dev.yaml's resources seeded; yields a :class:`Stack`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.aws import moto_harness as h  # noqa: E402


@pytest.fixture(scope="session")
def moto_server() -> Iterator[h.RecordingMotoServer]:
    h.migrate_airflow_db()
    server = h.RecordingMotoServer().start()
    yield server
    server.stop()


@dataclass
class Stack:
    server: h.RecordingMotoServer
    cfg: Any
    overrides: dict[str, str]

    def client(self, service: str) -> Any:
        return h.client(self.server, service)

    def run(self, dag_id: str, ds: str = h.DS, scenario: h.Scenario | None = None) -> h.RunResult:
        return h.run_dag(self.server, dag_id, ds, scenario)

    def approve(self, model_uri: str | None = None) -> str:
        return h.register_approved(self.server, self.cfg, model_uri)


@pytest.fixture
def aws_stack(moto_server: h.RecordingMotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    from mlpipe.config import load_config

    moto_server.reset()
    for key, value in h.base_env(moto_server).items():
        monkeypatch.setenv(key, value)
    overrides = h.seed(moto_server, load_config())
    for key, value in overrides.items():
        monkeypatch.setenv(key, value)
    moto_server.calls.clear()
    yield Stack(moto_server, load_config(), overrides)
