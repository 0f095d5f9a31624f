"""The requests each Amazon-provider operator of the DAGs sends, rebuilt from its rendered fields the way the
provider (9.34.0) builds them, plus the further calls its hook, waiter or trigger makes (for the IAM policy).

- :func:`load_dags`: every DAG file in dags/ on the aws stack (``PIPELINE_ENV=aws-dev``);
- :func:`render`: an operator's templates rendered with a run's context and :class:`FakeTI`, which answers
  every XCom pull the aws-stack templates make with what the upstream task would have pushed;
- :func:`requests_of`: ``[(service, operation, params), ...]`` of a rendered operator; ``None`` for a task
  that is not an Amazon-provider operator; :class:`KeyError` for a provider operator nobody taught this
  module yet (so a new operator cannot go unchecked);
- :data:`FOLLOW_UP_CALLS`: the API calls each provider operator class makes besides its main request.
"""

from __future__ import annotations

import datetime as dt
import os
import runpy
from typing import Any

from botocore_shapes import ROOT

DS = "2026-11-01"
LAKE = "s3://acme-ml-lake-dev/lake"
CLUSTER_ID = "j-2AXXXXXXGAPLF"
TUNING_NAME = "ml-training-20261101-0123abcd"
PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlpipe-churn-dev/7"


class _Partitions(dict):
    def __init__(self, layer: str) -> None:
        super().__init__()
        self.layer = layer

    def __missing__(self, dataset: str) -> str:
        return f"{LAKE}/{self.layer}/{dataset}/dt={DS}"


class FakeTI:
    """What the aws-stack templates pull from XCom, as the upstream tasks would push it for ``DS``."""

    def __init__(self) -> None:
        from mlpipe.config import load_config
        from mlpipe.lake import LakeLayout
        from mlpipe.tasks.deployment import names

        cfg = load_config()
        root = f"{LAKE}/training/{cfg.training.registry.model_package_group}/dt={DS}"
        best = {"name": TUNING_NAME, "best": {"name": f"{TUNING_NAME}-001-abc",
                                              "model_uri": f"{root}/tuning/output/x/output/model.tar.gz"}}
        self.values: dict[tuple[str, str | None], Any] = {
            # ml_features
            ("write_spec", "ds"): DS,
            ("write_spec", "spec_uri"): f"{LAKE}/_specs/ml_features/dt={DS}/spec.json",
            ("create_cluster", None): CLUSTER_ID,
            ("silver.add_step", None): ["s-1SILVERSTEP0"],
            ("gold.add_step", None): ["s-2GOLDSTEP000"],
            ("gate_silver", None): {"partitions": _Partitions("silver")},
            ("gate_gold", None): {"partitions": _Partitions("gold")},
            # ml_training
            ("split", None): {"ds": DS, "root": root},
            ("tune.find_job", None): {"name": TUNING_NAME, "action": "start"},
            ("tune.best", None): best,
            ("evaluate.champion", None): {"auc": 0.81, "version": 2},
            ("evaluate.report", None): {"evaluation_uri": f"{root}/evaluation/evaluation.json",
                                        "report_uri": f"{root}/evaluation/report.html",
                                        "evaluation": {"model": {"auc": 0.83}}},
            # ml_deployment
            ("resolve_version", None): {
                "group": cfg.training.registry.model_package_group, "version": 7, "arn": PACKAGE_ARN,
                "status": "Approved", "ds": DS, "names": names(cfg, DS, PACKAGE_ARN),
                "gold_partition": LakeLayout.from_config(cfg).gold(cfg.features.gold.name, DS),
                "predictions": LakeLayout.from_config(cfg).predictions(DS)},
            ("prepare_transform_input", None): {"input": f"{LAKE}/_staging/ml_deployment/scoring/dt={DS}/",
                                                "rows": 10},
            ("find_transform_job", None): {"name": names(cfg, DS, PACKAGE_ARN)["transform_job"], "action": "start"},
        }

    def xcom_pull(self, task_ids: str, key: str | None = None, **_: Any) -> Any:
        key = None if key in (None, "return_value") else key
        if key is None and task_ids.endswith(".dms_start_type"):  # ml_ingest: after the first run
            return "resume-processing"
        if (task_ids, key) not in self.values:
            raise KeyError(f"FakeTI has no XCom for task {task_ids!r} key {key!r}: add what that task pushes "
                           "to tests/aws/provider_requests.py")
        return self.values[(task_ids, key)]


def context(op: Any) -> dict[str, Any]:
    from airflow.sdk.execution_time import macros

    ti = FakeTI()
    logical = dt.datetime.fromisoformat(DS).replace(tzinfo=dt.UTC)
    return {"ti": ti, "task_instance": ti, "params": op.params, "ds": DS, "ds_nodash": DS.replace("-", ""),
            "logical_date": logical, "macros": macros, "dag": op.dag, "task": op}


def render(op: Any) -> Any:
    op.render_template_fields(context(op))
    return op


def load_dag(path: str, environ: dict[str, str]) -> Any:
    """One DAG file, parsed with ``environ`` set (restored after)."""
    saved = {k: os.environ.get(k) for k in environ}
    os.environ.update(environ)
    try:
        return runpy.run_path(path)["dag"]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load_dags(emr_mode: str = "transient") -> list[Any]:
    """Every DAG in dags/ on the aws stack of aws-dev."""
    env = {"PIPELINE_ENV": "aws-dev", "MLPIPE__EMR__MODE": emr_mode}
    return [load_dag(str(p), env) for p in sorted((ROOT / "dags").glob("*.py"))]


def provider_class(op: Any) -> type | None:
    """The Amazon provider's class an operator is (or extends); None for other tasks."""
    for klass in type(op).__mro__:
        if klass.__module__.startswith("airflow.providers.amazon."):
            return klass
    return None


# ---- one builder per provider class: the request the provider sends ---------------------------------------


def _s3_location(key: str, bucket: str | None) -> tuple[str, str]:
    if key.startswith("s3://"):
        b, _, k = key[len("s3://"):].partition("/")
        return b, k
    assert bucket, f"no bucket for {key}"
    return bucket, key


def _dms_start(op: Any) -> list[tuple[str, str, dict]]:
    params = {"ReplicationTaskArn": op.replication_task_arn,
              "StartReplicationTaskType": op.start_replication_task_type, **(op.start_task_kwargs or {})}
    return [("dms", "StartReplicationTask", params)]


def _dms_sensor(op: Any) -> list[tuple[str, str, dict]]:
    return [("dms", "DescribeReplicationTasks", {
        "Filters": [{"Name": "replication-task-arn", "Values": [op.replication_task_arn]}], "WithoutSettings": True})]


def _datasync(op: Any) -> list[tuple[str, str, dict]]:
    assert op.task_arn, "the configured task is used: no location search, no task created"
    execution = f"{op.task_arn}/execution/exec-0a1b2c3d4e5f60718"
    return [("datasync", "StartTaskExecution", {"TaskArn": op.task_arn, **(op.task_execution_kwargs or {})}),
            ("datasync", "DescribeTaskExecution", {"TaskExecutionArn": execution})]


def _s3_key_sensor(op: Any) -> list[tuple[str, str, dict]]:
    keys = [op.bucket_key] if isinstance(op.bucket_key, str) else list(op.bucket_key)
    assert not op.wildcard_match, "an exact key: HeadObject"
    out = []
    for key in keys:
        bucket, k = _s3_location(key, op.bucket_name)
        out.append(("s3", "HeadObject", {"Bucket": bucket, "Key": k}))
    return out


def _run_job_flow(op: Any) -> list[tuple[str, str, dict]]:
    assert op.emr_conn_id is None, "no connection is merged into the request"
    return [("emr", "RunJobFlow", dict(op.job_flow_overrides))]


def _add_steps(op: Any) -> list[tuple[str, str, dict]]:
    request = {"JobFlowId": op.job_flow_id, "Steps": op.steps}
    if op.execution_role_arn:
        request["ExecutionRoleArn"] = op.execution_role_arn
    return [("emr", "AddJobFlowSteps", request),
            ("emr", "ListSteps", {"ClusterId": op.job_flow_id, "StepStates": ["PENDING", "RUNNING"]})]


def _step_sensor(op: Any) -> list[tuple[str, str, dict]]:
    return [("emr", "DescribeStep", {"ClusterId": op.job_flow_id, "StepId": op.step_id})]


def _terminate(op: Any) -> list[tuple[str, str, dict]]:
    return [("emr", "TerminateJobFlows", {"JobFlowIds": [op.job_flow_id]}),
            ("emr", "DescribeCluster", {"ClusterId": op.job_flow_id})]


def _start_job_run(op: Any) -> list[tuple[str, str, dict]]:
    request = {"clientToken": op.client_request_token, "applicationId": op.application_id,
               "executionRoleArn": op.execution_role_arn, "jobDriver": op.job_driver, "name": op.name,
               **op.config}
    if op.configuration_overrides is not None:
        request["configurationOverrides"] = op.configuration_overrides
    return [("emr-serverless", "GetApplication", {"applicationId": op.application_id}),
            ("emr-serverless", "StartJobRun", request),
            ("emr-serverless", "GetJobRun", {"applicationId": op.application_id, "jobRunId": "00fjobrun0000001"}),
            ("emr-serverless", "ListJobRuns", {"applicationId": op.application_id})]


def _athena(op: Any) -> list[tuple[str, str, dict]]:
    ctx = {"Catalog": op.catalog, **({"Database": op.database} if op.database else {})}
    result = dict(op.result_configuration)
    if op.output_location:
        result["OutputLocation"] = op.output_location
    request = {"QueryString": op.query, "QueryExecutionContext": ctx, "ResultConfiguration": result,
               "WorkGroup": op.workgroup}
    if op.client_request_token:
        request["ClientRequestToken"] = op.client_request_token
    return [("athena", "StartQueryExecution", request),
            ("athena", "GetQueryExecution", {"QueryExecutionId": "11111111-2222-3333-4444-555555555555"})]


def _tuning(op: Any) -> list[tuple[str, str, dict]]:
    name = op.config["HyperParameterTuningJobName"]
    return [("sagemaker", "CreateHyperParameterTuningJob", op.config),
            ("sagemaker", "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name})]


def _processing(op: Any) -> list[tuple[str, str, dict]]:
    name = op.config["ProcessingJobName"]
    return [("sagemaker", "CreateProcessingJob", op.config),
            ("sagemaker", "DescribeProcessingJob", {"ProcessingJobName": name}),
            ("sagemaker", "ListProcessingJobs", {"NameContains": name})]


def _register(op: Any) -> list[tuple[str, str, dict]]:
    request = {"InferenceSpecification": {"Containers": [{"Image": op.image_uri, "ModelDataUrl": op.model_url}],
                                          "SupportedContentTypes": ["text/csv"],
                                          "SupportedResponseMIMETypes": ["text/csv"]},
               "ModelPackageGroupName": op.package_group_name, "ModelPackageDescription": op.package_desc,
               "ModelApprovalStatus": op.model_approval.value, **(op.extras or {})}
    # the provider passes package_desc as the group's description
    group = {"ModelPackageGroupName": op.package_group_name, "ModelPackageGroupDescription": op.package_desc}
    return [("sagemaker", "CreateModelPackageGroup", group),
            ("sagemaker", "CreateModelPackage", request),
            ("sagemaker", "ListModelPackages", {"ModelPackageGroupName": op.package_group_name}),
            ("sagemaker", "DescribeModelPackage", {"ModelPackageName": PACKAGE_ARN})]


def _model(op: Any) -> list[tuple[str, str, dict]]:
    return [("sagemaker", "CreateModel", op.config),
            ("sagemaker", "DescribeModel", {"ModelName": op.config["ModelName"]})]


def _endpoint_config(op: Any) -> list[tuple[str, str, dict]]:
    return [("sagemaker", "CreateEndpointConfig", op.config),
            ("sagemaker", "DescribeEndpointConfig", {"EndpointConfigName": op.config["EndpointConfigName"]})]


def _endpoint(op: Any) -> list[tuple[str, str, dict]]:
    config = op.config.get("Endpoint", op.config)
    update = {k: v for k, v in config.items() if k != "Tags"}  # the operator's fallback when it exists
    return [("sagemaker", "CreateEndpoint", config), ("sagemaker", "UpdateEndpoint", update),
            ("sagemaker", "DescribeEndpoint", {"EndpointName": config["EndpointName"]})]


def _transform(op: Any) -> list[tuple[str, str, dict]]:
    config = op.config.get("Transform", op.config)
    name = config["TransformJobName"]
    return [("sagemaker", "CreateTransformJob", config),
            ("sagemaker", "DescribeTransformJob", {"TransformJobName": name}),
            ("sagemaker", "ListTransformJobs", {"NameContains": name}),
            ("sagemaker", "DescribeModel", {"ModelName": config["ModelName"]})]


BUILDERS = {
    "DmsStartTaskOperator": _dms_start,
    "DmsTaskCompletedSensor": _dms_sensor,
    "DataSyncOperator": _datasync,
    "S3KeySensor": _s3_key_sensor,
    "EmrCreateJobFlowOperator": _run_job_flow,
    "EmrAddStepsOperator": _add_steps,
    "EmrStepSensor": _step_sensor,
    "EmrTerminateJobFlowOperator": _terminate,
    "EmrServerlessStartJobOperator": _start_job_run,
    "AthenaOperator": _athena,
    "SageMakerTuningOperator": _tuning,
    "SageMakerProcessingOperator": _processing,
    "SageMakerRegisterModelVersionOperator": _register,
    "SageMakerModelOperator": _model,
    "SageMakerEndpointConfigOperator": _endpoint_config,
    "SageMakerEndpointOperator": _endpoint,
    "SageMakerTransformOperator": _transform,
}

# Calls a provider operator makes besides the requests above, which need no rendering to know: waiters,
# triggers and existence checks (from the provider's source; tests/aws/test_ingest_requests.py checks the
# ingestion ones against the calls recorded on moto).
FOLLOW_UP_CALLS: dict[str, list[tuple[str, str]]] = {
    "DmsStartTaskOperator": [],
    "DmsTaskCompletedSensor": [],
    "DataSyncOperator": [("datasync", "DescribeTask")],
    "S3KeySensor": [],
    "EmrCreateJobFlowOperator": [("emr", "DescribeCluster"), ("emr", "ListClusters"),
                                 ("emr", "TerminateJobFlows")],
    "EmrAddStepsOperator": [("emr", "DescribeStep")],
    "EmrStepSensor": [],
    "EmrTerminateJobFlowOperator": [],
    "EmrServerlessStartJobOperator": [("emr-serverless", "StartApplication"), ("emr-serverless", "CancelJobRun")],
    "AthenaOperator": [("athena", "StopQueryExecution")],
    "SageMakerTuningOperator": [("sagemaker", "StopHyperParameterTuningJob")],
    "SageMakerProcessingOperator": [("sagemaker", "StopProcessingJob")],
    "SageMakerRegisterModelVersionOperator": [],
    "SageMakerModelOperator": [],
    "SageMakerEndpointConfigOperator": [],
    "SageMakerEndpointOperator": [("sagemaker", "DescribeEndpointConfig")],
    "SageMakerTransformOperator": [("sagemaker", "StopTransformJob")],
}


def requests_of(op: Any) -> list[tuple[str, str, dict]] | None:
    klass = provider_class(op)
    if klass is None:
        return None
    if klass.__name__ not in BUILDERS:
        raise KeyError(f"{op.task_id}: no request builder for the provider's {klass.__name__}; add one to "
                       "tests/aws/provider_requests.py BUILDERS (and its FOLLOW_UP_CALLS)")
    return BUILDERS[klass.__name__](op)
