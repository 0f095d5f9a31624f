"""AWS training at build time: SageMaker HPO on managed spot GPUs, a Processing job running evaluate.py, the
Model Registry::

    split >> tune.find_job >> tune.tuning_job >> tune.best
          >> evaluate.champion >> evaluate.processing_job >> evaluate.report >> gate >> lineage >> register

The task bodies are :mod:`mlpipe.tasks.training` (champion, report, lineage: shared with the local stack) and
:mod:`mlpipe.tasks.training_aws` (find_job, best, the report's spot saving); this module holds the operator
subclasses and the request builders (pure functions of the config, with Jinja strings).

Retry safety: the tuning job's name is deterministic (dag id, date, config hash). ``tune.find_job`` describes it
first: InProgress -> the operator waits for it (deferred, no second job); Completed -> reused; Failed/Stopped
-> the next attempt (``-r2``, ``-r3``...). The operator checks again right before CreateHyperParameterTuningJob,
so a retry of the operator alone reattaches too. ``register`` returns the version already registered for the
tuning job (``CustomerMetadataProperties.tuning_job_name``) instead of adding a second.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerProcessingOperator,
    SageMakerRegisterModelVersionOperator,
    SageMakerTuningOperator,
)
from airflow.sdk import TaskGroup, task

from mlpipe.config import PipelineConfig
from mlpipe.config.instances import volume_kms
from mlpipe.dagkit import model_asset
from mlpipe.errors import ConfigError, MlPipeError
from mlpipe.services import sagemaker_registry
from mlpipe.stacks.aws.waits import poll_seconds
from mlpipe.tasks.reattach import ACTIVE
from mlpipe.tasks.training import DAG_ID, champion, lineage_uri, write_lineage
from mlpipe.tasks.training_aws import best, find_job, report, tuning_job_status

log = logging.getLogger(__name__)

SOURCEDIR_KEY = "training/sourcedir.tar.gz"   # include/training packed by `make deploy`
CODE_PREFIX_KEY = "training/code/"            # include/training unpacked (evaluate.py and its siblings)
CHECK_INTERVAL_SECONDS = 60
PROCESSING_INSTANCE_TYPE = "ml.m5.xlarge"
PROCESSING_DIR = "/opt/ml/processing"

SPLIT = "ti.xcom_pull(task_ids='split')"
FIND = "ti.xcom_pull(task_ids='tune.find_job')"
BEST = "ti.xcom_pull(task_ids='tune.best')"
CHAMPION = "ti.xcom_pull(task_ids='evaluate.champion')"
REPORT = "ti.xcom_pull(task_ids='evaluate.report')"


def _j(expr: str) -> str:
    return "{{ " + expr + " }}"


class ReattachingTuningOperator(SageMakerTuningOperator):
    """SageMakerTuningOperator that never starts a second job: an existing InProgress job is waited for
    (deferred), a Completed one returned; only a name SageMaker does not know is created."""

    def execute(self, context: Any) -> dict:
        name = self.config["HyperParameterTuningJobName"]
        status = tuning_job_status(self.hook)(name)
        if status is None:
            return super().execute(context)
        if status == "Completed":
            self.log.info("tuning job %s is Completed: reusing it", name)
            return {"Tuning": self.hook.describe_tuning_job(name)}
        if status not in ACTIVE:
            raise MlPipeError(f"tuning job {name} is {status}: clear tune.find_job so the next attempt starts")
        self.log.info("tuning job %s is %s: waiting for it, no second job", name, status)
        from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger

        self.defer(trigger=SageMakerTrigger(job_name=name, job_type="tuning", waiter_delay=self.check_interval,
                                            aws_conn_id=self.aws_conn_id),
                   method_name="execute_complete")
        return {}


def tuning_config(cfg: PipelineConfig, name: str, split_root: str) -> dict[str, Any]:
    """CreateHyperParameterTuningJob (templated: ``name`` and ``split_root`` may be Jinja)."""
    tr, sm, aws = cfg.training, cfg.training.sagemaker, cfg.aws
    if not sm.role_arn:
        raise ConfigError("training.sagemaker.role_arn: required on the aws stack (the training jobs' role)")
    if not aws.code_bucket:
        raise ConfigError("aws.code_bucket: required on the aws stack (make deploy uploads include/training)")
    kms = aws.kms_key_arn
    static = {**tr.static_hyperparameters(), "sagemaker_program": "train.py",
              "sagemaker_submit_directory": f"/opt/ml/input/data/code/{SOURCEDIR_KEY.rsplit('/', 1)[-1]}"}

    def channel(ch: str, uri: str, content: str = "application/x-parquet") -> dict[str, Any]:
        return {"ChannelName": ch, "ContentType": content, "InputMode": "File", "CompressionType": "None",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                                "S3DataDistributionType": "FullyReplicated"}}}

    definition: dict[str, Any] = {
        "StaticHyperParameters": static,
        "AlgorithmSpecification": {"TrainingImage": sm.image_uri, "TrainingInputMode": "File",
                                   "MetricDefinitions": tr.sagemaker_metric_definitions()},
        "RoleArn": sm.role_arn,
        "InputDataConfig": [channel("train", f"{split_root}/train/"),
                            channel("validation", f"{split_root}/validation/"),
                            channel("code", f"s3://{aws.code_bucket}/{SOURCEDIR_KEY}", "application/x-tar")],
        "OutputDataConfig": {"S3OutputPath": f"{split_root}/tuning/output/", **({"KmsKeyId": kms} if kms else {})},
        "ResourceConfig": {"InstanceType": sm.instance_type, "InstanceCount": sm.instance_count,
                           "VolumeSizeInGB": sm.volume_size_gb, **volume_kms(sm.instance_type, kms)},
        "StoppingCondition": sm.stopping_condition(),
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True,
        "EnableManagedSpotTraining": sm.use_spot,
        "CheckpointConfig": {"S3Uri": f"{split_root}/tuning/checkpoints/", "LocalPath": "/opt/ml/checkpoints"},
    }
    if aws.subnet_ids:
        definition["VpcConfig"] = {"Subnets": list(aws.subnet_ids), "SecurityGroupIds": list(aws.security_group_ids)}
    ranges = {k: v for k, v in tr.sagemaker_parameter_ranges().items() if v}
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": tr.tuning.strategy,
            "HyperParameterTuningJobObjective": tr.sagemaker_objective(),
            "ResourceLimits": {"MaxNumberOfTrainingJobs": tr.tuning.max_jobs,
                               "MaxParallelTrainingJobs": tr.tuning.max_parallel_jobs},
            "ParameterRanges": ranges,
            "TrainingJobEarlyStoppingType": tr.tuning.early_stopping_type,
        },
        "TrainingJobDefinition": definition,
        "Tags": [{"Key": "mlpipe:dag", "Value": DAG_ID}, {"Key": "mlpipe:environment", "Value": cfg.environment}],
    }


def inference_specification(cfg: PipelineConfig, model_url: str) -> dict[str, Any]:
    """CreateModelPackage's ``InferenceSpecification`` for ``model_url`` (templated): the one the SageMaker
    registry service registers (:func:`mlpipe.services.sagemaker_registry.inference_specification`: the
    training image serving through the project's handler, ``SAGEMAKER_PROGRAM`` in model.tar.gz's ``code/``,
    the content types the handler accepts and answers with), with the model's URI."""
    spec = sagemaker_registry.inference_specification(cfg)
    spec["Containers"] = [{**container, "ModelDataUrl": model_url} for container in spec["Containers"]]
    return spec


def processing_config(cfg: PipelineConfig, name: str, split_root: str, model_uri: str,
                      champion_args: str) -> dict[str, Any]:
    """CreateProcessingJob: evaluate.py in the training image on the test split (Jinja in the string args)."""
    sm, aws, e = cfg.training.sagemaker, cfg.aws, cfg.training.evaluation
    kms = aws.kms_key_arn
    p = PROCESSING_DIR

    def s3_in(input_name: str, uri: str, dest: str) -> dict[str, Any]:
        return {"InputName": input_name, "S3Input": {"S3Uri": uri, "LocalPath": dest, "S3DataType": "S3Prefix",
                                                     "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}

    # sh -c '<unpack>; exec python3 "$0" "$@"' evaluate.py <args>: each element stays within 256 characters
    unpack = f'mkdir -p {p}/model && tar -xzf {p}/artifact/model.tar.gz -C {p}/model && exec python3 "$0" "$@"'
    arguments = ["--model-dir", f"{p}/model", "--test", f"{p}/test", "--output", f"{p}/evaluation/evaluation.json",
                 "--threshold", repr(e.decision_threshold), "--baseline-margin", repr(e.baseline_margin),
                 "--champion-tolerance", repr(e.champion_tolerance), champion_args]
    config: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingInputs": [s3_in("code", f"s3://{aws.code_bucket}/{CODE_PREFIX_KEY}", f"{p}/code"),
                             s3_in("model", model_uri, f"{p}/artifact"),
                             s3_in("test", f"{split_root}/test/", f"{p}/test")],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "evaluation", "S3Output": {
            "S3Uri": f"{split_root}/evaluation/", "LocalPath": f"{p}/evaluation", "S3UploadMode": "EndOfJob"}}],
            **({"KmsKeyId": kms} if kms else {})},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": PROCESSING_INSTANCE_TYPE,
                                                  "VolumeSizeInGB": sm.volume_size_gb,
                                                  **volume_kms(PROCESSING_INSTANCE_TYPE, kms)}},
        "StoppingCondition": {"MaxRuntimeInSeconds": sm.max_runtime_seconds},
        "AppSpecification": {"ImageUri": sm.image_uri,
                             "ContainerEntrypoint": ["/bin/sh", "-c", unpack, f"{p}/code/evaluate.py"],
                             "ContainerArguments": arguments},
        "RoleArn": sm.role_arn,
        "NetworkConfig": {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True,
                          **({"VpcConfig": {"Subnets": list(aws.subnet_ids),
                                            "SecurityGroupIds": list(aws.security_group_ids)}}
                             if aws.subnet_ids else {})},
        "Tags": [{"Key": "mlpipe:dag", "Value": DAG_ID}],
    }
    return config


class IdempotentRegisterModelVersionOperator(SageMakerRegisterModelVersionOperator):
    """Returns the version already registered for the tuning job (CustomerMetadataProperties) if any; emits
    the model Asset with the version and status."""

    template_fields = (*SageMakerRegisterModelVersionOperator.template_fields, "extras")

    def execute(self, context: Any) -> str:
        tuning = (self.extras or {}).get("CustomerMetadataProperties", {}).get("tuning_job_name")
        arn = self._existing(tuning) if tuning else None
        if arn:
            self.log.info("tuning job %s was registered before as %s: reusing it", tuning, arn)
        else:
            arn = super().execute(context)
        described = self.hook.conn.describe_model_package(ModelPackageName=arn)
        for asset in self.outlets or []:
            context["outlet_events"][asset].extra = {
                "version": described.get("ModelPackageVersion"), "status": described.get("ModelApprovalStatus"),
                "arn": arn, "ds": (self.extras or {}).get("CustomerMetadataProperties", {}).get("ds")}
        return arn

    def _existing(self, tuning: str) -> str | None:
        """The ARN of the version registered for the tuning job (:meth:`SageMakerModelRegistry.find`), if any."""
        registry = sagemaker_registry.SageMakerModelRegistry(self.hook, {})
        package = registry.find(self.package_group_name, tuning)
        return package.arn if package else None


class AwsTraining:
    def __init__(self, cfg: PipelineConfig) -> None:
        assert cfg.aws is not None
        self.cfg = cfg
        self.aws = {"aws_conn_id": cfg.aws.conn_id, "region_name": cfg.aws.region}

    def tune(self, split: Any) -> Any:
        with TaskGroup(group_id="tune", tooltip="SageMaker HPO (reattaches to its own job)"):
            found = task(find_job, task_id="find_job")(split)
            op = ReattachingTuningOperator(
                task_id="tuning_job",
                config=tuning_config(self.cfg, _j(FIND + "['name']"), _j(SPLIT + "['root']")),
                wait_for_completion=True, deferrable=True, check_interval=poll_seconds(self.cfg, CHECK_INTERVAL_SECONDS),
                max_ingestion_time=self.cfg.training.sagemaker.max_wait_seconds * self.cfg.training.tuning.max_jobs,
                **self.aws)
            out = task(best, task_id="best")(split, found)
            found >> op >> out
        return out

    def evaluate(self, split: Any, tuned: Any) -> Any:
        name = "{{ " + FIND + "['name'] }}-eval"
        # one argument: --champion-auc=<auc>, or (no champion) a repeat of the tolerance, which changes nothing
        champ_args = ("{% if " + CHAMPION + " and " + CHAMPION + "['auc'] is not none %}--champion-auc="
                      "{{ " + CHAMPION + "['auc'] }}{% else %}--champion-tolerance="
                      + repr(self.cfg.training.evaluation.champion_tolerance) + "{% endif %}")
        with TaskGroup(group_id="evaluate", tooltip="evaluate.py as a SageMaker Processing job"):
            champ = task(champion, task_id="champion")()
            processing_job = SageMakerProcessingOperator(
                task_id="processing_job",
                config=processing_config(self.cfg, name, _j(SPLIT + "['root']"), _j(BEST + "['best']['model_uri']"),
                                         champ_args),
                action_if_job_exists="timestamp", wait_for_completion=True, deferrable=True,
                check_interval=poll_seconds(self.cfg, CHECK_INTERVAL_SECONDS), **self.aws)
            out = task(report, task_id="report")(split, tuned, champ)
            tuned >> champ >> processing_job >> out
        return out

    def register(self, split: Any, tuned: Any, evaluated: Any, verdict: Any) -> Any:
        reg, sm = self.cfg.training.registry, self.cfg.training.sagemaker
        op = IdempotentRegisterModelVersionOperator(
            task_id="register",
            image_uri=sm.image_uri,
            model_url=_j(BEST + "['best']['model_uri']"),
            package_group_name=reg.model_package_group,
            package_group_desc=f"mlpipe {self.cfg.environment}: {self.cfg.features.gold.name} -> {self.cfg.training.label}",
            package_desc="ml_training dt=" + _j(SPLIT + "['ds']") + ": tuning job " + _j(BEST + "['name']"),
            model_approval=_approval(reg.auto_approve),
            extras={
                # replaces the operator's own (image and model only, CSV only): adds the serving environment
                "InferenceSpecification": inference_specification(self.cfg, _j(BEST + "['best']['model_uri']")),
                "ModelMetrics": {"ModelQuality": {"Statistics": {
                    "ContentType": "application/json", "S3Uri": _j(REPORT + "['evaluation_uri']")}}},
                "CustomerMetadataProperties": {
                    "tuning_job_name": _j(BEST + "['name']"), "best_training_job": _j(BEST + "['best']['name']"),
                    "ds": _j(SPLIT + "['ds']"), "test_auc": _j(REPORT + "['evaluation']['model']['auc']"),
                    "lineage_uri": lineage_uri(_j(SPLIT + "['root']")),
                    "report_uri": _j(REPORT + "['report_uri']")},
            },
            outlets=[model_asset(self.cfg)],
            **self.aws)
        lineage = task(write_lineage, task_id="lineage")(split, tuned, evaluated)
        verdict >> lineage >> op
        return op.output


def _approval(auto: bool) -> Any:
    from airflow.providers.amazon.aws.utils.sagemaker import ApprovalStatus

    return ApprovalStatus.APPROVED if auto else ApprovalStatus.PENDING_MANUAL_APPROVAL
