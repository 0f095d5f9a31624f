"""ml_training on the aws stack: the CreateHyperParameterTuningJob, CreateProcessingJob and CreateModelPackage
requests its operators would send for a date, validated against botocore's service models (+ strict_problems);
and retry reattachment of the tuning job against a moto server."""

from __future__ import annotations

import os
import runpy
import socket
from typing import Any

import pytest
from botocore_shapes import ROOT, validate

DS = "2026-11-01"
LAKE = "s3://acme-ml-lake-dev/lake"
ROOT_URI = f"{LAKE}/training/mlpipe-churn-dev/dt={DS}"
NAME = "ml-training-20261101-0123abcd"


class FakeTI:
    def __init__(self) -> None:
        best = {"name": NAME, "best": {"name": f"{NAME}-001-abc", "model_uri": f"{ROOT_URI}/tuning/output/x/output/model.tar.gz"}}
        self.values = {"split": {"ds": DS, "root": ROOT_URI}, "tune.find_job": {"name": NAME, "action": "start"},
                       "tune.best": best, "evaluate.champion": {"auc": 0.81, "version": 2},
                       "evaluate.report": {"evaluation_uri": f"{ROOT_URI}/evaluation/evaluation.json",
                                           "report_uri": f"{ROOT_URI}/evaluation/report.html",
                                           "evaluation": {"model": {"auc": 0.83}}}}

    def xcom_pull(self, task_ids: str, key: str | None = None, **_: Any) -> Any:
        return self.values[task_ids]


@pytest.fixture
def dag(monkeypatch):
    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    return runpy.run_path(str(ROOT / "dags" / "ml_training.py"))["dag"]


def render(op):
    ti = FakeTI()
    op.render_template_fields({"ti": ti, "task_instance": ti, "params": op.params, "ds": None, "dag": op.dag,
                               "task": op})
    return op


def test_tuning_job_request(dag):
    op = render(dag.get_task("tune.tuning_job"))
    req = op.config
    validate("sagemaker", "CreateHyperParameterTuningJob", req)
    assert req["HyperParameterTuningJobName"] == NAME and len(NAME) <= 32
    c = req["HyperParameterTuningJobConfig"]
    assert c["Strategy"] == "Bayesian" and c["HyperParameterTuningJobObjective"]["MetricName"] == "validation:auc"
    d = req["TrainingJobDefinition"]
    assert d["EnableManagedSpotTraining"] is True and d["CheckpointConfig"]["S3Uri"].startswith("s3://")
    stop = d["StoppingCondition"]
    assert all(isinstance(v, int) for v in stop.values())
    assert stop["MaxWaitTimeInSeconds"] >= stop["MaxRuntimeInSeconds"]
    assert d["ResourceConfig"]["InstanceType"].startswith("ml.g") and d["ResourceConfig"]["VolumeKmsKeyId"]
    assert d["OutputDataConfig"]["KmsKeyId"] and d["VpcConfig"]["Subnets"] and d["VpcConfig"]["SecurityGroupIds"]
    assert d["EnableNetworkIsolation"] and d["EnableInterContainerTrafficEncryption"]
    assert all(isinstance(v, str) for v in d["StaticHyperParameters"].values())
    assert d["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert d["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == f"{ROOT_URI}/train/"
    assert op.deferrable


def test_processing_job_request(dag):
    op = render(dag.get_task("evaluate.processing_job"))
    validate("sagemaker", "CreateProcessingJob", op.config)
    app = op.config["AppSpecification"]
    assert app["ContainerEntrypoint"][-1].endswith("evaluate.py") and "--champion-auc=0.81" in app["ContainerArguments"]
    assert not any("{{" in a or "{%" in a for a in app["ContainerArguments"])
    assert op.config["NetworkConfig"]["EnableNetworkIsolation"] and op.config["ProcessingOutputConfig"]["KmsKeyId"]


def test_model_package_request(dag):
    op = render(dag.get_task("register"))
    req = {"InferenceSpecification": {"Containers": [{"Image": op.image_uri, "ModelDataUrl": op.model_url}],
                                      "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
           "ModelPackageGroupName": op.package_group_name, "ModelPackageDescription": op.package_desc,
           "ModelApprovalStatus": op.model_approval.value, **op.extras}
    validate("sagemaker", "CreateModelPackage", req)
    assert req["ModelApprovalStatus"] == "PendingManualApproval"
    assert req["CustomerMetadataProperties"]["tuning_job_name"] == NAME
    assert req["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("evaluation.json")


# ---- reattach against a moto server --------------------------------------------------------------------------


@pytest.fixture
def moto_sagemaker(monkeypatch):
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                 "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws"}')
    yield
    server.stop()


def test_reattach_never_starts_a_second_job(dag, moto_sagemaker):
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
    from mlpipe.stacks.aws.training import decide_attempt, describer

    hook = SageMakerHook(aws_conn_id="aws_default", region_name="us-east-1")
    describe = describer(hook)
    s3 = hook.get_session(region_name="us-east-1").client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    s3.create_bucket(Bucket="acme-ml-lake-dev")
    s3.create_bucket(Bucket="acme-ml-code-dev")
    for key in ("train/part-0.parquet", "validation/part-0.parquet"):
        s3.put_object(Bucket="acme-ml-lake-dev", Key=f"lake/training/mlpipe-churn-dev/dt={DS}/{key}", Body=b"x")
    s3.put_object(Bucket="acme-ml-code-dev", Key="training/sourcedir.tar.gz", Body=b"x")
    assert decide_attempt(NAME, describe) == ("start", NAME)          # unknown: start it
    op = render(dag.get_task("tune.tuning_job"))
    op.deferrable, op.check_interval = False, 0
    op.execute({})                                                      # moto: Completed at once
    op2 = render(dag.get_task("tune.tuning_job"))
    op2.deferrable = False
    op2.execute({})                                                     # retried: reattaches, no create
    jobs = hook.conn.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert [j["HyperParameterTuningJobName"] for j in jobs] == [NAME]
    assert decide_attempt(NAME, describe) == ("reuse", NAME)
    statuses = {NAME: "Failed", f"{NAME}-r2": "InProgress"}
    assert decide_attempt(NAME, statuses.get) == ("wait", f"{NAME}-r2")
    assert decide_attempt(NAME, {NAME: "Stopped"}.get) == ("start", f"{NAME}-r2")
