"""AWS deployment (build time: operators, their requests, the wiring): the Approved model package behind a SageMaker endpoint (blue/green) and a batch transform job::

    resolve_version >> create_model >> create_endpoint_config >> deploy_endpoint >> smoke_test   (endpoint | both)
    resolve_version >> smoke_test
    resolve_version >> [create_model, prepare_transform_input] >> find_transform_job >> batch_transform (batch|both)

- ``create_model``: ``CreateModel`` with ``Containers=[{ModelPackageName: <approved package ARN>}]``, the
  execution role, the VPC and network isolation. ``create_endpoint_config``: one production variant (instance
  type/count), ``DataCaptureConfig`` to S3 with KMS, ``KmsKeyId``. Both names are ``job_name`` of the date and a
  hash of the package and the settings, and both operators reuse an existing resource of that name, so a retry
  never fails on "already exists".
- ``deploy_endpoint``: ``CreateEndpoint`` of ``deployment.endpoint_name``; when it exists, ``UpdateEndpoint``
  with the same ``DeploymentConfig``: blue/green, a canary of ``canary_percent`` of the new fleet for
  ``canary_wait_seconds``, the old fleet kept ``termination_wait_seconds``, auto-rollback when any of ``alarms``
  fires. The wait is deferred (the provider's trigger); afterwards the endpoint must be InService *on this
  endpoint config*: an update SageMaker rolled back leaves it InService on the previous one, which fails the
  task with the endpoint's FailureReason (the previous config keeps serving). A retry of an endpoint already on
  this endpoint config returns; one still Creating/Updating from an earlier try is waited for, not updated again.
- ``prepare_transform_input`` and ``find_transform_job``: task bodies of :mod:`mlpipe.tasks.deployment_aws`
  (the scoring rows as JSON lines; which attempt of the transform job this run uses: its name is ``job_name``
  of the date and a hash of the model package and the transform settings).
- ``batch_transform``: ``SageMakerTransformOperator`` to ``<lake>/predictions/dt=<ds>/`` with KMS, on the name
  ``find_transform_job`` chose; it checks again right before CreateTransformJob (a retry of the operator alone
  reattaches too), waits deferred, and never starts a second job or fails on "already exists".
"""

from __future__ import annotations

import json
import logging
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointConfigOperator,
    SageMakerEndpointOperator,
    SageMakerModelOperator,
    SageMakerTransformOperator,
)
from airflow.sdk import task

from mlpipe.config import PipelineConfig
from mlpipe.config.instances import volume_kms
from mlpipe.errors import ConfigError, MlPipeError
from mlpipe.services.endpoints import capture_root
from mlpipe.stacks.aws.waits import poll_seconds
from mlpipe.tasks.deployment import DAG_ID, RESOLVE_TASK_ID, SMOKE_TASK_ID, smoke_test
from mlpipe.tasks.deployment_aws import FIND_TRANSFORM_TASK_ID, find_transform_job, prepare_transform_input
from mlpipe.tasks.reattach import decide_attempt, status_reader

log = logging.getLogger(__name__)

RESOLVED = f"ti.xcom_pull(task_ids='{RESOLVE_TASK_ID}')"
PREPARED = "ti.xcom_pull(task_ids='prepare_transform_input')"
FOUND_TRANSFORM = f"ti.xcom_pull(task_ids='{FIND_TRANSFORM_TASK_ID}')"
CHECK_INTERVAL_SECONDS = 60
MAX_ENDPOINT_SECONDS = 3 * 3600


def _j(expr: str) -> str:
    return "{{ " + expr + " }}"


def _kms(cfg: PipelineConfig) -> str | None:
    return cfg.deployment.kms_key_arn or (cfg.aws.kms_key_arn if cfg.aws else None)


def _tags(cfg: PipelineConfig) -> list[dict[str, str]]:
    return [{"Key": "mlpipe:dag", "Value": DAG_ID}, {"Key": "mlpipe:environment", "Value": cfg.environment},
            {"Key": "mlpipe:model-version", "Value": _j(RESOLVED + "['version']")}]


def _check(cfg: PipelineConfig) -> None:
    problems = []
    if cfg.aws is None:
        problems.append("aws: required on the aws stack")
    if not cfg.deployment.execution_role_arn:
        problems.append("deployment.execution_role_arn: the SageMaker model's execution role (arn:aws:iam::...:role/...)")
    if not _kms(cfg):
        problems.append("deployment.kms_key_arn (or aws.kms_key_arn): endpoint volumes, capture and transform output "
                        "are KMS-encrypted")
    if problems:
        raise ConfigError("ml_deployment on the aws stack:\n" + "\n".join(problems))


# ---- requests (templated with the resolve task's XCom) -----------------------------------------------------------


def model_request(cfg: PipelineConfig) -> dict[str, Any]:
    dep, aws = cfg.deployment, cfg.aws
    out: dict[str, Any] = {
        "ModelName": _j(RESOLVED + "['names']['model']"),
        "Containers": [{"ModelPackageName": _j(RESOLVED + "['arn']")}],
        "ExecutionRoleArn": dep.execution_role_arn,
        "EnableNetworkIsolation": dep.enable_network_isolation,
        "Tags": _tags(cfg),
    }
    if aws and aws.subnet_ids and aws.security_group_ids:
        out["VpcConfig"] = {"SecurityGroupIds": list(aws.security_group_ids), "Subnets": list(aws.subnet_ids)}
    return out


def endpoint_config_request(cfg: PipelineConfig) -> dict[str, Any]:
    dep = cfg.deployment
    cap = dep.data_capture
    out: dict[str, Any] = {
        "EndpointConfigName": _j(RESOLVED + "['names']['endpoint_config']"),
        "ProductionVariants": [{"VariantName": dep.variant_name, "ModelName": _j(RESOLVED + "['names']['model']"),
                                "InitialInstanceCount": dep.instance_count, "InstanceType": dep.instance_type,
                                "InitialVariantWeight": 1.0}],
        **volume_kms(dep.instance_type, _kms(cfg), "KmsKeyId"),
        "Tags": _tags(cfg),
    }
    if cap.enabled:
        modes = [m for m, on in (("Input", cap.capture_input), ("Output", cap.capture_output)) if on]
        out["DataCaptureConfig"] = {
            "EnableCapture": True, "InitialSamplingPercentage": cap.sampling_percentage,
            "DestinationS3Uri": capture_root(cfg), "KmsKeyId": _kms(cfg),
            "CaptureOptions": [{"CaptureMode": m} for m in modes],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}}
    return out


def endpoint_request(cfg: PipelineConfig) -> dict[str, Any]:
    """CreateEndpoint; the provider's operator sends the same (less Tags) as UpdateEndpoint when it exists."""
    return {"EndpointName": cfg.deployment.endpoint_name,
            "EndpointConfigName": _j(RESOLVED + "['names']['endpoint_config']"),
            "DeploymentConfig": cfg.deployment.blue_green.sagemaker(), "Tags": _tags(cfg)}


def transform_request(cfg: PipelineConfig) -> dict[str, Any]:
    t = cfg.deployment.transform
    return {
        "TransformJobName": _j(FOUND_TRANSFORM + "['name']"),
        "ModelName": _j(RESOLVED + "['names']['model']"),
        "MaxConcurrentTransforms": t.max_concurrent_transforms,
        "MaxPayloadInMB": t.max_payload_mb,
        "BatchStrategy": "SingleRecord",
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": 600, "InvocationsMaxRetries": 1},
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                           "S3Uri": _j(PREPARED + "['input']")}},
                           "ContentType": "application/json", "SplitType": "Line", "CompressionType": "None"},
        "TransformOutput": {"S3OutputPath": _j(RESOLVED + "['predictions']") + "/", "Accept": "application/json",
                            "AssembleWith": "Line", "KmsKeyId": _kms(cfg)},
        "TransformResources": {"InstanceType": t.instance_type, "InstanceCount": t.instance_count,
                               **volume_kms(t.instance_type, _kms(cfg))},
        "DataProcessing": {"InputFilter": "$", "JoinSource": "Input", "OutputFilter": "$"},
        "Tags": _tags(cfg),
    }


# ---- operators that reuse what a previous try created -------------------------------------------------------------


def _not_found(err: Any) -> bool:
    msg = str(err).lower()
    return "could not find" in msg or "not found" in msg or "does not exist" in msg


class ReusingModelOperator(SageMakerModelOperator):
    """CreateModel, unless a model of this name exists (a retry): then it is returned."""

    def execute(self, context: Any) -> dict:
        from botocore.exceptions import ClientError

        try:
            info = self.hook.describe_model(self.config["ModelName"])
        except ClientError as err:
            if not _not_found(err):
                raise
            return super().execute(context)
        self.log.info("model %s exists: reusing it", self.config["ModelName"])
        return {"Model": json.loads(json.dumps(info, default=str))}


class ReusingEndpointConfigOperator(SageMakerEndpointConfigOperator):
    """CreateEndpointConfig, unless one of this name exists (a retry): then it is returned."""

    def execute(self, context: Any) -> dict:
        from botocore.exceptions import ClientError

        try:
            info = self.hook.describe_endpoint_config(self.config["EndpointConfigName"])
        except ClientError as err:
            if not _not_found(err):
                raise
            return super().execute(context)
        self.log.info("endpoint config %s exists: reusing it", self.config["EndpointConfigName"])
        return json.loads(json.dumps(info, default=str))


class BlueGreenEndpointOperator(SageMakerEndpointOperator):
    """Create the endpoint, or update it blue/green; then check it serves this endpoint config.

    - an endpoint already InService on this endpoint config (a retry after success) is returned;
    - an existing endpoint is updated directly (no CreateEndpoint that fails first);
    - an endpoint still Creating/Updating/RollingBack (a retry during an earlier try's deployment) is waited for;
    - after the (deferred) wait, an endpoint InService on another endpoint config means SageMaker rolled the
      update back: :class:`MlPipeError` with its FailureReason; the previous config keeps serving.
    """

    IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack")

    def execute(self, context: Any) -> dict:
        from botocore.exceptions import ClientError

        info = self.config.get("Endpoint", self.config)
        try:
            current = self.hook.describe_endpoint(info["EndpointName"])
        except ClientError as err:
            if not _not_found(err):
                raise
            current = None
        if current and current.get("EndpointConfigName") == info["EndpointConfigName"] and \
                current.get("EndpointStatus") == "InService":
            self.log.info("endpoint %s already serves %s", info["EndpointName"], info["EndpointConfigName"])
            return {"Endpoint": json.loads(json.dumps(current, default=str))}
        if current and current.get("EndpointStatus") in self.IN_PROGRESS:
            self.log.info("endpoint %s is %s (an earlier try): waiting for it, no second update",
                          info["EndpointName"], current["EndpointStatus"])
            return self._wait(info["EndpointName"])
        if current:
            self.log.info("endpoint %s serves %s: updating it blue/green to %s", info["EndpointName"],
                          current.get("EndpointConfigName"), info["EndpointConfigName"])
            self.operation = "update"
            info.pop("Tags", None)  # UpdateEndpoint takes none; the endpoint keeps its tags
        return self._verified(super().execute(context))

    def _wait(self, name: str) -> dict:
        if self.deferrable:
            import datetime as dt

            from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger

            self.defer(trigger=SageMakerTrigger(job_name=name, job_type="endpoint", waiter_delay=self.check_interval,
                                                aws_conn_id=self.aws_conn_id),
                       method_name="execute_complete", timeout=dt.timedelta(seconds=self.max_ingestion_time))
        self.hook.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": self.check_interval,
                                             "MaxAttempts": max(1, self.max_ingestion_time // self.check_interval)})
        return self._verified({"Endpoint": self.hook.describe_endpoint(name)})

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, dict]:
        return self._verified(super().execute_complete(context, event))

    def _verified(self, result: dict) -> dict:
        info = self.config.get("Endpoint", self.config)
        endpoint = self.hook.describe_endpoint(info["EndpointName"])
        serving = endpoint.get("EndpointConfigName")
        if endpoint.get("EndpointStatus") != "InService" or serving != info["EndpointConfigName"]:
            raise MlPipeError(
                f"endpoint {info['EndpointName']} did not switch to {info['EndpointConfigName']}: it is "
                f"{endpoint.get('EndpointStatus')} on {serving} (FailureReason: {endpoint.get('FailureReason')}). "
                f"The previous endpoint config keeps serving; fix the new version (see the alarms "
                f"{[a['AlarmName'] for a in (info.get('DeploymentConfig') or {}).get('AutoRollbackConfiguration', {}).get('Alarms', [])]}"
                f" and the endpoint's CloudWatch logs), then clear deploy_endpoint")
        return json.loads(json.dumps(result, default=str))


class ReattachingTransformOperator(SageMakerTransformOperator):
    """SageMakerTransformOperator on the attempt :func:`find_transform_job` chose, checked again at execute time:
    an InProgress job is waited for (deferred), a Completed one returned, a Failed/Stopped one followed by the
    next attempt; only a name SageMaker does not know is created."""

    def execute(self, context: Any) -> dict:
        transform = self.config.get("Transform", self.config)
        action, name = decide_attempt(
            transform["TransformJobName"], status_reader(self.hook.describe_transform_job, "TransformJobStatus"),
            "transform job")
        transform["TransformJobName"] = name
        if action == "start":
            return super().execute(context)
        if action == "reuse":
            self.log.info("transform job %s is Completed: reusing it", name)
            return self.serialize_result(name)
        self.log.info("transform job %s is in progress: waiting for it, no second job", name)
        if not self.deferrable:
            self.hook.check_status(name, "TransformJobStatus", self.hook.describe_transform_job, self.check_interval,
                                   self.max_ingestion_time)
            return self.serialize_result(name)
        import datetime as dt

        from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger

        self.defer(trigger=SageMakerTrigger(job_name=name, job_type="Transform", waiter_delay=self.check_interval,
                                            waiter_max_attempts=self.max_attempts, aws_conn_id=self.aws_conn_id),
                   method_name="execute_complete",
                   timeout=dt.timedelta(seconds=self.max_ingestion_time) if self.max_ingestion_time else None)
        return {}


# ---- the stack's member ---------------------------------------------------------------------------------------


class AwsDeployment:
    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg
        self._model: Any = None

    def model(self, resolved: Any) -> Any:
        """``create_model``, shared by the endpoint and the transform job (one task per DAG)."""
        if self._model is None:
            _check(self.cfg)
            self._model = ReusingModelOperator(task_id="create_model", config=model_request(self.cfg),
                                               aws_conn_id=self.cfg.aws.conn_id)
            resolved >> self._model
        return self._model

    def endpoint(self, resolved: Any) -> Any:
        _check(self.cfg)
        conn = self.cfg.aws.conn_id
        model = self.model(resolved)
        config = ReusingEndpointConfigOperator(task_id="create_endpoint_config",
                                               config=endpoint_config_request(self.cfg), aws_conn_id=conn)
        endpoint = BlueGreenEndpointOperator(
            task_id="deploy_endpoint", config=endpoint_request(self.cfg), operation="create", deferrable=True,
            check_interval=poll_seconds(self.cfg, CHECK_INTERVAL_SECONDS), max_ingestion_time=MAX_ENDPOINT_SECONDS, aws_conn_id=conn)
        smoke = task(smoke_test, task_id=SMOKE_TASK_ID)(resolved)
        model >> config >> endpoint >> smoke
        return smoke

    def batch(self, resolved: Any) -> Any:
        _check(self.cfg)
        prepared = task(prepare_transform_input, task_id="prepare_transform_input")(resolved)
        found = task(find_transform_job, task_id=FIND_TRANSFORM_TASK_ID)(resolved)
        batch_transform = ReattachingTransformOperator(
            task_id="batch_transform", config=transform_request(self.cfg),
            aws_conn_id=self.cfg.aws.conn_id, check_if_job_exists=False, check_if_model_exists=False,
            deferrable=True, check_interval=poll_seconds(self.cfg, CHECK_INTERVAL_SECONDS),
            max_attempts=max(1, self.cfg.deployment.transform.max_runtime_seconds
                             // poll_seconds(self.cfg, CHECK_INTERVAL_SECONDS)),
            max_ingestion_time=self.cfg.deployment.transform.max_runtime_seconds)
        [prepared, self.model(resolved)] >> found >> batch_transform
        return batch_transform


__all__ = ["AwsDeployment", "endpoint_config_request", "endpoint_request", "model_request", "transform_request"]
