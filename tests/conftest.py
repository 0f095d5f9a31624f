"""Test-wide setup: a throwaway AIRFLOW_HOME (set before anything imports airflow) and the default env."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="mlpipe-test-airflow-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ.pop("PIPELINE_ENV", None)
for key in [k for k in os.environ if k.startswith("MLPIPE__")]:
    os.environ.pop(key)
