"""The local Spark step: the spark-submit command line, its output in the task log, a failure's stderr tail."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from mlpipe.errors import MlPipeError
from mlpipe.stacks.local import spark

SPEC = {"ds": "2026-11-01", "spark": {"driver_memory": "3g", "shuffle_partitions": 6,
                                      "conf": {"spark.driver.memory": "3g", "spark.ui.enabled": "false",
                                               "spark.sql.adaptive.enabled": "true"}}}


def test_the_command_runs_main_py_locally_with_the_spec_settings(tmp_path):
    cmd = spark.spark_submit_command("silver", "file:///lake/_specs/spec.json", SPEC, tmp_path)
    assert cmd[0].endswith("pyspark/bin/spark-submit") and Path(cmd[0]).exists()
    assert cmd[cmd.index("--master") + 1] == "local[*]"
    assert cmd[cmd.index("--driver-memory") + 1] == "3g"
    confs = dict(cmd[i + 1].split("=", 1) for i, arg in enumerate(cmd) if arg == "--conf")
    assert confs["spark.sql.shuffle.partitions"] == "6" and confs["spark.ui.enabled"] == "false"
    assert confs["spark.sql.adaptive.enabled"] == "true" and "spark.driver.memory" not in confs
    assert confs["spark.sql.warehouse.dir"].startswith(str(tmp_path)), "no spark-warehouse in the checkout"
    assert cmd[-5:] == [str(spark.MAIN), "--step", "silver", "--spec", "file:///lake/_specs/spec.json"]
    assert spark.MAIN.parts[-3:] == ("include", "spark_jobs", "main.py")


def _fake_spark_submit(tmp_path: Path, monkeypatch, script: str) -> None:
    fake = tmp_path / "spark-submit"
    fake.write_text("#!/bin/bash\n" + script)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(spark, "spark_submit_path", lambda: fake)


def _operator(tmp_path: Path, monkeypatch):
    # the task logger, captured by caplog (the SDK's own logger writes through structlog)
    monkeypatch.setattr(spark.LocalSparkSubmitOperator, "log", logging.getLogger("test.spark"), raising=False)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    return spark.LocalSparkSubmitOperator(task_id="spark_submit", step="gold", spec_uri=spec.as_uri())


def test_output_streams_to_the_task_log(tmp_path, monkeypatch, caplog):
    _fake_spark_submit(tmp_path, monkeypatch, 'echo "rows: 42"; echo "WARN something" >&2; exit 0\n')
    with caplog.at_level(logging.INFO):
        result = _operator(tmp_path, monkeypatch).execute({})
    assert result["step"] == "gold"
    assert "[spark gold] rows: 42" in caplog.text and "[spark gold] WARN something" in caplog.text


def test_a_failed_job_fails_the_task_with_the_tail_of_stderr(tmp_path, monkeypatch):
    lines = "; ".join(f'echo "line {i}" >&2' for i in range(100))
    _fake_spark_submit(tmp_path, monkeypatch, f'{lines}; echo "ValueError: bad spec" >&2; exit 3\n')
    with pytest.raises(MlPipeError) as err:
        _operator(tmp_path, monkeypatch).execute({})
    message = str(err.value)
    assert "spark-submit --step gold failed (exit 3)" in message
    assert message.rstrip().endswith("ValueError: bad spec") and "line 99" in message
    assert "line 0\n" not in message, "only the tail"
