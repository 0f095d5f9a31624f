"""Helpers of the features-section tests: local.yaml with one key of its features section changed, loaded."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from mlpipe.config import ConfigError, PipelineConfig, load_config

ROOT = Path(__file__).resolve().parents[3]
LOCAL = yaml.safe_load((ROOT / "include/config/local.yaml").read_text())


def load(tmp_path: Path, doc: dict, name: str = "t", env: dict[str, str] | None = None) -> PipelineConfig:
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_config(name, environ={"MLPIPE_CONFIG_DIR": str(tmp_path), **(env or {})})


def error_of(tmp_path: Path, doc: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, doc)
    return str(info.value)


def changed(path: str, value) -> dict:
    """local.yaml with one key of its features section set (or removed, with KeyError)."""
    doc = copy.deepcopy(LOCAL)
    node = doc["features"]
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key = int(last) if last.isdigit() else last
    if value is KeyError:
        del node[key]
    else:
        node[key] = value
    return doc
