"""Each DAG on the aws stack (PIPELINE_ENV=aws-dev) through ``dag.test()`` (what ``airflow dags test`` runs)
against an in-process moto server: the sequence of AWS calls and the final state. tests/aws/moto_harness.py
seeds aws-dev.yaml's resources and finishes the jobs moto leaves open (DMS stop, EMR steps, evaluation.json)."""

from __future__ import annotations

import json

import pytest

from tests.aws import moto_harness as h


def in_order(calls: list[str], expected: list[str]) -> bool:
    """``expected`` is a subsequence of ``calls``."""
    it = iter(calls)
    return all(any(c == e for c in it) for e in expected)


def test_in_order_is_a_subsequence_check():
    assert in_order(["a", "x", "b", "c"], ["a", "b", "c"])
    assert not in_order(["b", "a"], ["a", "b"])


def objects(stack, prefix: str) -> list[str]:
    pages = stack.client("s3").get_paginator("list_objects_v2").paginate(Bucket=h.LAKE_BUCKET, Prefix=prefix)
    return [o["Key"] for p in pages for o in p.get("Contents", [])]


def assert_sse_kms(stack, keys: list[str]) -> None:
    s3, key_arn = stack.client("s3"), stack.overrides["MLPIPE__AWS__KMS_KEY_ARN"]
    for key in keys:
        head = s3.head_object(Bucket=h.LAKE_BUCKET, Key=key)
        assert head.get("ServerSideEncryption") == "aws:kms" and head.get("SSEKMSKeyId") == key_arn, key


@pytest.mark.slow  # about 30 s: moto's DataSync needs five describes, the hook sleeps twice per poll
def test_ml_ingest(aws_stack):
    r = aws_stack.run("ml_ingest")
    assert r.state == "success", r.tasks
    assert set(r.tasks.values()) == {"success"}
    ops = aws_stack.server.operations()
    assert in_order(ops, ["dms.DescribeReplicationTasks", "dms.StartReplicationTask", "dms.DescribeReplicationTasks"])
    assert in_order(ops, ["datasync.StartTaskExecution"] + ["datasync.DescribeTaskExecution"] * 5)
    assert ops.count("dms.StartReplicationTask") == 1 and ops.count("datasync.StartTaskExecution") == 1
    dms = aws_stack.client("dms").describe_replication_tasks()["ReplicationTasks"][0]
    assert dms["Status"] == "stopped" and dms["StopReason"] == "Stop Reason STOPPED_AT_COMMIT_TIME"
    assert r.tasks["oltp.dms_check_stop"] == "success"
    # DataSync: the operator only starts the execution; the sensor checks it in separate short runs (reschedule),
    # so no worker slot is held while the transfer runs
    pokes = r.task_intervals["clickstream.datasync_wait"]
    assert len(pokes) >= 2 and all(end - begin < 5 for begin, end in pokes)
    assert [c.operation for c in r.calls if c.task == "clickstream.datasync"] == ["StartTaskExecution"]
    bronze = objects(aws_stack, "lake/bronze/")
    for source, table in [("oltp", "customers"), ("oltp", "subscriptions"), ("oltp", "payments"),
                          ("clickstream", "events"), ("partner", "accounts")]:
        part = f"lake/bronze/{source}/{table}/dt={h.DS}/"
        assert f"{part}_SUCCESS" in bronze and any(k.startswith(part) and not k.endswith("_SUCCESS") for k in bronze)
    assert_sse_kms(aws_stack, bronze)
    for table in ("customers", "subscriptions", "payments"):  # the full-load date: full load and its CDC folder
        part = f"lake/bronze/oltp/{table}/dt={h.DS}/"
        assert {k[len(part):] for k in bronze if k.startswith(part)} == {
            "LOAD00000001.parquet", f"{h.DS.replace('-', '')}-220000000.parquet", "_SUCCESS"}
    manifest = json.loads(aws_stack.client("s3").get_object(
        Bucket=h.LAKE_BUCKET, Key=f"lake/manifests/ml_ingest/dt={h.DS}.json")["Body"].read())
    assert manifest["totals"]["rows_quarantined"] == 2  # one bad JSON line, one CSV row without customer_id
    assert objects(aws_stack, f"lake/quarantine/partner/accounts/dt={h.DS}/")


def test_ml_features_on_a_transient_cluster(aws_stack):
    r = aws_stack.run("ml_features")
    assert r.state == "success", r.tasks
    emr = aws_stack.server.operations("elasticmapreduce")
    assert in_order(emr, ["RunJobFlow", "AddJobFlowSteps", "DescribeStep", "AddJobFlowSteps", "DescribeStep",
                          "TerminateJobFlows"])
    assert emr.count("RunJobFlow") == 1 and emr.count("AddJobFlowSteps") == 2
    athena = aws_stack.server.operations("athena")
    assert athena.count("StartQueryExecution") == 12  # CREATE TABLE + ADD PARTITION for 5 silver + 1 gold
    cluster = aws_stack.client("emr").list_clusters()["Clusters"]
    assert len(cluster) == 1 and cluster[0]["Status"]["State"].startswith("TERMINAT")
    steps = aws_stack.client("emr").list_steps(ClusterId=cluster[0]["Id"])["Steps"]
    assert sorted(s["Status"]["State"] for s in steps) == ["COMPLETED", "COMPLETED"]
    assert r.deferrals >= 2  # cluster start-up and termination wait in the trigger, not in a worker slot
    assert_sse_kms(aws_stack, [f"lake/_specs/ml_features/dt={h.DS}/spec.json"])


def test_ml_training_registers_one_pending_version(aws_stack):
    r = aws_stack.run("ml_training")
    assert r.state == "success", r.tasks
    sm = aws_stack.server.operations("sagemaker")
    assert in_order(sm, ["DescribeHyperParameterTuningJob", "CreateHyperParameterTuningJob",
                         "CreateProcessingJob", "CreateModelPackage"])
    client = aws_stack.client("sagemaker")
    jobs = client.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert len(jobs) == 1
    tuning = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=jobs[0]["HyperParameterTuningJobName"])
    definition = tuning["TrainingJobDefinition"]
    assert definition["EnableManagedSpotTraining"] is True and definition["CheckpointConfig"]["S3Uri"].startswith("s3://")
    group = aws_stack.cfg.training.registry.model_package_group
    packages = client.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert len(packages) == 1 and packages[0]["ModelApprovalStatus"] == "PendingManualApproval"
    package = client.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    meta = package["CustomerMetadataProperties"]
    assert meta["tuning_job_name"] == jobs[0]["HyperParameterTuningJobName"] and float(meta["test_auc"]) == 0.82
    # the package's container runs the project's handler from model.tar.gz's code/ (the image's script mode)
    spec = package["InferenceSpecification"]
    assert spec["Containers"][0]["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py",
                                                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    assert spec["Containers"][0]["ModelDataUrl"].endswith("/output/model.tar.gz")
    assert sorted(spec["SupportedContentTypes"]) == sorted(spec["SupportedResponseMIMETypes"]) == \
        ["application/json", "text/csv"]
    root = f"lake/training/{group}/dt={h.DS}/"
    assert {f"{root}{k}" for k in ("split.json", "evaluation/report.html", "lineage.json")} <= set(objects(aws_stack, root))


def deploy(aws_stack, scenario: h.Scenario | None = None) -> tuple[h.RunResult, str]:
    arn = aws_stack.approve()
    h.queue_predictions(4, aws_stack.cfg.deployment.smoke_test.gold_rows)
    return aws_stack.run("ml_deployment", scenario=scenario), arn


def serving(aws_stack) -> tuple[str, str]:
    """(endpoint status, the model package its endpoint config's model serves)."""
    sm = aws_stack.client("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName=aws_stack.cfg.deployment.endpoint_name)
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
    return endpoint["EndpointStatus"], containers[0].get("ModelPackageName")


def served_environment(aws_stack, model_name: str) -> dict[str, str]:
    """The environment the container of ``model_name`` runs with: a model created from a ModelPackageName
    inherits its package's container environment, one from an image carries its own."""
    sm = aws_stack.client("sagemaker")
    model = sm.describe_model(ModelName=model_name)
    (container,) = model.get("Containers") or [model["PrimaryContainer"]]
    if container.get("ModelPackageName"):
        assert not container.get("Image") and not container.get("Environment"), "all from the package"
        package = sm.describe_model_package(ModelPackageName=container["ModelPackageName"])
        return package["InferenceSpecification"]["Containers"][0].get("Environment") or {}
    return container.get("Environment") or {}


def test_ml_deployment_creates_then_updates_the_endpoint(aws_stack):
    first, v1 = deploy(aws_stack)
    assert first.state == "success", first.tasks
    sm = aws_stack.server.operations("sagemaker")
    assert in_order(sm, ["CreateModel", "CreateEndpointConfig", "CreateEndpoint", "DescribeEndpoint"])
    assert "UpdateEndpoint" not in sm and sm.count("CreateTransformJob") == 1
    assert serving(aws_stack) == ("InService", v1)
    assert aws_stack.server.operations("sagemaker-runtime") == ["InvokeEndpoint"]
    job = aws_stack.client("sagemaker").list_transform_jobs()["TransformJobSummaries"][0]
    assert job["TransformJobStatus"] == "Completed"
    # the endpoint and the transform job serve one model, whose container runs the project's handler
    transform = aws_stack.client("sagemaker").describe_transform_job(TransformJobName=job["TransformJobName"])
    config = aws_stack.client("sagemaker").describe_endpoint_config(
        EndpointConfigName=aws_stack.client("sagemaker").describe_endpoint(
            EndpointName=aws_stack.cfg.deployment.endpoint_name)["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == transform["ModelName"]
    assert served_environment(aws_stack, transform["ModelName"]) == {
        "SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}

    aws_stack.server.calls.clear()
    second, v2 = deploy(aws_stack)  # a newer Approved version: blue/green update, no CreateEndpoint
    assert second.state == "success", second.tasks
    sm = aws_stack.server.operations("sagemaker")
    assert sm.count("UpdateEndpoint") == 1 and "CreateEndpoint" not in sm
    assert serving(aws_stack) == ("InService", v2) and v2 != v1
    assert any("now on" in e for e in second.driver_events)
