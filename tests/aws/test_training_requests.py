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
    # ml.g5 has a local NVMe store: SageMaker refuses a VolumeKmsKeyId there (the instance encrypts it)
    assert d["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge" and "VolumeKmsKeyId" not in d["ResourceConfig"]
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
    # ml.m5 (EBS): the volume takes the configured key; the type is one the table accepts for processing
    from mlpipe.config.instances import PROCESSING, check_instance_type

    cluster = op.config["ProcessingResources"]["ClusterConfig"]
    assert check_instance_type(cluster["InstanceType"], PROCESSING) and cluster["VolumeKmsKeyId"].startswith("arn:aws:kms:")


def model_package_request(dag) -> dict[str, Any]:
    """CreateModelPackage as the provider's operator builds it (its defaults, then ``extras`` over them)."""
    op = render(dag.get_task("register"))
    return {"InferenceSpecification": {"Containers": [{"Image": op.image_uri, "ModelDataUrl": op.model_url}],
                                       "SupportedContentTypes": ["text/csv"],
                                       "SupportedResponseMIMETypes": ["text/csv"]},
            "ModelPackageGroupName": op.package_group_name, "ModelPackageDescription": op.package_desc,
            "ModelApprovalStatus": op.model_approval.value, **op.extras}


def test_model_package_request(dag):
    req = model_package_request(dag)
    validate("sagemaker", "CreateModelPackage", req)
    assert req["ModelApprovalStatus"] == "PendingManualApproval"
    assert req["CustomerMetadataProperties"]["tuning_job_name"] == NAME
    assert req["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("evaluation.json")


def test_the_model_package_serves_the_projects_handler(dag):
    """The container's environment selects the handler shipped in model.tar.gz's code/ (the image's script-mode
    serving imports SAGEMAKER_PROGRAM from SAGEMAKER_SUBMIT_DIRECTORY), and the content types are the handler's."""
    from serving import inference
    from serving.content_types import SUPPORTED_CONTENT_TYPES, media_type
    from serving.errors import UnsupportedAcceptError

    req = model_package_request(dag)
    spec = req["InferenceSpecification"]
    (container,) = spec["Containers"]
    assert container["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py",
                                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    assert container["ModelDataUrl"] == f"{ROOT_URI}/tuning/output/x/output/model.tar.gz"
    assert container["Image"].endswith("/sagemaker-xgboost:3.0-5")
    assert req["CustomerMetadataProperties"]["lineage_uri"] == f"{ROOT_URI}/lineage.json"
    assert all(callable(getattr(inference, f)) for f in ("model_fn", "input_fn", "predict_fn", "output_fn"))
    # accepted: exactly what input_fn parses; returned: exactly what output_fn can answer with
    assert sorted(spec["SupportedContentTypes"]) == sorted(SUPPORTED_CONTENT_TYPES)
    answers = set()
    for accept in spec["SupportedResponseMIMETypes"]:
        _, content_type = inference.output_fn(__import__("numpy").array([0.25]), accept)
        answers.add(media_type(content_type))
    assert answers == set(spec["SupportedResponseMIMETypes"]) == set(SUPPORTED_CONTENT_TYPES)
    with pytest.raises(UnsupportedAcceptError):
        inference.output_fn(__import__("numpy").array([0.25]), "application/x-recordio-protobuf")


def test_the_registered_program_is_the_entry_module_the_training_job_writes(dag, tmp_path):
    """One source of truth for the serving entry: the SAGEMAKER_PROGRAM / SAGEMAKER_SUBMIT_DIRECTORY the model
    package registers are the module train.py writes (model_code.ENTRY_MODULE in CODE_DIR of SM_MODEL_DIR, which
    SageMaker unpacks to /opt/ml/model), and that file is the handler's entry (serving/sagemaker_entry.py)."""
    from mlpipe.defaults import SAGEMAKER_SERVING_PROGRAM, SAGEMAKER_SERVING_SUBMIT_DIRECTORY
    from training import model_code

    (container,) = model_package_request(dag)["InferenceSpecification"]["Containers"]
    env = container["Environment"]
    assert (env["SAGEMAKER_PROGRAM"], env["SAGEMAKER_SUBMIT_DIRECTORY"]) == (
        SAGEMAKER_SERVING_PROGRAM, SAGEMAKER_SERVING_SUBMIT_DIRECTORY)
    assert env["SAGEMAKER_PROGRAM"] == model_code.ENTRY_MODULE
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"] == f"/opt/ml/model/{model_code.CODE_DIR}"
    written = model_code.write_model_code(str(tmp_path))
    assert f"{model_code.CODE_DIR}/{env['SAGEMAKER_PROGRAM']}" in written
    assert (tmp_path / model_code.CODE_DIR / env["SAGEMAKER_PROGRAM"]).read_bytes() == (
        ROOT / "include" / "serving" / model_code.ENTRY_SOURCE).read_bytes()


# ---- VolumeKmsKeyId only where the instance type allows it -----------------------------------------------------


ENUMS = {"training": "TrainingInstanceType", "processing": "ProcessingInstanceType",
         "transform": "TransformInstanceType", "hosting": "ProductionVariantInstanceType"}


def offered(kind: str) -> list[str]:
    """The instance types botocore's SageMaker model allows for a kind of job."""
    from botocore_shapes import SESSION

    return list(SESSION.get_service_model("sagemaker").shape_for(ENUMS[kind]).enum)


def an_instance_type(family: str, kind: str) -> str:
    return next(t for t in offered(kind) if t.split(".")[1] == family)


def _families(kind: str) -> list[str]:
    from mlpipe.config.instances import accepted

    return accepted(kind)


def _render_for(monkeypatch, instance_type: str) -> dict[str, Any]:
    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    monkeypatch.setenv("MLPIPE__TRAINING__SAGEMAKER__INSTANCE_TYPE", instance_type)
    dag = runpy.run_path(str(ROOT / "dags" / "ml_training.py"))["dag"]
    return render(dag.get_task("tune.tuning_job")).config


@pytest.mark.parametrize("family", _families("training"))
def test_volume_kms_key_follows_the_instance_family(monkeypatch, family):
    """Every family the config accepts for training: an EBS family gets the configured VolumeKmsKeyId, a
    local-storage one none (SageMaker: "You can't request a VolumeKmsKeyId when using an instance type with
    local storage"); the request stays valid for botocore's model (its InstanceType enum included)."""
    from mlpipe.config.instances import FAMILIES

    instance_type = an_instance_type(family, "training")
    req = _render_for(monkeypatch, instance_type)
    validate("sagemaker", "CreateHyperParameterTuningJob", req)
    resources = req["TrainingJobDefinition"]["ResourceConfig"]
    assert resources["InstanceType"] == instance_type
    if FAMILIES[family].local_storage:
        assert "VolumeKmsKeyId" not in resources
    else:
        assert resources["VolumeKmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"
    assert req["TrainingJobDefinition"]["OutputDataConfig"]["KmsKeyId"], "S3 output stays KMS-encrypted"


@pytest.mark.parametrize("kind", sorted(ENUMS))
def test_the_table_offers_each_family_where_sagemaker_does(kind):
    """``jobs`` of each family matches botocore's enum for that kind of job, both ways."""
    from mlpipe.config.instances import FAMILIES

    families = {t.split(".")[1] for t in offered(kind)}
    claimed = {f for f, v in FAMILIES.items() if kind in v.jobs}
    assert claimed <= families, f"{kind}: not offered by SageMaker: {sorted(claimed - families)}"
    missing = {f for f in FAMILIES if f in families} - claimed
    assert not missing, f"{kind}: SageMaker offers {sorted(missing)} too; add {kind} to their jobs"


def test_the_table_has_the_documented_local_storage_families():
    """The families the SageMaker and EC2 guides name as NVMe (ml.p4d, ml.g4dn, ml.g5, the *d types, p3dn, trn1)
    and as EBS-only (ml.c5, ml.p2, ml.m5) are classified so."""
    from mlpipe.config.instances import FAMILIES

    local = {f for f, v in FAMILIES.items() if v.local_storage}
    assert {"g4dn", "g5", "p4d", "p4de", "p3dn", "p5", "m5d", "c5d", "r5d", "trn1", "trn1n"} <= local
    assert not {"c5", "p2", "m5", "p3", "t3", "c4", "m4", "r5"} & local


def test_a_volume_kms_key_on_a_local_storage_type_fails_the_check(dag):
    """tests/aws/botocore_shapes.rule_problems reports what SageMaker would refuse."""
    from botocore_shapes import problems

    req = render(dag.get_task("tune.tuning_job")).config
    assert not problems("sagemaker", "CreateHyperParameterTuningJob", req)
    req["TrainingJobDefinition"]["ResourceConfig"]["VolumeKmsKeyId"] = "arn:aws:kms:us-east-1:123456789012:key/x"
    found = problems("sagemaker", "CreateHyperParameterTuningJob", req)
    assert any("ResourceConfig.VolumeKmsKeyId: SageMaker refuses" in p for p in found), found


def test_an_unknown_instance_family_is_refused_with_the_families(monkeypatch):
    from mlpipe.config import load_config
    from mlpipe.errors import ConfigError

    monkeypatch.setenv("MLPIPE__TRAINING__SAGEMAKER__INSTANCE_TYPE", "ml.g6.xlarge")
    with pytest.raises(ConfigError, match=r"family 'g6' is not one mlpipe.config.instances.FAMILIES accepts "
                                          r"for training.*'g5'"):
        load_config("aws-dev")


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
    from mlpipe.tasks.reattach import decide_attempt
    from mlpipe.tasks.training_aws import tuning_job_status

    hook = SageMakerHook(aws_conn_id="aws_default", region_name="us-east-1")
    describe = tuning_job_status(hook)
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


def test_find_job_and_best_on_moto(dag, moto_sagemaker):
    """The aws task bodies against the moto server: find_job starts, then reuses, the run's tuning job (the name
    the operator's request carries); best reads the best training job and where SageMaker put its model;
    the spot saving is reported unavailable when DescribeTrainingJob fails, and the report still renders."""
    from mlpipe.config import load_config
    from mlpipe.tasks.training import tuning_job_name
    from mlpipe.tasks.training_aws import best, find_job, sagemaker_hook, spot_saving

    cfg = load_config("aws-dev")
    split = {"ds": DS, "root": ROOT_URI}
    name = tuning_job_name(cfg, DS)
    assert find_job(split, cfg) == {"name": name, "action": "start"}
    op = render(dag.get_task("tune.tuning_job"))
    op.config["HyperParameterTuningJobName"] = name
    op.deferrable, op.check_interval = False, 0
    op.execute({})
    assert find_job(split, cfg) == {"name": name, "action": "reuse"}
    found = best(split, {"name": name}, cfg)
    trained = found["best"]["name"]
    assert found["name"] == name and trained
    assert found["best"]["model_uri"] == f"{ROOT_URI}/tuning/output/{trained}/output/model.tar.gz"
    assert found["best"]["metrics"] == {found["objective_metric"]: found["best"]["objective"]}
    assert spot_saving(sagemaker_hook(cfg), "no-such-training-job")["spot saving"].startswith("unavailable")
