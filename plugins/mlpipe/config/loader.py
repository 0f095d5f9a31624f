"""Load include/config/<PIPELINE_ENV>.yaml, apply MLPIPE__* environment overrides, validate.

A bad value raises :class:`mlpipe.errors.ConfigError` naming the file, the key, the value and what is
allowed; DAG files call :func:`load_config` at parse time, so the import fails with that message.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mlpipe import defaults
from mlpipe.config.model import PipelineConfig
from mlpipe.errors import ConfigError
from mlpipe.paths import CODE_ROOT

# libyaml's safe loader when present (about 10x faster; the YAML is parsed at every DAG parse)
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(defaults.ENV_VAR_CONFIG_DIR) or CODE_ROOT / "include" / "config")


def load_config(environment: str | None = None, environ: Mapping[str, str] | None = None) -> PipelineConfig:
    """The validated configuration for ``environment`` (default: $PIPELINE_ENV, else 'local')."""
    environ = os.environ if environ is None else environ
    env = environment or environ.get(defaults.ENV_VAR_ENVIRONMENT) or defaults.DEFAULT_ENVIRONMENT
    folder = config_dir(environ)
    path = folder / f"{env}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(
            f"{defaults.ENV_VAR_ENVIRONMENT}={env!r}: no file {path}; choose one of {known} "
            f"or add {env}.yaml to {folder}"
        )
    raw = _read_yaml(path)
    raw.setdefault("environment", env)
    overrides = {k: v for k, v in environ.items() if k.startswith(defaults.ENV_OVERRIDE_PREFIX)}
    for key, value in sorted(overrides.items()):
        _apply_override(raw, key, value, path)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, overrides)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(), Loader=_YamlLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of keys (stack, lake, sources, ...), got {type(data).__name__}")
    return data


def _apply_override(raw: dict[str, Any], env_key: str, value: str, path: Path) -> None:
    """MLPIPE__LAKE__ROOT=... sets raw['lake']['root']; list items by index (MLPIPE__SOURCES__0__URL)."""
    parts = [p.lower() for p in env_key[len(defaults.ENV_OVERRIDE_PREFIX):].split("__")]
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{env_key}: '{part}' must be an index below {len(node)} for that list in {path}")
            key: Any = int(part)
        else:
            key = part
        if last:
            node[key] = yaml.safe_load(value) if value else None
        else:
            if isinstance(node, dict) and node.get(key) is None:
                node[key] = {}
            node = node[key]


def _describe(exc: ValidationError, path: Path, overrides: Mapping[str, str]) -> str:
    lines = [f"invalid pipeline configuration in {path}" + (f" (with overrides {sorted(overrides)})" if overrides else "")]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in {"database", "file_share", "drop"}))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key; remove it or fix its spelling"
        elif err["type"] == "missing":
            msg = "required key is missing"
        got = "" if err["type"] in {"missing", "extra_forbidden"} else f" (got {err.get('input')!r})"
        if not loc:
            lines.extend(f"  {part}" for part in msg.split("\n"))
            continue
        lines.append(f"  {loc}: {msg}{got}")
    return "\n".join(lines)


def config_hash(*parts: Any) -> str:
    """Short, stable hash of config sections (for deterministic AWS job names)."""
    blob = json.dumps(
        [p.model_dump(mode="json") if hasattr(p, "model_dump") else p for p in parts], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:8]
