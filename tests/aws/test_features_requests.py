"""ml_features on the aws stack: the exact EMR / EMR Serverless / Athena requests its operators would send for a
date, rendered from include/config/aws-dev.yaml and validated against botocore's service models, in both modes.

The requests are rebuilt from the rendered operator fields the way the provider (9.34.0) builds them:
``EmrHook.create_job_flow`` (emr_conn_id=None: the overrides are the whole request), ``add_job_flow_steps``,
``EmrServerlessStartJobOperator.execute`` and ``AthenaHook.run_query``. botocore's ParamValidator checks types,
required and unknown keys and minimum lengths; ``botocore_shapes.strict_problems`` adds what it skips
(maximum lengths, patterns, enums, numeric ranges).
"""

from __future__ import annotations

import runpy
from typing import Any

import pytest
from botocore_shapes import ROOT, validate

DS = "2026-11-01"
LAKE = "s3://acme-ml-lake-dev/lake"
CLUSTER_ID = "j-2AXXXXXXGAPLF"


class FakeTI:
    """What the templates pull from XCom: the spec task's outputs, the cluster and step ids, the gates."""

    def __init__(self) -> None:
        self.values = {
            ("write_spec", "ds"): DS,
            ("write_spec", "spec_uri"): f"{LAKE}/_specs/ml_features/dt={DS}/spec.json",
            ("create_cluster", None): CLUSTER_ID,
            ("silver.add_step", None): ["s-1SILVERSTEP0"],
            ("gold.add_step", None): ["s-2GOLDSTEP000"],
        }
        for layer in ("silver", "gold"):
            self.values[(f"gate_{layer}", None)] = {"partitions": _Partitions(layer)}

    def xcom_pull(self, task_ids: str, key: str | None = None, **_: Any) -> Any:
        key = None if key in (None, "return_value") else key
        return self.values[(task_ids, key)]


class _Partitions(dict):
    def __init__(self, layer: str) -> None:
        super().__init__()
        self.layer = layer

    def __missing__(self, dataset: str) -> str:
        return f"{LAKE}/{self.layer}/{dataset}/dt={DS}"


def load_dag(monkeypatch, mode: str):
    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    monkeypatch.setenv("MLPIPE__EMR__MODE", mode)
    return runpy.run_path(str(ROOT / "dags" / "ml_features.py"))["dag"]


def cfg_hash() -> str:
    from mlpipe.config import config_hash, load_config

    cfg = load_config()
    return config_hash(cfg.emr, cfg.lake, cfg.features)


def render(op, ti: FakeTI | None = None):
    ti = ti or FakeTI()
    context = {"ti": ti, "task_instance": ti, "params": op.params, "ds": None, "dag": op.dag, "task": op}
    op.render_template_fields(context)
    return op


# ---- how the provider builds each request from an operator's (rendered) fields ----------------------------


def run_job_flow_request(op) -> dict[str, Any]:
    assert op.emr_conn_id is None, "no connection is merged into the request"
    return dict(op.job_flow_overrides)


def add_steps_request(op) -> dict[str, Any]:
    request = {"JobFlowId": op.job_flow_id, "Steps": op.steps}
    if op.execution_role_arn:
        request["ExecutionRoleArn"] = op.execution_role_arn
    return request


def start_job_run_request(op) -> dict[str, Any]:
    request = {"clientToken": op.client_request_token, "applicationId": op.application_id,
               "executionRoleArn": op.execution_role_arn, "jobDriver": op.job_driver, "name": op.name, **op.config}
    if op.configuration_overrides is not None:
        request["configurationOverrides"] = op.configuration_overrides
    return request


def start_query_request(op) -> dict[str, Any]:
    context = {"Catalog": op.catalog, **({"Database": op.database} if op.database else {})}
    result = dict(op.result_configuration)
    if op.output_location:
        result["OutputLocation"] = op.output_location
    request = {"QueryString": op.query, "QueryExecutionContext": context, "ResultConfiguration": result,
               "WorkGroup": op.workgroup}
    if op.client_request_token:
        request["ClientRequestToken"] = op.client_request_token
    return request


def _by_type(dag, name: str) -> list:
    return [t for t in dag.tasks if type(t).__name__ == name]


def _athena_requests(dag) -> list[dict[str, Any]]:
    ops = [render(t) for t in _by_type(dag, "AthenaOperator")]
    assert ops, "the new partitions are registered through Athena"
    requests = [start_query_request(op) for op in ops]
    for request in requests:
        validate("athena", "StartQueryExecution", request)
        assert request["WorkGroup"] == "mlpipe-dev"
        assert request["QueryExecutionContext"]["Database"] == "mlpipe_dev"
        assert request["ResultConfiguration"]["OutputLocation"] == "s3://acme-ml-athena-results-dev/mlpipe/"
        assert "{{" not in request["QueryString"] and "{%" not in request["QueryString"], request["QueryString"]
    return requests


def _assert_registers_every_dataset(dag, requests: list[dict[str, Any]]) -> None:
    from mlpipe.config import load_config
    from mlpipe.tasks.features import declared_datasets

    adds = [r["QueryString"] for r in requests if r["QueryString"].startswith("ALTER TABLE")]
    for layer, names in declared_datasets(load_config()).items():
        for name in names:
            location = f"LOCATION '{LAKE}/{layer}/{name}/dt={DS}'"
            assert any(f"ADD IF NOT EXISTS PARTITION (dt = '{DS}') {location}" in q for q in adds), (layer, name)
    gate_gold = dag.get_task("gate_gold")
    for t in dag.tasks:
        if t.task_id.startswith("register_partitions."):
            assert gate_gold.task_id in t.get_flat_relative_ids(upstream=True), t.task_id


# ---- transient EMR cluster -----------------------------------------------------------------------------------


def test_transient_cluster_requests_are_valid_and_complete(monkeypatch):
    dag = load_dag(monkeypatch, "transient")
    (create,) = _by_type(dag, "FeaturesClusterOperator")
    request = run_job_flow_request(render(create))
    validate("emr", "RunJobFlow", request)

    assert request["Name"] == f"ml-features-20261101-{cfg_hash()}", "deterministic: dag id, date, config hash"
    assert request["ReleaseLabel"] == "emr-7.9.0"
    assert request["SecurityConfiguration"] == "mlpipe-dev-encryption"
    assert request["LogUri"].startswith("s3://acme-ml-logs-dev/emr/")
    assert request["LogEncryptionKmsKeyId"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert request["ServiceRole"] == "EMR_DefaultRole_V2" and request["JobFlowRole"] == "EMR_EC2_DefaultRole"
    instances = request["Instances"]
    assert instances["Ec2SubnetIds"] == ["subnet-0a1b2c3d4e5f60718", "subnet-1a2b3c4d5e6f70819"]
    assert instances["KeepJobFlowAliveWhenNoSteps"] is True
    assert instances["AdditionalSlaveSecurityGroups"] == ["sg-0123456789abcdef0"]
    fleets = {f["InstanceFleetType"]: f for f in instances["InstanceFleets"]}
    assert fleets["MASTER"]["TargetOnDemandCapacity"] == 1
    assert fleets["CORE"]["TargetOnDemandCapacity"] == 2 and fleets["CORE"]["TargetSpotCapacity"] == 0
    task_fleet = fleets["TASK"]
    assert task_fleet["TargetSpotCapacity"] == 4 and task_fleet["TargetOnDemandCapacity"] == 0
    assert task_fleet["LaunchSpecifications"]["SpotSpecification"] == {
        "TimeoutDurationMinutes": 20, "TimeoutAction": "SWITCH_TO_ON_DEMAND",
        "AllocationStrategy": "price-capacity-optimized"}
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["cost-center"] == "ml-platform" and tags["environment"] == "aws-dev" and tags["dag_id"] == "ml_features"
    (bootstrap,) = request["BootstrapActions"]
    assert bootstrap["ScriptBootstrapAction"] == {
        "Path": "s3://acme-ml-code-dev/emr/bootstrap/install-python-packages.sh",
        "Args": ["--python", "/usr/bin/python3.11", "great-expectations==1.24.1", "pandas==2.2.3", "numpy==1.26.4"]}
    # PySpark on EMR 7's Python 3.11 (its /usr/bin/python3 is 3.9): every Spark process, the driver included
    configurations = {c["Classification"]: c for c in request["Configurations"]}
    (export,) = configurations["spark-env"]["Configurations"]
    assert export == {"Classification": "export", "Properties": {"PYSPARK_PYTHON": "/usr/bin/python3.11",
                                                                 "PYSPARK_DRIVER_PYTHON": "/usr/bin/python3.11"}}
    spark_defaults = configurations["spark-defaults"]["Properties"]
    assert spark_defaults["spark.pyspark.python"] == spark_defaults["spark.pyspark.driver.python"] == \
        "/usr/bin/python3.11"
    assert request["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
    assert create.deferrable and create.wait_for_completion and create.terminate_job_flow_on_failure
    assert create.aws_conn_id == "aws_default" and create.region_name == "us-east-1"

    for step in ("silver", "gold"):
        add = render(dag.get_task(f"{step}.add_step"))
        steps_request = add_steps_request(add)
        validate("emr", "AddJobFlowSteps", steps_request)
        assert steps_request["JobFlowId"] == CLUSTER_ID
        (spark,) = steps_request["Steps"]
        assert spark["Name"] == f"ml-features-{step}-20261101-{cfg_hash()}"
        args = spark["HadoopJarStep"]["Args"]
        assert spark["HadoopJarStep"]["Jar"] == "command-runner.jar" and args[0] == "spark-submit"
        assert args[args.index("--py-files") + 1] == "s3://acme-ml-code-dev/spark_jobs.zip"
        assert args[-5:] == ["s3://acme-ml-code-dev/spark_jobs/main.py", "--step", step, "--spec",
                             f"{LAKE}/_specs/ml_features/dt={DS}/spec.json"]
        wait = render(dag.get_task(f"{step}.wait_for_step"))
        assert wait.deferrable and wait.job_flow_id == CLUSTER_ID
        assert wait.step_id == FakeTI().values[(f"{step}.add_step", None)][0]
        assert wait.max_attempts * wait.poke_interval >= 150 * 60, "the step may run emr.step_timeout_minutes"
        assert wait.execution_timeout.total_seconds() > 150 * 60
        validate("emr", "DescribeStep", {"ClusterId": wait.job_flow_id, "StepId": wait.step_id})

    terminate = render(dag.get_task("terminate_cluster"))
    assert terminate.trigger_rule == "all_done"
    validate("emr", "TerminateJobFlows", {"JobFlowIds": [terminate.job_flow_id]})
    upstream = terminate.get_flat_relative_ids(upstream=True)
    assert {t.task_id for t in dag.tasks if t.task_id.split(".")[0] in ("silver", "gold")} <= upstream
    assert "gate_silver" in upstream and "create_cluster" in upstream

    _assert_registers_every_dataset(dag, _athena_requests(dag))


def test_the_cluster_task_reattaches_to_its_own_cluster_on_retry(monkeypatch):
    dag = load_dag(monkeypatch, "transient")
    create = render(dag.get_task("create_cluster"))
    seen = {}

    class Hook:
        def get_cluster_id_by_name(self, name, states):
            seen.update(name=name, states=states)
            return "j-EXISTING"

    monkeypatch.setattr(type(create), "hook", Hook(), raising=False)
    assert create.execute({}) == "j-EXISTING"
    assert seen == {"name": create.job_flow_overrides["Name"],
                    "states": ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]}


def test_a_retried_step_reattaches_to_its_step_still_in_flight(monkeypatch):
    dag = load_dag(monkeypatch, "transient")
    add = render(dag.get_task("silver.add_step"))
    name = add.steps[0]["Name"]
    listed = [{"Id": "s-OTHER", "Name": "something-else"}, {"Id": "s-MINE", "Name": name}]
    calls = {}

    class Conn:
        def get_paginator(self, op):
            assert op == "list_steps"
            return self

        def paginate(self, **kwargs):
            calls.update(kwargs)
            return [{"Steps": listed}]

    monkeypatch.setattr(type(add), "hook", type("Hook", (), {"conn": Conn()})(), raising=False)
    assert add.execute({}) == ["s-MINE"]
    assert calls == {"ClusterId": CLUSTER_ID, "StepStates": ["PENDING", "RUNNING"]}


def test_terminate_is_skipped_when_no_cluster_was_created(monkeypatch):
    from airflow.sdk.exceptions import AirflowSkipException

    terminate = load_dag(monkeypatch, "transient").get_task("terminate_cluster")
    terminate.job_flow_id = "None"  # what the template renders when create_cluster pushed nothing
    with pytest.raises(AirflowSkipException):
        terminate.execute({})


# ---- EMR Serverless --------------------------------------------------------------------------------------------


def test_serverless_job_runs_are_valid_with_a_stable_token(monkeypatch):
    dag = load_dag(monkeypatch, "serverless")
    assert not _by_type(dag, "FeaturesClusterOperator") and not _by_type(dag, "TerminateClusterOperator")
    for step in ("silver", "gold"):
        op = dag.get_task(f"{step}.job_run")
        request = start_job_run_request(render(op))
        validate("emr-serverless", "StartJobRun", request)
        assert request["applicationId"] == "00fkabc123def456"
        assert request["executionRoleArn"] == "arn:aws:iam::123456789012:role/mlpipe-emr-serverless-dev"
        driver = request["jobDriver"]["sparkSubmit"]
        assert driver["entryPoint"] == "s3://acme-ml-code-dev/spark_jobs/main.py"
        assert driver["entryPointArguments"] == ["--step", step, "--spec",
                                                 f"{LAKE}/_specs/ml_features/dt={DS}/spec.json"]
        assert "--py-files s3://acme-ml-code-dev/spark_jobs.zip" in driver["sparkSubmitParameters"]
        assert "spark.archives=s3://acme-ml-code-dev/emr/pyspark_venv.tar.gz#environment" in \
            driver["sparkSubmitParameters"]
        # the driver and the executors run the packed virtualenv's Python (3.11, with GX), not the image's 3.9
        for key in ("spark.emr-serverless.driverEnv.PYSPARK_PYTHON", "spark.emr-serverless.driverEnv."
                    "PYSPARK_DRIVER_PYTHON", "spark.executorEnv.PYSPARK_PYTHON"):
            assert f"--conf {key}=./environment/bin/python" in driver["sparkSubmitParameters"], key
        logs = request["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]
        assert logs["logUri"].startswith("s3://acme-ml-logs-dev/emr/") and logs["encryptionKeyArn"]
        assert request["executionTimeoutMinutes"] == 150
        assert request["tags"]["environment"] == "aws-dev"
        assert op.deferrable and op.wait_for_completion
        assert op.waiter_max_attempts * op.waiter_delay >= 150 * 60
        # stable: dag id, step, date and config hash; a re-render (a retry) gives the same token
        assert request["clientToken"] == request["name"] == f"ml-features-{step}-20261101-{cfg_hash()}"
        again = start_job_run_request(render(load_dag(monkeypatch, "serverless").get_task(f"{step}.job_run")))
        assert again["clientToken"] == request["clientToken"]
    _assert_registers_every_dataset(dag, _athena_requests(dag))


@pytest.mark.parametrize(("runs", "try_number", "expected"), [
    ([], 1, "base"),
    ([("base", "RUNNING")], 2, "base"),               # a retry reattaches to its job still in flight
    ([("base", "SUCCESS")], 2, "base"),               # ... or picks up the job that succeeded meanwhile
    ([("base", "FAILED")], 2, "base-r2"),             # a failed job: a new attempt
    ([("base", "FAILED"), ("base-r2", "CANCELLED")], 3, "base-r3"),
    ([("base", "SUCCESS")], 1, "base-r2"),            # a new run of the date builds it again
    ([("other-base", "RUNNING")], 1, "base"),
])
def test_serverless_job_runs_reattach_or_start_the_next_attempt(monkeypatch, runs, try_number, expected):
    import datetime as dt

    op = load_dag(monkeypatch, "serverless").get_task("silver.job_run")
    listed = [{"id": f"00f{i}", "name": name, "state": state,
               "createdAt": dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i)}
              for i, (name, state) in enumerate(runs)]

    class Conn:
        def get_paginator(self, name):
            assert name == "list_job_runs"
            return self

        def paginate(self, **kwargs):
            assert kwargs["applicationId"] == "00fkabc123def456"
            return [{"jobRuns": listed}]

    monkeypatch.setattr(type(op), "hook", type("Hook", (), {"conn": Conn()})(), raising=False)
    assert op.attempt_name("base", try_number) == expected


def test_the_token_changes_with_the_emr_config(monkeypatch):
    token = render(load_dag(monkeypatch, "serverless").get_task("silver.job_run")).client_request_token
    monkeypatch.setenv("MLPIPE__EMR__STEP_TIMEOUT_MINUTES", "90")
    changed = render(load_dag(monkeypatch, "serverless").get_task("silver.job_run")).client_request_token
    assert changed != token and changed.rsplit("-", 1)[0] == token.rsplit("-", 1)[0], "only the hash differs"


@pytest.mark.parametrize("mode", ["transient", "serverless"])
def test_operators_use_the_configured_connection_and_region(monkeypatch, mode):
    monkeypatch.setenv("MLPIPE__AWS__CONN_ID", "aws_features")
    monkeypatch.setenv("MLPIPE__AWS__REGION", "eu-west-1")
    dag = load_dag(monkeypatch, mode)
    aws_ops = [t for t in dag.tasks if t.__class__.__module__.startswith(("airflow.providers.amazon", "mlpipe.stacks"))
               and hasattr(t, "aws_conn_id")]
    assert aws_ops
    for op in aws_ops:
        assert (op.aws_conn_id, op.region_name) == ("aws_features", "eu-west-1"), op.task_id
