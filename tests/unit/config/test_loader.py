"""Each invalid configuration fails with a message naming the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mlpipe.config import load_config
from mlpipe.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
LOCAL = yaml.safe_load((ROOT / "include/config/local.yaml").read_text())
AWS = yaml.safe_load((ROOT / "include/config/aws-dev.yaml").read_text())


def load(tmp_path: Path, doc: dict | str, env: dict[str, str] | None = None, name: str = "t"):
    (tmp_path / f"{name}.yaml").write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return load_config(name, environ={"MLPIPE_CONFIG_DIR": str(tmp_path), **(env or {})})


def error_of(tmp_path: Path, doc: dict | str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, doc, env)
    return str(info.value)


def with_(base: dict, path: str, value) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(base))
    node = doc
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is KeyError:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


def test_shipped_configs_are_valid():
    local = load_config("local", environ={})
    aws = load_config("aws-dev", environ={})
    assert local.stack == "local" and aws.stack == "aws"
    assert [s.kind for s in aws.sources] == ["database", "file_share", "drop"]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("stack", "gcp", "stack: Input should be 'local' or 'aws' (got 'gcp')"),
        ("lake.root", "ftp://host/lake", "lake.root: must be a URI starting with file:// (local stack) or s3:// (aws stack) (got 'ftp://host/lake')"),
        ("lake.root", "s3://bucket/lake", "lake.root: stack 'local' needs a file:// URI, got 's3://bucket/lake'"),
        ("lake.rooot", "file://x", "lake.rooot: unknown key; remove it or fix its spelling"),
        ("sources", KeyError, "sources: required key is missing"),
        ("sources", [], "sources: List should have at least 1 item after validation, not 0"),
        ("dag.retries", -1, "dag.retries: Input should be greater than or equal to 0 (got -1)"),
        ("dag.max_retry_delay_seconds", 1, "dag: max_retry_delay_seconds (1) must be >= retry_delay_seconds (5)"),
        ("schedules.ingest", "every day", "schedules.ingest: must be a cron expression with 5 fields or one of"),
        ("sources.0.url", "mysql://h/db", "sources.0.url: must be a SQLAlchemy URL: sqlite:///<path> or postgresql+psycopg://user@host:port/db (got 'mysql://h/db')"),
        ("sources.0.tables.0.primary_key", [], "sources.0.tables.0.primary_key: List should have at least 1 item"),
        ("sources.0.url", None, "sources[0] (oltp).url: required on the 'local' stack; set it to the SQLAlchemy URL of the source database"),
        ("sources.1.name", "oltp", "sources: the name 'oltp' is used twice"),
        ("sources.1.name", "Click-Stream", "sources.1.name: String should match pattern"),
        ("sources.2.file_pattern", "accounts.csv", "sources.2.file_pattern: must contain {ds} or {ds_nodash} so each logical date has its own file (got 'accounts.csv')"),
        ("sources.2.kind", "ftp", "sources.2: Input tag 'ftp' found using 'kind' does not match any of the expected tags: 'database', 'file_share', 'drop'"),
        ("sources.2.sensor_timeout_seconds", 0, "sources.2.sensor_timeout_seconds: Input should be greater than or equal to 1 (got 0)"),
    ],
)
def test_invalid_local_config(tmp_path, path, value, expected):
    assert expected in error_of(tmp_path, with_(LOCAL, path, value))


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("sources.0.dms_task_arn", KeyError, "sources[0] (oltp).dms_task_arn: required on the 'aws' stack; set it to the ARN of the DMS replication task"),
        ("sources.0.dms_task_arn", "task:OLTP", "sources.0.dms_task_arn: String should match pattern"),
        ("sources.1.datasync_target_prefix", KeyError, "sources[1] (clickstream).datasync_target_prefix: required on the 'aws' stack"),
        ("sources.2.landing", "/tmp/landing", "sources[2] (partner).landing: the 'aws' stack needs an s3://bucket/prefix, got '/tmp/landing'"),
        ("aws", KeyError, "aws: required when stack is 'aws'"),
        ("aws.account_id", "1234", "aws.account_id: String should match pattern '^\\d{12}$' (got '1234')"),
        ("aws.region", "mars-1", "aws.region: String should match pattern"),
    ],
)
def test_invalid_aws_config(tmp_path, path, value, expected):
    assert expected in error_of(tmp_path, with_(AWS, path, value))


def test_message_names_the_file(tmp_path):
    message = error_of(tmp_path, with_(LOCAL, "stack", "gcp"))
    assert message.startswith(f"invalid pipeline configuration in {tmp_path / 't.yaml'}")


def test_unknown_environment_lists_the_known_ones(tmp_path):
    (tmp_path / "local.yaml").write_text(yaml.safe_dump(LOCAL))
    with pytest.raises(ConfigError, match=r"PIPELINE_ENV='prod': no file .*prod.yaml; choose one of \['local'\]"):
        load_config(environ={"MLPIPE_CONFIG_DIR": str(tmp_path), "PIPELINE_ENV": "prod"})


def test_not_yaml(tmp_path):
    assert "not valid YAML" in error_of(tmp_path, "stack: [local")
    assert "must be a mapping of keys" in error_of(tmp_path, "- local")


def test_environment_overrides(tmp_path):
    cfg = load(tmp_path, LOCAL, env={
        "MLPIPE__LAKE__ROOT": "file:///srv/lake",
        "MLPIPE__SOURCES__0__URL": "postgresql+psycopg://etl@db:5432/shop",
        "MLPIPE__DAG__RETRIES": "5",
    })
    assert cfg.lake.root == "file:///srv/lake"
    assert cfg.sources[0].url == "postgresql+psycopg://etl@db:5432/shop"
    assert cfg.dag.retries == 5


def test_bad_override_is_named(tmp_path):
    message = error_of(tmp_path, LOCAL, env={"MLPIPE__DAG__RETRIES": "many"})
    assert "with overrides ['MLPIPE__DAG__RETRIES']" in message
    assert "dag.retries: Input should be a valid integer" in message
    assert "MLPIPE__SOURCES__7__URL: '7' must be an index below 3" in error_of(
        tmp_path, LOCAL, env={"MLPIPE__SOURCES__7__URL": "sqlite:///x.db"})


def test_pipeline_env_selects_the_file(tmp_path):
    (tmp_path / "staging.yaml").write_text(yaml.safe_dump(with_(LOCAL, "dag.owner", "staging-team")))
    cfg = load_config(environ={"MLPIPE_CONFIG_DIR": str(tmp_path), "PIPELINE_ENV": "staging"})
    assert cfg.environment == "staging" and cfg.dag.owner == "staging-team"


def test_config_hash_is_stable_and_sensitive():
    from mlpipe.config import config_hash

    cfg = load_config("local", environ={})
    assert config_hash(cfg.sample) == config_hash(cfg.sample)
    assert config_hash(cfg.sample) != config_hash(cfg.sample.model_copy(update={"seed": 7}))
    assert len(config_hash(cfg.sample)) == 8
