"""docker-compose.yaml, checked statically (no Docker engine here): Airflow 3.3.1 as MWAA runs it (API server,
scheduler, DAG processor, triggerer) on PostgreSQL, dags/ plugins/ include/ mounted, the requirements installed
under the same constraints, a PostgreSQL source seeded by the sample generator, and every referenced path real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GENERATED = {"data": "written by the sample generator and the DAGs (git-ignored; Docker creates it)"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _airflow_services(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if s.get("image", "").startswith("mlpipe-airflow")}


def _dockerfile(compose: dict) -> tuple[Path, str]:
    build = next(s["build"] for s in _airflow_services(compose).values())
    path = ROOT / build["context"] / build["dockerfile"]
    return path, path.read_text()


def test_airflow_components_as_mwaa_runs_them(compose):
    services = _airflow_services(compose)
    commands = {s["command"] if isinstance(s["command"], str) else " ".join(s["command"]) for s in services.values()}
    assert {"api-server", "scheduler", "dag-processor", "triggerer"} <= commands
    assert any("airflow db migrate" in c for c in commands)
    for name, svc in services.items():
        env = svc["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080"), name
        assert env.get("AIRFLOW__API_AUTH__JWT_SECRET"), f"{name}: one JWT secret shared by every component"
        assert svc["image"] == "mlpipe-airflow:3.3.1"
    db_host = re.search(r"@([\w-]+)", next(iter(services.values()))["environment"]
                        ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).group(1)
    assert compose["services"][db_host]["image"].startswith("postgres:")


def test_image_is_airflow_331_on_python_312_with_the_same_constraints(compose):
    _, text = _dockerfile(compose)
    assert re.search(r"^FROM apache/airflow:3\.3\.1-python3\.12\s*$", text, re.M)
    assert "constraints/airflow-3.3.1-constraints-3.12.txt" in text
    assert re.search(r"pip install .*-c /opt/mlpipe/constraints\.txt", text.replace("\\\n", " "))
    assert "requirements.txt" in text and "requirements-dev.txt" in text


def test_mounts_and_every_referenced_file_exist(compose):
    services = _airflow_services(compose)
    targets = set()
    for svc in services.values():
        for volume in svc["volumes"]:
            src, target = volume.split(":")[:2]
            targets.add(target)
            rel = src.removeprefix("./")
            if rel in GENERATED:
                assert f"{rel}/" in (ROOT / ".gitignore").read_text()
                continue
            assert (ROOT / rel).exists(), f"mounted {src} does not exist"
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= targets
    path, text = _dockerfile(compose)
    for src in re.findall(r"^COPY\s+(.+?)\s+\S+$", text, re.M):
        for part in src.split():
            assert (ROOT / part).exists(), f"{path.name} copies {part}, which does not exist"
    # CODE_ROOT inside the container (/opt/airflow/plugins/mlpipe/paths.py -> /opt/airflow) holds include/
    assert "/opt/airflow/include" in targets and "/opt/airflow/plugins" in targets


def test_source_database_seeded_by_the_sample_generator(compose):
    services = compose["services"]
    init = next(s for s in _airflow_services(compose).values() if "db migrate" in " ".join(s["command"]))
    assert "python -m mlpipe.sample generate" in " ".join(init["command"])
    url = init["environment"]["MLPIPE__SOURCES__0__URL"]
    host = re.search(r"@([\w-]+):5432/", url).group(1)
    assert services[host]["image"].startswith("postgres:") and "source-db" in init["depends_on"]
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
