"""EMR for ml_features: the requests (pure functions of the config) and thin operator subclasses.

The request builders return exactly what the provider's operators send (``RunJobFlow``, ``AddJobFlowSteps``,
``StartJobRun``), with Jinja for what is known only at run time (the date, the spec's URI). The subclasses
add what the stock operators lack (what they decide when they run is :mod:`mlpipe.tasks.features_aws`):

- reattach: names are deterministic (:mod:`mlpipe.naming`: dag id, step, date, config hash), so a retried
  ``create_cluster`` finds its own cluster (same name, still active) and a retried ``add_step`` its own step
  (same name, pending or running) instead of starting a second one;
- an EMR Serverless job run's ``clientToken`` is its name: a retry whose job is still in flight (or
  succeeded) sends the same token and gets the same job run back; after a failed or cancelled job run the
  next attempt is named ``<name>-r2``, ``-r3``... (a new run of the date, first try: a new attempt too);
- ``terminate_cluster`` is skipped when no cluster was created (nothing to release).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.operators.emr import (
    EmrAddStepsOperator,
    EmrCreateJobFlowOperator,
    EmrServerlessStartJobOperator,
    EmrTerminateJobFlowOperator,
)
from airflow.sdk.exceptions import AirflowSkipException

from mlpipe import defaults, naming
from mlpipe.config import PipelineConfig
from mlpipe.stacks.aws.code import CodeLocation
from mlpipe.tasks.features import DAG_ID, SPEC_TASK_ID, SPEC_URI, xcom_template
from mlpipe.tasks.features_aws import (
    ACTIVE_CLUSTER_STATES,
    IN_FLIGHT_STEP_STATES,
    JOB_RUN_LOOKBACK,
    job_run_attempt,
    steps_to_reattach,
)

# Jinja for the date the run builds (from the spec task: asset-triggered runs have no logical date).
DS_NODASH = xcom_template(SPEC_TASK_ID, "ds", then=" | replace('-', '')")
# EMR 7's /usr/bin/python3 is 3.9; PySpark runs on the release's Python 3.11 (driver and executors alike)
PYSPARK_PYTHON_EMR = defaults.EMR_PYSPARK_PYTHON
SERVERLESS_VENV_PYTHON = "./environment/bin/python"  # the packed virtualenv, unpacked as ./environment


def templated_name(kind: str, stem: str, cfg_hash: str) -> str:
    """:func:`mlpipe.naming.job_name` with the date left to Jinja (known when the task runs; always 8 chars)."""
    placeholder = "2000-01-01"
    name = naming.job_name(kind, stem, placeholder, cfg_hash)
    suffix = f"-{placeholder.replace('-', '')}-{cfg_hash}"
    return name[: -len(suffix)] + f"-{DS_NODASH}-{cfg_hash}"


def cluster_name(cfg_hash: str) -> str:
    return templated_name("emr_cluster", DAG_ID, cfg_hash)


def job_name(step: str, cfg_hash: str) -> str:
    """The step's (EMR) or job run's (EMR Serverless; also its clientToken) name: dag id, step, date, hash."""
    return templated_name("client_token", f"{DAG_ID}-{step}", cfg_hash)


def tags(cfg: PipelineConfig, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"project": "mlpipe", "environment": cfg.environment, "dag_id": DAG_ID, **(extra or {})}


def spark_conf_args(conf: dict[str, str]) -> list[str]:
    return [arg for key, value in sorted(conf.items()) for arg in ("--conf", f"{key}={value}")]


def _ebs(size_gb: int) -> dict[str, Any]:
    return {"EbsBlockDeviceConfigs": [{"VolumeSpecification": {"VolumeType": "gp3", "SizeInGB": size_gb},
                                       "VolumesPerInstance": 1}]}


def instance_fleets(cfg: PipelineConfig) -> list[dict[str, Any]]:
    """On-demand primary and core fleets; a SPOT task fleet (left out when its spot capacity is 0)."""
    cluster = cfg.emr.cluster
    fleets: list[dict[str, Any]] = [
        {
            "Name": "primary",
            "InstanceFleetType": "MASTER",
            "TargetOnDemandCapacity": 1,
            "InstanceTypeConfigs": [{"InstanceType": t} for t in cluster.primary.instance_types],
            "LaunchSpecifications": {"OnDemandSpecification": {"AllocationStrategy": "lowest-price"}},
        },
        {
            "Name": "core",
            "InstanceFleetType": "CORE",
            "TargetOnDemandCapacity": cluster.core.on_demand_capacity,
            "TargetSpotCapacity": 0,
            "InstanceTypeConfigs": [
                {"InstanceType": t, "WeightedCapacity": 1, "EbsConfiguration": _ebs(cluster.core.ebs_volume_gb)}
                for t in cluster.core.instance_types
            ],
            "LaunchSpecifications": {"OnDemandSpecification": {"AllocationStrategy": "lowest-price"}},
        },
    ]
    task = cluster.task
    if task.spot_capacity:
        fleets.append({
            "Name": "task-spot",
            "InstanceFleetType": "TASK",
            "TargetOnDemandCapacity": 0,
            "TargetSpotCapacity": task.spot_capacity,
            "InstanceTypeConfigs": [
                {"InstanceType": t, "WeightedCapacity": 1, "BidPriceAsPercentageOfOnDemandPrice": 100.0,
                 "EbsConfiguration": _ebs(task.ebs_volume_gb)}
                for t in task.instance_types
            ],
            "LaunchSpecifications": {"SpotSpecification": {
                "TimeoutDurationMinutes": task.timeout_minutes,
                "TimeoutAction": task.timeout_action,
                "AllocationStrategy": task.allocation_strategy,
            }},
        })
    return fleets


def cluster_configurations(cfg: PipelineConfig) -> list[dict[str, Any]]:
    """RunJobFlow's Configurations: PySpark on Python 3.11 (spark-env for every Spark process, spark-defaults'
    spark.pyspark.* for the driver in YARN cluster mode and its executors), UTC, then ``emr.spark_conf``."""
    python = {"PYSPARK_PYTHON": PYSPARK_PYTHON_EMR, "PYSPARK_DRIVER_PYTHON": PYSPARK_PYTHON_EMR}
    return [
        {"Classification": "spark-defaults", "Properties": {
            "spark.pyspark.python": PYSPARK_PYTHON_EMR,
            "spark.pyspark.driver.python": PYSPARK_PYTHON_EMR,
            "spark.sql.session.timeZone": "UTC",
            **cfg.emr.spark_conf,
        }},
        {"Classification": "spark-env", "Configurations": [{"Classification": "export", "Properties": python}]},
    ]


def job_flow_overrides(cfg: PipelineConfig, code: CodeLocation, cfg_hash: str) -> dict[str, Any]:
    """The RunJobFlow request of the transient cluster (emr_conn_id=None: nothing is merged in)."""
    emr, aws, cluster = cfg.emr, cfg.aws, cfg.emr.cluster
    instances: dict[str, Any] = {
        "InstanceFleets": instance_fleets(cfg),
        "Ec2SubnetIds": list(aws.subnet_ids),
        "KeepJobFlowAliveWhenNoSteps": True,  # steps are added one at a time; Airflow terminates the cluster
        "TerminationProtected": False,
    }
    if aws.security_group_ids:
        instances["AdditionalMasterSecurityGroups"] = list(aws.security_group_ids)
        instances["AdditionalSlaveSecurityGroups"] = list(aws.security_group_ids)
    request: dict[str, Any] = {
        "Name": cluster_name(cfg_hash),
        "ReleaseLabel": emr.release_label,
        "LogUri": f"{emr.log_uri}clusters/",
        "Applications": [{"Name": "Spark"}],
        "Instances": instances,
        "BootstrapActions": [{
            "Name": "install-python-packages",
            "ScriptBootstrapAction": {"Path": code.bootstrap,
                                      "Args": ["--python", PYSPARK_PYTHON_EMR, *cluster.python_packages]},
        }],
        "Configurations": cluster_configurations(cfg),
        "ServiceRole": cluster.service_role,
        "JobFlowRole": cluster.job_flow_role,
        "SecurityConfiguration": cluster.security_configuration,
        "AutoTerminationPolicy": {"IdleTimeout": cluster.idle_timeout_minutes * 60},
        "ScaleDownBehavior": "TERMINATE_AT_TASK_COMPLETION",
        "StepConcurrencyLevel": 1,
        "VisibleToAllUsers": True,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags(cfg, cluster.tags).items())],
    }
    if aws.kms_key_arn:
        request["LogEncryptionKmsKeyId"] = aws.kms_key_arn
    return request


def spark_step(cfg: PipelineConfig, code: CodeLocation, step: str, cfg_hash: str) -> dict[str, Any]:
    """One AddJobFlowSteps step: spark-submit of main.py from the code bucket (cluster deploy mode)."""
    return {
        "Name": job_name(step, cfg_hash),
        # the cluster stays up on a failed step: the gate or the terminate task decides what happens next
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "spark-submit", "--deploy-mode", "cluster", "--py-files", code.py_files,
                *spark_conf_args(cfg.emr.spark_conf),
                code.main, "--step", step, "--spec", SPEC_URI,
            ],
        },
    }


def serverless_job_driver(cfg: PipelineConfig, code: CodeLocation, step: str) -> dict[str, Any]:
    """StartJobRun's jobDriver: main.py on the packed virtualenv of the code bucket (built for Python 3.11, the
    release's, with emr.cluster.python_packages: GX) as the Python of the driver and the executors."""
    env_python = SERVERLESS_VENV_PYTHON
    conf = {
        "spark.archives": f"{code.serverless_venv}#environment",
        "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON": env_python,
        "spark.emr-serverless.driverEnv.PYSPARK_PYTHON": env_python,
        "spark.executorEnv.PYSPARK_PYTHON": env_python,
        "spark.sql.session.timeZone": "UTC",
        **cfg.emr.spark_conf,
    }
    return {"sparkSubmit": {
        "entryPoint": code.main,
        "entryPointArguments": ["--step", step, "--spec", SPEC_URI],
        "sparkSubmitParameters": " ".join(["--py-files", code.py_files, *spark_conf_args(conf)]),
    }}


def serverless_overrides(cfg: PipelineConfig) -> dict[str, Any]:
    s3: dict[str, Any] = {"logUri": f"{cfg.emr.log_uri}serverless/"}
    out: dict[str, Any] = {"monitoringConfiguration": {"s3MonitoringConfiguration": s3}}
    if cfg.aws.kms_key_arn:
        s3["encryptionKeyArn"] = cfg.aws.kms_key_arn
        out["diskEncryptionConfiguration"] = {"encryptionKeyArn": cfg.aws.kms_key_arn}  # the workers' local disks
    return out


def serverless_extra(cfg: PipelineConfig) -> dict[str, Any]:
    """Further StartJobRun arguments (the operator's ``config``)."""
    return {"executionTimeoutMinutes": cfg.emr.step_timeout_minutes, "tags": tags(cfg)}


# ---- operators ----------------------------------------------------------------------------------------------


class FeaturesClusterOperator(EmrCreateJobFlowOperator):
    """Creates the run's transient cluster, or reattaches to it when a retry finds it still active."""

    def execute(self, context: Any) -> str | None:
        name = self.job_flow_overrides["Name"] if isinstance(self.job_flow_overrides, dict) else None
        if name:
            existing = self.hook.get_cluster_id_by_name(name, ACTIVE_CLUSTER_STATES)
            if existing:
                self.log.info("reattaching to cluster %s (%s), started by an earlier try", existing, name)
                self._job_flow_id = existing
                return existing
        return super().execute(context)


class FeaturesStepOperator(EmrAddStepsOperator):
    """Adds the step, or returns the id of the same-named step still pending or running (a retried task)."""

    def execute(self, context: Any) -> list[str]:
        if self.job_flow_id and isinstance(self.steps, list):
            pages = self.hook.conn.get_paginator("list_steps").paginate(
                ClusterId=self.job_flow_id, StepStates=IN_FLIGHT_STEP_STATES)
            found = steps_to_reattach([s["Name"] for s in self.steps],
                                      [s for page in pages for s in page.get("Steps", [])])
            if found is not None:
                self.log.info("reattaching to steps %s on %s, added by an earlier try", found, self.job_flow_id)
                return found
        return super().execute(context)


class TerminateClusterOperator(EmrTerminateJobFlowOperator):
    """Terminates the run's cluster whatever happened upstream; skipped when no cluster was created."""

    def execute(self, context: Any) -> None:
        if not self.job_flow_id or self.job_flow_id == "None":
            raise AirflowSkipException("no cluster was created in this run: nothing to terminate")
        return super().execute(context)


class FeaturesJobRunOperator(EmrServerlessStartJobOperator):
    """An EMR Serverless job run named (and idempotent) by its deterministic name; see the module docstring.

    ``name`` is the first attempt's name; the attempt actually started (or reattached to) is chosen at run
    time from the application's recent job runs of that name.
    """

    # templated too (the stock operator's token is not): the first attempt's token is the rendered name
    template_fields: Sequence[str] = (*EmrServerlessStartJobOperator.template_fields, "client_request_token")

    def execute(self, context: Any, event: dict[str, Any] | None = None) -> str | None:
        # also when resumed after the application started: no job run was started in between
        self.name = self.client_request_token = self.attempt_name(str(self.name), context["ti"].try_number)
        return super().execute(context, event)

    def attempt_name(self, base: str, try_number: int) -> str:
        since = dt.datetime.now(dt.UTC) - JOB_RUN_LOOKBACK
        pages = self.hook.conn.get_paginator("list_job_runs").paginate(applicationId=self.application_id,
                                                                       createdAtAfter=since)
        return job_run_attempt(base, [r for page in pages for r in page.get("jobRuns", [])], try_number)


def attempts(total_minutes: int, delay_seconds: int) -> int:
    """How many polls of ``delay_seconds`` cover ``total_minutes``."""
    return max(1, int(dt.timedelta(minutes=total_minutes).total_seconds() // delay_seconds))
