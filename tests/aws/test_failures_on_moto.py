"""Failure paths and retries of the aws-stack DAGs on moto (see tests/aws/moto_harness.py):

- a DMS task that stopped short of its commit-time stop position (any other StopReason) promotes nothing;
- a failed EMR step still terminates the cluster and fails the run;
- a failed tuning job registers nothing;
- a failed (rolled back) endpoint update leaves the previous endpoint config serving;
- a task retried after its job was created starts no second tuning job, transform job or model package version
  (a fault injected into the call right after the create makes the first try fail; ``dag.retries`` = 1).
"""

from __future__ import annotations

from tests.aws import moto_harness as h


def test_a_dms_stop_short_of_the_stop_position_promotes_nothing(aws_stack):
    r = aws_stack.run("ml_ingest", scenario=h.Scenario(dms_stop_reason="Stop Reason RECOVERABLE_ERROR"))
    assert r.state == "failed"
    assert r.tasks["oltp.dms_wait"] == "success", "the provider's sensor accepts any stopped task"
    assert r.tasks["oltp.dms_check_stop"] == "failed" and r.tasks["oltp.promote"] == "upstream_failed"
    assert r.tasks["clickstream.promote"] == "success"  # the other sources still land
    lake = aws_stack.client("s3").list_objects_v2(Bucket=h.LAKE_BUCKET, Prefix="lake/bronze/oltp/")
    assert lake.get("KeyCount", 0) == 0
    assert any("RECOVERABLE_ERROR" in e for e in r.driver_events)


def test_failed_emr_step_terminates_the_cluster_and_fails_the_run(aws_stack):
    r = aws_stack.run("ml_features", scenario=h.Scenario(emr_step_state="FAILED"))
    assert r.state == "failed"
    assert r.tasks["silver.wait_for_step"] == "failed" and r.tasks["terminate_cluster"] == "success"
    assert r.tasks["gate_silver"] == "upstream_failed" and r.tasks["gold.add_step"] == "upstream_failed"
    emr = aws_stack.server.operations("elasticmapreduce")
    assert emr.index("TerminateJobFlows") > emr.index("DescribeStep") and emr.count("AddJobFlowSteps") == 1
    assert "athena" not in {c.service for c in aws_stack.server.dag_calls()}
    (cluster,) = aws_stack.client("emr").list_clusters()["Clusters"]
    assert cluster["Status"]["State"].startswith("TERMINAT")


def test_failed_tuning_job_registers_nothing(aws_stack):
    r = aws_stack.run("ml_training", scenario=h.Scenario(tuning_status="Failed"))
    assert r.state == "failed" and r.tasks["tune.tuning_job"] == "failed"
    assert r.tasks["register"] == "upstream_failed" and r.tasks["evaluate.processing_job"] == "upstream_failed"
    sm = aws_stack.server.operations("sagemaker")
    assert sm.count("CreateHyperParameterTuningJob") == 1
    assert "CreateModelPackage" not in sm and "CreateProcessingJob" not in sm
    group = aws_stack.cfg.training.registry.model_package_group
    assert aws_stack.client("sagemaker").list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"] == []


def _serving_config(aws_stack) -> tuple[str, str]:
    e = aws_stack.client("sagemaker").describe_endpoint(EndpointName=aws_stack.cfg.deployment.endpoint_name)
    return e["EndpointStatus"], e["EndpointConfigName"]


def test_rolled_back_endpoint_update_keeps_the_previous_config_serving(aws_stack):
    aws_stack.approve()
    h.queue_predictions(4, aws_stack.cfg.deployment.smoke_test.gold_rows)
    first = aws_stack.run("ml_deployment")
    assert first.state == "success", first.tasks
    before = _serving_config(aws_stack)

    aws_stack.approve()  # version 2, whose canary trips the alarms
    aws_stack.server.calls.clear()
    r = aws_stack.run("ml_deployment", scenario=h.Scenario(endpoint_update="rollback"))
    assert r.state == "failed"
    assert r.tasks["deploy_endpoint"] == "failed" and r.tasks["smoke_test"] == "upstream_failed"
    assert aws_stack.server.operations("sagemaker").count("UpdateEndpoint") == 1
    assert _serving_config(aws_stack) == before == ("InService", before[1])
    assert any("rolled back" in e for e in r.driver_events)


def test_retried_training_tasks_reattach_to_their_tuning_job_and_model_package(aws_stack, monkeypatch):
    monkeypatch.setenv("MLPIPE__DAG__RETRIES", "1")
    faults = [h.Fault("tune.tuning_job", "DescribeHyperParameterTuningJob", nth=2),  # right after the create
              h.Fault("register", "DescribeModelPackage", nth=1)]                     # right after CreateModelPackage
    r = aws_stack.run("ml_training", scenario=h.Scenario(faults=faults))
    assert all(f.fired for f in faults), "each first try must fail after its create"
    assert r.state == "success", r.tasks
    sm = aws_stack.server.operations("sagemaker")
    assert sm.count("CreateHyperParameterTuningJob") == 1 and sm.count("CreateModelPackage") == 1
    client = aws_stack.client("sagemaker")
    assert len(client.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]) == 1
    group = aws_stack.cfg.training.registry.model_package_group
    assert len(client.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]) == 1


def test_retried_batch_transform_waits_for_its_job_instead_of_starting_another(aws_stack, monkeypatch):
    monkeypatch.setenv("MLPIPE__DAG__RETRIES", "1")
    monkeypatch.setenv("MLPIPE__DEPLOYMENT__MODE", "batch")
    aws_stack.approve()
    fault = h.Fault("batch_transform", "DescribeTransformJob", nth=2)  # the describe right after the create
    scenario = h.Scenario(transform_status="InProgress", step_seconds=4.0, faults=[fault])
    r = aws_stack.run("ml_deployment", scenario=scenario)
    assert fault.fired
    assert r.state == "success", r.tasks
    ops = aws_stack.server.operations("sagemaker")
    assert ops.count("CreateTransformJob") == 1
    # the first try failed before deferring, so any trigger call is the retry waiting for the running job
    assert any(c.phase == "trigger" and c.task == "batch_transform" for c in r.calls)
    (job,) = aws_stack.client("sagemaker").list_transform_jobs()["TransformJobSummaries"]
    assert job["TransformJobStatus"] == "Completed"
    found = [e for e in r.driver_events if e.startswith("transform ")]
    assert found == [f"transform {job['TransformJobName']} Completed"]
