"""python -m mlpipe.sample: generate, rerun, defects, overrides, reset, deliver-late."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlpipe.sample.__main__ import main
from mlpipe.sample.targets import standalone_config
from sample_helpers import SMALL

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """PIPELINE_ENV=clitest with its YAML in a temporary config dir; returns the data root."""
    cfg = standalone_config(tmp_path / "data", **SMALL).model_dump(mode="json", exclude={"environment"})
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "clitest.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("MLPIPE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("PIPELINE_ENV", "clitest")
    for key in [k for k in os.environ if k.startswith("MLPIPE__")]:
        monkeypatch.delenv(key)
    return tmp_path / "data"


def test_generate_rerun_and_reset(env, capsys):
    assert main(["generate", "--start", "2026-11-01", "--end", "2026-11-02", "--defects",
                 "2026-11-02=late_drop,nulls", "--events", "6000", "-q"]) == 0
    out = capsys.readouterr().out
    assert "generated dates 2026-11-01..2026-11-02 (+20 history days)" in out
    assert "_late/accounts_20261102.csv" in out and "defects on 2026-11-02: late_drop, nulls" in out
    assert (env / "sources" / "share" / "clickstream" / "2026" / "11" / "02" / "events-0000.jsonl").is_file()

    assert main(["generate", "--start", "2026-11-01", "--end", "2026-11-02", "--events", "6000", "-q"]) == 0
    assert "already generated" in capsys.readouterr().out

    assert main(["deliver-late", "--ds", "2026-11-02"]) == 0
    assert (env / "sources" / "landing" / "partner" / "accounts_20261102.csv").is_file()

    assert main(["generate", "--start", "2026-11-03", "-q"]) == 2  # events override differs from the state
    assert "sample settings changed" in capsys.readouterr().err

    assert main(["reset"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not (env / "sources" / "oltp.db").exists() and not (env / "sources" / "_generator_state").exists()
    assert main(["generate", "--start", "2026-11-03", "-q"]) == 0


def test_bad_arguments_exit_2_with_a_message(env, capsys):
    assert main(["generate", "--start", "2026-11-01", "--defects", "2026-11-01=nulls,oops"]) == 2
    err = capsys.readouterr().err
    assert "oops" in err and "allowed: duplicate_keys, late_drop, malformed, missing_drop, nulls" in err
    assert main(["generate", "--start", "2026-11-02", "--end", "2026-11-01"]) == 2
    assert "before --start" in capsys.readouterr().err
    assert main(["generate", "--start", "2026-11-01", "--customers", "3"]) == 2
    assert "--customers" in capsys.readouterr().err


def test_module_runs_as_a_script(env):
    proc = subprocess.run([sys.executable, "-m", "mlpipe.sample", "generate", "--start", "2026-11-01"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "plugins")},
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "generated dates 2026-11-01..2026-11-01" in proc.stdout and "generated 2026-11-01:" in proc.stderr
