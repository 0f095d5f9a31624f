"""AWS features: the Spark steps on EMR (``emr.mode``: a transient cluster or EMR Serverless), then the new
partitions registered in the Glue Data Catalog through Athena.

transient::

    write_spec >> create_cluster >> silver.add_step >> silver.wait_for_step >> gate_silver
               >> gold.add_step >> gold.wait_for_step >> gate_gold >> register_partitions.*
    [every step task] >> terminate_cluster (ALL_DONE: no cluster outlives its run)

serverless::

    write_spec >> silver.job_run >> gate_silver >> gold.job_run >> gate_gold >> register_partitions.*

Waiting is deferrable (no worker slot is held while Spark runs); the timeouts come from ``emr.*``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor
from airflow.sdk import TaskGroup, TriggerRule

from mlpipe import defaults
from mlpipe.config import PipelineConfig, config_hash
from mlpipe.errors import ConfigError
from mlpipe.stacks.aws.athena import register_partitions
from mlpipe.stacks.aws.code import CodeLocation
from mlpipe.stacks.aws.emr import (
    FeaturesClusterOperator,
    FeaturesJobRunOperator,
    FeaturesStepOperator,
    TerminateClusterOperator,
    attempts,
    job_flow_overrides,
    job_name,
    serverless_extra,
    serverless_job_driver,
    serverless_overrides,
    spark_step,
)
from mlpipe.stacks.aws.waits import poll_seconds
from mlpipe.tasks.features import declared_datasets, xcom_template

CREATE_CLUSTER_TASK_ID = "create_cluster"
TERMINATE_CLUSTER_TASK_ID = "terminate_cluster"
JOB_FLOW_ID = xcom_template(CREATE_CLUSTER_TASK_ID)
# slack on top of a wait's own limit, so the operator's limit (with a clear message) fires first
TIMEOUT_SLACK = dt.timedelta(minutes=10)


def check_fits(cfg: PipelineConfig) -> None:
    """What the config model cannot see alone: subnets for a cluster, and a run long enough for its waits."""
    problems = []
    if cfg.emr.mode == "transient" and not cfg.aws.subnet_ids:
        problems.append("aws.subnet_ids: required when emr.mode is 'transient' (the private subnets the cluster "
                        "may start in; the instance fleets pick the one with capacity)")
    ready = cfg.emr.cluster.ready_timeout_minutes if cfg.emr.mode == "transient" else 0
    needed = ready + 2 * cfg.emr.step_timeout_minutes
    if needed > cfg.dag.dagrun_timeout_minutes:
        problems.append(f"dag.dagrun_timeout_minutes ({cfg.dag.dagrun_timeout_minutes}) is shorter than what "
                        f"ml_features may wait on EMR ({needed} min: two steps of emr.step_timeout_minutes"
                        + (" plus emr.cluster.ready_timeout_minutes" if ready else "") + "); raise it or lower those")
    if problems:
        raise ConfigError(f"ml_features on the aws stack (environment {cfg.environment}):\n  " + "\n  ".join(problems))


class AwsFeatures:
    def __init__(self, cfg: PipelineConfig) -> None:
        assert cfg.aws is not None and cfg.emr is not None
        self.cfg = cfg
        self.emr = cfg.emr
        self.code = CodeLocation.from_config(cfg)
        self.aws = {"aws_conn_id": cfg.aws.conn_id, "region_name": cfg.aws.region}
        self.cfg_hash = config_hash(cfg.emr, cfg.lake, cfg.features)
        self._clusters: dict[str, tuple[Any, Any]] = {}  # per DAG: create_cluster, terminate_cluster
        check_fits(cfg)

    # ---- the Spark steps --------------------------------------------------------------------------------

    def step(self, step: str, spec: Any) -> TaskGroup:
        if self.emr.mode == "serverless":
            return self._serverless_step(step, spec)
        return self._cluster_step(step, spec)

    def _step_timeout(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.emr.step_timeout_minutes)

    def _cluster_tasks(self, spec: Any) -> tuple[Any, Any]:
        """create_cluster (after the spec) and terminate_cluster (ALL_DONE), made once per DAG."""
        dag_id = spec.operator.dag.dag_id
        if dag_id not in self._clusters:
            cluster = self.emr.cluster
            poll = poll_seconds(self.cfg, defaults.EMR_CLUSTER_POLL_SECONDS)
            create = FeaturesClusterOperator(
                task_id=CREATE_CLUSTER_TASK_ID,
                emr_conn_id=None,  # the whole RunJobFlow request is below; nothing merged from a connection
                job_flow_overrides=job_flow_overrides(self.cfg, self.code, self.cfg_hash),
                wait_for_completion=True,  # until WAITING: bootstrap actions done, ready for steps
                waiter_delay=poll,
                waiter_max_attempts=attempts(cluster.ready_timeout_minutes, poll),
                deferrable=True,
                terminate_job_flow_on_failure=True,
                execution_timeout=dt.timedelta(minutes=cluster.ready_timeout_minutes) + TIMEOUT_SLACK,
                **self.aws,
            )
            terminate = TerminateClusterOperator(
                task_id=TERMINATE_CLUSTER_TASK_ID,
                job_flow_id=JOB_FLOW_ID,
                trigger_rule=TriggerRule.ALL_DONE,
                deferrable=True,
                waiter_delay=poll,
                waiter_max_attempts=attempts(30, poll),
                **self.aws,
            )
            spec >> create >> terminate
            self._clusters[dag_id] = (create, terminate)
        return self._clusters[dag_id]

    def _cluster_step(self, step: str, spec: Any) -> TaskGroup:
        create, terminate = self._cluster_tasks(spec)
        poll = poll_seconds(self.cfg, self.emr.step_poll_seconds)
        with TaskGroup(group_id=step, tooltip=f"{step}: EMR step spark-submit main.py --step {step}") as group:
            add = FeaturesStepOperator(
                task_id="add_step",
                job_flow_id=JOB_FLOW_ID,
                steps=[spark_step(self.cfg, self.code, step, self.cfg_hash)],
                wait_for_completion=False,
                **self.aws,
            )
            wait = EmrStepSensor(
                task_id="wait_for_step",
                job_flow_id=JOB_FLOW_ID,
                step_id=xcom_template(add.task_id, then="[0]"),
                deferrable=True,
                poke_interval=poll,
                max_attempts=attempts(self.emr.step_timeout_minutes, poll),
                timeout=self._step_timeout().total_seconds(),
                execution_timeout=self._step_timeout() + TIMEOUT_SLACK,
                **self.aws,
            )
            add >> wait
        create >> group >> terminate
        return group

    def _serverless_step(self, step: str, spec: Any) -> TaskGroup:
        serverless = self.emr.serverless
        assert serverless is not None
        poll = poll_seconds(self.cfg, self.emr.step_poll_seconds)
        with TaskGroup(group_id=step, tooltip=f"{step}: EMR Serverless job run main.py --step {step}") as group:
            run = FeaturesJobRunOperator(
                task_id="job_run",
                application_id=serverless.application_id,
                execution_role_arn=serverless.execution_role_arn,
                job_driver=serverless_job_driver(self.cfg, self.code, step),
                configuration_overrides=serverless_overrides(self.cfg),
                config=serverless_extra(self.cfg),
                name=job_name(step, self.cfg_hash),
                client_request_token=job_name(step, self.cfg_hash),
                wait_for_completion=True,
                deferrable=True,
                waiter_delay=poll,
                waiter_max_attempts=attempts(self.emr.step_timeout_minutes, poll),
                execution_timeout=self._step_timeout() + TIMEOUT_SLACK,
                **self.aws,
            )
        spec >> run
        return group

    # ---- the Glue Data Catalog ----------------------------------------------------------------------------

    def publish(self, spec: Any) -> list[Any]:
        return register_partitions(self.cfg, declared_datasets(self.cfg), **self.aws)
