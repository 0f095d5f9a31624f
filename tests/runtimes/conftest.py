"""Tests that run the project's code in the versions AWS runs it (one virtualenv per runtime, ``runtimes/``).

``runtime_python("emr")`` builds ``.venvs/emr`` once (reused while ``runtimes/emr/`` is unchanged) and returns
its interpreter; each test module runs its workload there through the runtime's own entry points.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from devtools import runtime_venvs


@pytest.fixture(scope="session")
def runtime_python() -> Callable[[str], Path]:
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            built[name] = runtime_venvs.build(name).python_exe
        return built[name]

    return get
