"""The command line behind make serve / make stop: status of the live file, stop, and serve's error without an
Approved version (a real endpoint is served in tests/integration/test_deployment_local.py)."""

from __future__ import annotations

import json

from mlpipe.local.serve import main
from mlpipe.services.local_endpoints import live_file, write_live


def _env(monkeypatch, tmp_path):
    monkeypatch.setenv("PIPELINE_ENV", "local")
    monkeypatch.setenv("MLPIPE__LAKE__ROOT", f"file://{tmp_path / 'lake'}")
    monkeypatch.setenv("MLPIPE__DEPLOYMENT__LOCAL__RUN_DIR", str(tmp_path / "run"))


def test_status_prints_the_live_file_and_stop_removes_it(monkeypatch, tmp_path, capsys):
    from mlpipe.config import load_config

    _env(monkeypatch, tmp_path)
    name = load_config().deployment.endpoint_name
    assert main(["status"]) == 0 and json.loads(capsys.readouterr().out) is None
    write_live(tmp_path / "run", name, {"version": 4, "url": "http://127.0.0.1:1"})
    assert main(["status"]) == 0 and json.loads(capsys.readouterr().out)["version"] == 4
    assert main(["stop"]) == 0 and capsys.readouterr().out.strip() == f"stopped 0 process(es) of {name}"
    assert not live_file(tmp_path / "run", name).exists()


def test_serve_without_an_approved_version_says_so(monkeypatch, tmp_path, capsys):
    _env(monkeypatch, tmp_path)
    assert main(["serve"]) == 1
    assert "has no Approved version" in capsys.readouterr().err
