"""The local registry's command line (`make approve VERSION=n`, `make reject VERSION=n`)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlpipe.local.registry import main
from mlpipe.services.local_registry import LocalModelRegistry

ROOT = Path(__file__).resolve().parents[3]
_groups = itertools.count(1)


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> LocalModelRegistry:
    return LocalModelRegistry(tmp_path_factory.mktemp("registry"))


@pytest.fixture
def group() -> str:
    return f"churn-cli-{next(_groups)}"


def register(registry: LocalModelRegistry, group: str, job: str):
    return registry.register(group, model_uri=f"file:///lake/models/{job}/model.tar.gz", tuning_job_name=job,
                             metrics={"validation:auc": 0.8, "test:auc": 0.78})


def test_cli_lists_approves_and_rejects(registry, group, capsys):
    register(registry, group, "cli-1")
    register(registry, group, "cli-2")
    base = ["--group", group, "--registry", str(registry.root)]
    assert main(["approve", "--version", "2", "--reason", "looks good", *base]) == 0
    assert capsys.readouterr().out.strip() == f"{group} version 2: Approved"
    assert registry.get(group, 2).history[-1]["reason"] == "looks good"
    assert main(["reject", "--version", "1", *base]) == 0
    assert capsys.readouterr().out.strip() == f"{group} version 1: Rejected (not deployable)"
    assert main(["list", *base]) == 0
    out = capsys.readouterr().out
    assert "Approved *" in out and "Rejected" in out and "cli-2" in out
    assert main(["approve", "--version", "1", *base]) == 1
    assert "error: cannot change version 1 of" in capsys.readouterr().err
    assert main(["list", "--json", *base]) == 0
    assert [v["status"] for v in json.loads(capsys.readouterr().out)] == ["Rejected", "Approved"]


def test_cli_runs_as_a_module(registry, group):
    """`make approve VERSION=n` runs `python -m mlpipe.local.registry approve --version n`."""
    register(registry, group, "module-run")
    out = subprocess.run([sys.executable, "-m", "mlpipe.local.registry", "approve", "--version", "1", "--group", group,
                          "--registry", str(registry.root)], capture_output=True, text=True, cwd=ROOT,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT / 'include'}:{ROOT}"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{group} version 1: Approved" and registry.get(group, 1).deployable
