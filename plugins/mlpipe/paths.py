"""Where the project lives, and how relative local paths in the config resolve."""

from __future__ import annotations

import os
from pathlib import Path

from mlpipe import defaults

# the folder holding include/: the checkout (plugins/mlpipe/paths.py -> ../../), or $MLPIPE_CODE_ROOT (MWAA)
CODE_ROOT = Path(os.environ.get(defaults.ENV_VAR_CODE_ROOT) or Path(__file__).resolve().parents[2])


def project_root() -> Path:
    """$MLPIPE_HOME, else the checkout this package sits in (plugins/mlpipe/paths.py -> ../../)."""
    home = os.environ.get(defaults.ENV_VAR_HOME)
    return Path(home).resolve() if home else CODE_ROOT


def local_path(path_or_uri: str) -> Path:
    """A local directory from 'file://...' or a plain path; relative paths resolve against the project root."""
    raw = path_or_uri.removeprefix("file://")
    path = Path(raw).expanduser()
    return path if path.is_absolute() else project_root() / path
