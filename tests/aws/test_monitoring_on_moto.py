"""ml_monitoring on the aws stack (PIPELINE_ENV=aws-dev) through ``dag.test()`` against the in-process moto server
(tests/aws/moto_harness.py): the serving model found through the endpoint, its ``model.tar.gz`` (a real XGBoost
model with the training baseline) read from S3, the gold partition and SageMaker's data capture compared with it,
the report written to S3 with SSE-KMS, and the retraining Asset event emitted on planted drift only.

Seeded here, as ml_training / ml_deployment and SageMaker leave them: an Approved model package (metadata as
``register`` writes it: ds, test AUC, tuning job name with the current config hash, lineage), a Model made from
it, an EndpointConfig with data capture and an InService endpoint; the gold partition of the date (scoring rows
plus the newest matured labelled snapshot); capture JSON lines in ``<destination>/<endpoint>/<variant>/YYYY/MM/DD/HH/``.
Every request the run sends is checked against botocore's service models and the config's security settings.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from botocore_shapes import problems, record_calls, security_problems

from tests.aws import moto_harness as h

MODEL_NAME = "ml-deployment-20261001-abc123"
CONFIG_NAME = "ml-deployment-20261001-abc123-ec"
ROWS = 1200          # > monitoring.min_rows (1000 in aws-dev.yaml): every check runs
PRICE_SHIFT = 0.35   # planted drift: prices restated 35 % up


def synthetic(rng: np.random.Generator, n: int, *, shift: float = 0.0, split: str = "score", as_of: str = h.DS,
              labelled: bool = False) -> pd.DataFrame:
    tenure = rng.integers(1, 700, n).astype(float)
    price = rng.choice([7.99, 12.99, 19.99], n, p=[0.45, 0.4, 0.15]) * (1.0 + shift)
    plan = rng.choice(["basic", "standard", "premium"], n)
    logit = -1.0 - tenure / 300 + (plan == "basic") * 1.2 + (price > 15) * 0.8
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return pd.DataFrame({"customer_id": np.arange(n), "as_of": pd.Timestamp(as_of), "split": split,
                         "tenure_days": tenure, "monthly_price": np.round(price, 2), "plan": plan,
                         "churned": y if labelled else np.nan})


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> dict[str, Any]:
    """``model.tar.gz`` as train.py writes the model directory (model.json, feature_schema.json, baseline.json),
    trained with the training workload's own functions; and its test AUC."""
    import xgboost as xgb
    from mlpipe.tasks.training import workload

    data, baseline, metrics = workload("data"), workload("baseline"), workload("metrics")
    rng = np.random.default_rng(0)
    train, valid, test = (synthetic(rng, n, labelled=True) for n in (3000, 1000, 2000))
    schema = data.infer_schema(train, "churned", ["customer_id", "as_of", "split"])
    X, y = data.encode(train, schema), data.labels(train, "churned")
    Xv, yv = data.encode(valid, schema), data.labels(valid, "churned")
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1, "seed": 0},
                        xgb.DMatrix(X, label=y, enable_categorical=True), num_boost_round=20)
    pv = booster.predict(xgb.DMatrix(Xv, enable_categorical=True))
    out = tmp_path_factory.mktemp("model")
    booster.save_model(str(out / "model.json"))
    (out / "feature_schema.json").write_text(json.dumps(schema.to_dict()))
    doc = baseline.training_baseline(X, y, yv, pv, schema, 0.5, baseline.fit_naive_baseline(X, y, schema))
    (out / "baseline.json").write_text(json.dumps(doc))
    pt = booster.predict(xgb.DMatrix(data.encode(test, schema), enable_categorical=True))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("model.json", "feature_schema.json", "baseline.json"):
            tar.add(out / name, arcname=name)
    return {"tar": buf.getvalue(), "dir": out, "schema": schema, "booster": booster,
            "test_auc": float(metrics.auc(data.labels(test, "churned"), pt))}


def _put(stack, key: str, body: bytes) -> None:
    """An object as the pipeline (or SageMaker, with the configured key) writes it: SSE-KMS."""
    stack.client("s3").put_object(Bucket=h.LAKE_BUCKET, Key=key, Body=body, ServerSideEncryption="aws:kms",
                                  SSEKMSKeyId=stack.overrides["MLPIPE__AWS__KMS_KEY_ARN"])


def _scores(model: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    import xgboost as xgb
    from mlpipe.tasks.training import workload

    return model["booster"].predict(xgb.DMatrix(workload("data").encode(frame, model["schema"]),
                                                enable_categorical=True))


def seed_monitoring(stack, model: dict[str, Any], shift: float, *, endpoint: bool = True) -> str:
    """What ml_training, ml_deployment, ml_features and the endpoint's traffic leave for the date; returns the
    serving package's ARN."""
    from mlpipe.config import config_hash
    from mlpipe.tasks.training import tuning_config_hash

    cfg = stack.cfg
    group, dep = cfg.training.registry.model_package_group, cfg.deployment
    root = f"lake/training/{group}/dt=2026-10-01"
    _put(stack, f"{root}/model/model.tar.gz", model["tar"])
    _put(stack, "lake/_specs/ml_features/dt=2026-10-01/spec.json",
         json.dumps({"config_hash": config_hash(cfg.features)}).encode())
    _put(stack, f"{root}/lineage.json", json.dumps({
        "ds": "2026-10-01", "feature_job_spec_uri": f"s3://{h.LAKE_BUCKET}/lake/_specs/ml_features/dt=2026-10-01/spec.json"
    }).encode())
    sm = stack.client("sagemaker")
    arn = sm.create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": cfg.training.sagemaker.image_uri,
                                                "ModelDataUrl": f"s3://{h.LAKE_BUCKET}/{root}/model/model.tar.gz"}],
                                "SupportedContentTypes": ["text/csv", "application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]},
        CustomerMetadataProperties={"ds": "2026-10-01", "test_auc": f"{model['test_auc']:.6f}",
                                    "tuning_job_name": f"ml-training-20261001-{tuning_config_hash(cfg)}",
                                    "lineage_uri": f"s3://{h.LAKE_BUCKET}/{root}/lineage.json"},
    )["ModelPackageArn"]
    if endpoint:
        sm.create_model(ModelName=MODEL_NAME, Containers=[{"ModelPackageName": arn}],
                        ExecutionRoleArn=dep.execution_role_arn)
        sm.create_endpoint_config(
            EndpointConfigName=CONFIG_NAME,
            ProductionVariants=[{"VariantName": dep.variant_name, "ModelName": MODEL_NAME,
                                 "InitialInstanceCount": 1, "InstanceType": dep.instance_type}],
            DataCaptureConfig={"EnableCapture": True, "InitialSamplingPercentage": 100,
                               "DestinationS3Uri": dep.data_capture.destination,
                               "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]})
        sm.create_endpoint(EndpointName=dep.endpoint_name, EndpointConfigName=CONFIG_NAME)
        assert sm.describe_endpoint(EndpointName=dep.endpoint_name)["EndpointStatus"] == "InService"
    # gold: the date's scoring rows and the newest matured snapshot (labels known, 30 days back)
    rng = np.random.default_rng(11)
    live = synthetic(rng, ROWS, shift=shift)
    matured = synthetic(rng, ROWS, split="train", as_of="2026-10-02", labelled=True)
    buf = io.BytesIO()
    pd.concat([live, matured], ignore_index=True).to_parquet(buf, index=False)
    _put(stack, f"lake/gold/{cfg.features.gold.name}/dt={h.DS}/part-00000.parquet", buf.getvalue())
    # the endpoint's capture of the date: JSON requests of 50 records each, their scores as responses
    traffic = synthetic(rng, ROWS, shift=shift)
    scores = _scores(model, traffic)
    names = [f.name for f in model["schema"].features]
    prefix = dep.data_capture.destination[len(f"s3://{h.LAKE_BUCKET}/"):].rstrip("/")
    for hour, start in enumerate(range(0, ROWS, 300)):
        lines = []
        for i in range(start, start + 300, 50):
            records = traffic.iloc[i:i + 50][names].to_dict(orient="records")
            lines.append(json.dumps({
                "captureData": {
                    "endpointInput": {"observedContentType": "application/json", "mode": "INPUT", "encoding": "JSON",
                                      "data": json.dumps({"instances": records})},
                    "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                       "encoding": "JSON", "data": json.dumps(
                                           {"predictions": [{"score": float(s)} for s in scores[i:i + 50]]})}},
                "eventMetadata": {"eventId": f"e-{i}", "inferenceTime": f"{h.DS}T{hour + 8:02d}:15:00Z"},
                "eventVersion": "0"}))
        key = f"{prefix}/{dep.endpoint_name}/{dep.variant_name}/{h.DS.replace('-', '/')}/{hour + 8:02d}/capture-{hour}.jsonl"
        _put(stack, key, ("\n".join(lines) + "\n").encode())
    # a capture file of the next day: outside the logical date's window, never read
    _put(stack, f"{prefix}/{dep.endpoint_name}/{dep.variant_name}/2026/11/02/00/capture-x.jsonl", b"{not json\n")
    return arn


def retrain_events(cfg) -> list[dict[str, Any]]:
    """The retraining Asset's events emitted by ml_monitoring (the Airflow metadata DB of this session)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from mlpipe.dagkit import retrain_asset

    with create_session() as session:
        rows = (session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .filter(AssetModel.name == retrain_asset(cfg).name, AssetEvent.source_dag_id == "ml_monitoring")
                .order_by(AssetEvent.id).all())
        return [dict(r.extra or {}) for r in rows]


def in_order(calls: list[str], expected: list[str]) -> bool:
    """``expected`` is a subsequence of ``calls``."""
    it = iter(calls)
    return all(any(c == e for c in it) for e in expected)


def check_requests(calls: list[tuple[str, str, dict[str, Any]]], cfg) -> None:
    """Every request the run sent validates against botocore's model and carries the configured security settings."""
    found = [p for service, op, params in calls
             for p in problems(service, op, params) + security_problems(service, op, params, cfg)]
    assert not found, "\n".join(found)


def report(stack, name: str) -> tuple[bytes, dict[str, Any]]:
    s3, key = stack.client("s3"), f"lake/{stack.cfg.monitoring.reports_dir}/dt={h.DS}/{name}"
    head = s3.head_object(Bucket=h.LAKE_BUCKET, Key=key)
    assert head.get("ServerSideEncryption") == "aws:kms", key
    assert head.get("SSEKMSKeyId") == stack.overrides["MLPIPE__AWS__KMS_KEY_ARN"], key
    return s3.get_object(Bucket=h.LAKE_BUCKET, Key=key)["Body"].read(), head


@pytest.mark.parametrize("shift", [0.0, PRICE_SHIFT], ids=["no-drift", "planted-drift"])
def test_ml_monitoring_reads_the_serving_model_through_the_endpoint(aws_stack, model, shift):
    arn = seed_monitoring(aws_stack, model, shift)
    before = len(retrain_events(aws_stack.cfg))
    with record_calls() as calls:
        r = aws_stack.run("ml_monitoring")
    drifted = bool(shift)
    assert r.state == "success", r.tasks
    assert r.tasks == {"check_drift": "success", "request_retraining": "success" if drifted else "skipped"}

    # the calls: endpoint -> endpoint config -> model -> its package -> model.tar.gz, gold, capture -> the report
    check = [f"{c.service}.{c.operation}" for c in r.calls if c.task == "check_drift"]
    assert in_order(check, ["sagemaker.DescribeEndpoint", "sagemaker.DescribeEndpointConfig",
                            "sagemaker.DescribeModel", "sagemaker.DescribeModelPackage", "s3.GetObject",
                            "s3.ListObjectsV2", "s3.GetObject", "s3.PutObject", "s3.PutObject"]), check
    assert "sagemaker.ListModelPackages" not in check  # the endpoint named its package
    sent = [(s, o, p) for s, o, p in calls if s != "sts"]
    described = [p for s, o, p in sent if o == "DescribeModelPackage"]
    assert described == [{"ModelPackageName": arn}]
    read = [p["Key"] for s, o, p in sent if o == "GetObject"]
    assert read[0].endswith("/model/model.tar.gz") and any(k.endswith("/lineage.json") for k in read)
    assert any(k.startswith("lake/gold/") for k in read)
    captured = [k for k in read if k.startswith("lake/capture/")]
    day = f"{aws_stack.cfg.deployment.endpoint_name}/{aws_stack.cfg.deployment.variant_name}/{h.DS.replace('-', '/')}/"
    listed = [p["Prefix"] for s, o, p in sent if o == "ListObjectsV2" and p["Prefix"].startswith("lake/capture/")]
    assert listed == [f"lake/capture/{day}"]  # the logical date's folder only, not the whole capture history
    assert len(captured) == ROWS // 300 and all(f"/{h.DS.replace('-', '/')}/" in k for k in captured)
    written = [p["Key"] for s, o, p in sent if o == "PutObject"]
    assert {f"lake/reports/monitoring/dt={h.DS}/drift.json", f"lake/reports/monitoring/dt={h.DS}/drift.html"} \
        <= set(written)
    check_requests(sent, aws_stack.cfg)

    # the report, in S3 with SSE-KMS
    body, _ = report(aws_stack, "drift.json")
    summary = json.loads(body)
    page, _ = report(aws_stack, "drift.html")
    assert page.lstrip().startswith(b"<!") and b"Drift report" in page and b"Retraining: " in page
    assert summary["stack"] == "aws" and summary["model"]["arn"] == arn and summary["model"]["version"] == 1
    assert summary["model"]["source"] == f"endpoint {aws_stack.cfg.deployment.endpoint_name}"
    assert summary["populations"]["gold"]["rows"] == ROWS and summary["capture"]["rows"] == ROWS
    assert summary["capture"]["files"] == ROWS // 300 and summary["capture"]["unreadable_lines"] == 0
    assert summary["performance"]["status"] == "ok" and summary["performance"]["rows"] == ROWS
    assert not summary["config_change"]["training"]["changed"] and not summary["config_change"]["features"]["changed"]
    assert summary["config_change"]["features"]["serving"] is not None  # read through the lineage
    events = retrain_events(aws_stack.cfg)[before:]
    if drifted:
        assert summary["verdict"]["status"] == "drift"
        assert "monthly_price" in summary["populations"]["gold"]["drifted"]
        assert "monthly_price" in summary["populations"]["capture"]["drifted"]
        assert summary["retrain"]["decision"] == "requested"
        (extra,) = events
        assert extra["ds"] == h.DS and extra["trigger"] == "drift" and extra["model_version"] == 1
        assert extra["report"] == f"s3://{h.LAKE_BUCKET}/lake/reports/monitoring/dt={h.DS}/drift.html"
        state = json.loads(aws_stack.client("s3").get_object(
            Bucket=h.LAKE_BUCKET, Key="lake/reports/monitoring/_state.json")["Body"].read())
        assert state["last_request"]["ds"] == h.DS
    else:
        assert summary["verdict"]["status"] == "ok", summary["verdict"]
        assert set(summary["verdict"]["checks"].values()) == {"ok"}
        assert summary["retrain"]["decision"] == "not requested"
        assert events == []


def test_ml_monitoring_without_an_endpoint_reads_the_newest_approved_package(aws_stack, model, monkeypatch):
    monkeypatch.setenv("MLPIPE__DEPLOYMENT__MODE", "batch")  # no endpoint, no capture: the registry says
    arn = seed_monitoring(aws_stack, model, 0.0, endpoint=False)
    with record_calls() as calls:
        r = aws_stack.run("ml_monitoring")
    assert r.tasks == {"check_drift": "success", "request_retraining": "skipped"}, r.tasks
    check = [f"{c.service}.{c.operation}" for c in r.calls if c.task == "check_drift"]
    assert in_order(check, ["sagemaker.ListModelPackages", "sagemaker.DescribeModelPackage", "s3.GetObject"]), check
    assert "sagemaker.DescribeEndpoint" not in check
    sent = [(s, o, p) for s, o, p in calls if s != "sts"]
    assert not [p for s, o, p in sent if o == "GetObject" and p["Key"].startswith("lake/capture/")]
    check_requests(sent, aws_stack.cfg)
    summary = json.loads(report(aws_stack, "drift.json")[0])
    assert summary["model"]["arn"] == arn and summary["model"]["source"].startswith("newest Approved package")
    assert "features.capture" not in summary["verdict"]["checks"]


def test_the_seeded_model_directory_is_what_monitoring_loads(model):
    """The fixture's model directory satisfies load_model_files (the same check the task makes)."""
    from mlpipe.tasks.monitoring import load_model_files

    schema, baseline = load_model_files(str(Path(model["dir"])))
    assert [f["name"] for f in schema["features"]] == ["tenure_days", "monthly_price", "plan"]
    assert baseline["predictions"]["validation"]["fractions"] and 0.6 < model["test_auc"] < 1.0
