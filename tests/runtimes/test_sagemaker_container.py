"""Training, evaluation and serving inside the SageMaker XGBoost image 3.0-5's package set and entry points.

The requests come from the aws stack's own code for aws-dev (``tuning_config``, ``processing_config``,
``inference_specification``, ``transform_request``); the code is what ``make package`` builds
(``devtools.package.build``); the containers are ``tests/runtimes/sagemaker_image.py`` (Python 3.10,
xgboost 3.0.5, sagemaker_containers' ``train`` and ``server.start`` with gunicorn + gevent, ``/opt/ml`` under
tmp). What each test proves:

- training: one training job of the tuning job writes model.tar.gz's content (model, schema, baseline,
  metrics, code/), its log carries every MetricDefinitions metric the way the regexes read it, and a SIGTERM
  mid-run then a fresh container with the job's checkpoints restored ends with the very same model file;
- evaluation: the processing job's entrypoint and arguments run evaluate.py on that model.tar.gz and write the
  evaluation.json the report task reads;
- serving: that model.tar.gz behind the image's script-mode serving with the model package's environment:
  /ping, the smoke test's requests (gold rows, JSON) and the same rows as CSV give the local endpoint's
  predictions (xgboost 3.4.1 there), every fuzzed payload gets the local endpoint's status and body, and the
  batch transform's JSON lines are scored one request per line.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sagemaker_image as image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.serving import fuzz_payloads

pytestmark = [pytest.mark.runtime, pytest.mark.slow]

DS = "2026-11-01"
SPLIT_ROOT = f"s3://acme-ml-lake-dev/lake/training/mlpipe-churn-dev/dt={DS}"
TUNING_JOB = "ml-training-20261101-0123abcd"
LIMIT = 256 * 1024         # both endpoints' payload limit (SageMaker's is 6 MB; smaller keeps the fuzz quick)
ROUND_DELAY = "0.2"        # seconds per round in the interrupted run (train.py's test hook), to interrupt it


# ---- the requests, the code, the data ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cfg():
    from mlpipe.config import load_config

    return load_config("aws-dev")


@pytest.fixture(scope="module")
def tuning_request(cfg) -> dict:
    from mlpipe.stacks.aws.training import tuning_config

    return tuning_config(cfg, TUNING_JOB, SPLIT_ROOT)


def tuned_values(tuning_request: dict) -> dict[str, str]:
    """One trial's values: the middle of each range (geometric for logarithmic ones), as strings."""
    ranges = tuning_request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    out = {}
    for r in ranges.get("ContinuousParameterRanges", []):
        lo, hi = float(r["MinValue"]), float(r["MaxValue"])
        out[r["Name"]] = repr(math.sqrt(lo * hi) if r.get("ScalingType") == "Logarithmic" and lo > 0 else (lo + hi) / 2)
    for r in ranges.get("IntegerParameterRanges", []):
        out[r["Name"]] = str((int(r["MinValue"]) + int(r["MaxValue"])) // 2)
    return out


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """``make package``'s code bucket tree (dist/mwaa/code)."""
    from devtools import package

    return package.build("aws-dev", dist=tmp_path_factory.mktemp("dist") / "mwaa") / "code"


@pytest.fixture(scope="module")
def data(tmp_path_factory, cfg) -> dict[str, Path]:
    """The time-split channels as the split task writes them (Parquet), from the synthetic churn frame."""
    from training.synthetic import churn_frame

    root = tmp_path_factory.mktemp("split")
    df = churn_frame(3000, seed=5).rename(columns={"churned": cfg.training.label})
    df["split"] = "train"
    parts = {"train": df.iloc[:2000], "validation": df.iloc[2000:2500], "test": df.iloc[2500:]}
    out = {}
    for name, part in parts.items():
        (root / name).mkdir()
        part.to_parquet(root / name / "part-00000.parquet", index=False)
        out[name] = root / name
    gold = root / "gold"
    gold.mkdir()
    scoring = parts["test"].drop(columns=[cfg.training.label]).assign(split="score")
    pq.write_table(pa.Table.from_pandas(scoring, preserve_index=False), gold / "part-00000.parquet")
    out["gold"] = gold
    return out


@pytest.fixture(scope="module")
def image_python(runtime_python) -> Path:
    return runtime_python("sagemaker-xgboost")


def run_training_job(image_python: Path, root: Path, tuning_request: dict, bundle: Path, data: dict, name: str,
                     extra_env: dict | None = None, restore: Path | None = None) -> tuple[image.TrainingJob, object]:
    """Lay out the job's /opt/ml (``restore``: the checkpoints SageMaker restores first) and start ``train``."""
    python = image.layered_venv(image_python, root / "venv")
    from mlpipe.stacks.aws.training import SOURCEDIR_KEY

    job = image.lay_out_training_job(root / "opt" / "ml", tuning_request, name, tuned_values(tuning_request),
                                     data, bundle / SOURCEDIR_KEY)
    if restore is not None:
        shutil.copytree(restore, job.checkpoint_dir, dirs_exist_ok=True)
    return job, image.start_training(python, job, extra_env)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, image_python, tuning_request, bundle, data) -> image.TrainingJob:
    job, proc = run_training_job(image_python, tmp_path_factory.mktemp("job"), tuning_request, bundle, data,
                                 f"{TUNING_JOB}-001-5f2c9a1e")
    assert proc.wait(timeout=600) == 0, job.log[-6000:]
    return job


@pytest.fixture(scope="module")
def model_tar(trained, tmp_path_factory) -> Path:
    return image.pack_model(trained.model_dir, tmp_path_factory.mktemp("artifact") / "model.tar.gz")


# ---- training ----------------------------------------------------------------------------------------------
def test_training_job_writes_the_artifact_and_the_metric_lines(trained, tuning_request):
    files = sorted(p.relative_to(trained.model_dir).as_posix() for p in trained.model_dir.rglob("*") if p.is_file())
    from training import model_code

    shipped = [f"code/{model_code.PACKAGE}/{name}" for name in model_code.PACKAGE_FILES]
    assert files == sorted(["baseline.json", f"code/{model_code.ENTRY_MODULE}", *shipped, "feature_schema.json",
                            "metrics.json", "model.json"])
    assert "code/serving/inference.py" in shipped
    log = trained.log
    assert re.search(r"python -m train --", log), log[:3000]   # script mode ran the sourcedir's train.py
    metrics = json.loads((trained.model_dir / "metrics.json").read_text())
    tuned = tuned_values(tuning_request)
    assert {k: metrics["hyperparameters"][k] for k in tuned} == tuned  # the tuner's strings reached the script
    assert metrics["xgboost"] == "3.0.5"
    # what SageMaker reads from the log with the tuning job's own MetricDefinitions: the last match of each
    definitions = tuning_request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
    final = {}
    for d in definitions:
        found = re.findall(d["Regex"], log)
        assert found, f"metric {d['Name']}: regex {d['Regex']!r} matches nothing in the job's log"
        final[d["Name"]] = float(found[-1])
    objective = tuning_request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
    assert final[objective] == pytest.approx(metrics["objective_value"], abs=5e-7) and final[objective] > 0.6
    # this job's checkpoints, in its own directory of the tuning job's checkpoint path
    assert list((trained.checkpoint_dir / trained.name).glob("ckpt-*.json"))
    assert not list(trained.checkpoint_dir.glob("ckpt-*"))


@pytest.mark.parametrize("stop", ["every process", "pid 1 only"])
def test_sigterm_then_a_restart_with_the_checkpoints_restored_ends_with_the_same_model(
        stop, tmp_path, trained, image_python, tuning_request, bundle, data):
    """A spot interruption or StopTrainingJob mid-run, then SageMaker's restart of the same job in a fresh container
    with the checkpoint prefix restored. Two ways the SIGTERM may arrive: to every process of the container (the
    script finishes its round and checkpoints), or to PID 1 only, sagemaker_containers' ``train``, which neither
    handles nor forwards it, so it dies and the container ends (the script is killed: its last periodic
    checkpoint counts). Either way the restart ends with the uninterrupted run's model file, byte for byte."""
    name = trained.name
    job, proc = run_training_job(image_python, tmp_path / "first", tuning_request, bundle, data, name,
                                 {"MLPIPE_TRAIN_ROUND_DELAY_SECONDS": ROUND_DELAY})
    own = job.checkpoint_dir / name
    deadline = time.monotonic() + 300
    while not list(own.glob("ckpt-*.json")):
        assert proc.poll() is None and time.monotonic() < deadline, job.log[-4000:]
        time.sleep(0.05)
    if stop == "every process":
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=120)
        image.wait_for_group(proc.pid, timeout=120)  # train.py finishes the round and checkpoints
        interrupted = re.search(r"interrupted: checkpoint at round (\d+)", job.log)
        assert interrupted, job.log[-4000:]
        resume_round = int(interrupted.group(1))
    else:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == -signal.SIGTERM
        os.killpg(proc.pid, signal.SIGKILL)          # the container ends with its PID 1
        image.wait_for_group(proc.pid, timeout=60)
        resume_round = max(int(p.stem.split("-")[1]) for p in own.glob("ckpt-*.json"))
    assert not (job.model_dir / "model.json").exists()
    # a fresh container: SageMaker restores the checkpoint prefix into its /opt/ml/checkpoints
    again, proc = run_training_job(image_python, tmp_path / "second", tuning_request, bundle, data, name,
                                   restore=job.checkpoint_dir)
    assert proc.wait(timeout=600) == 0, again.log[-6000:]
    assert f"resumed from checkpoint: round={resume_round}" in again.log
    assert (again.model_dir / "model.json").read_bytes() == (trained.model_dir / "model.json").read_bytes()


# ---- evaluation --------------------------------------------------------------------------------------------
def test_evaluation_processing_job_writes_the_evaluation_the_report_reads(tmp_path, monkeypatch, cfg, image_python,
                                                                          bundle, model_tar, data, trained):
    """The processing job's entrypoint and arguments run evaluate.py in the image's package set: evaluation.json
    with calibration and confusion, and the ROC / PR / importance figures beside it (matplotlib is in the image),
    which the shared report task renders from the job's output folder as it would from S3."""
    from mlpipe.stacks.aws.training import CODE_PREFIX_KEY, processing_config
    from mlpipe.tasks.training import write_report

    request = processing_config(cfg, f"{TUNING_JOB}-eval", SPLIT_ROOT, f"{SPLIT_ROOT}/x/model.tar.gz",
                                         "--champion-auc=0.55")   # the rendered champion argument
    base = tmp_path / "opt" / "ml"
    for item in request["ProcessingInputs"]:           # SageMaker downloads each input to its LocalPath
        local = Path(image.in_container(item["S3Input"]["LocalPath"], base))
        local.mkdir(parents=True)
        source = {"code": bundle / CODE_PREFIX_KEY, "model": model_tar.parent, "test": data["test"]}
        shutil.copytree(source[item["InputName"]], local, dirs_exist_ok=True)
    (out_spec,) = request["ProcessingOutputConfig"]["Outputs"]
    output = Path(image.in_container(out_spec["S3Output"]["LocalPath"], base))
    output.mkdir(parents=True)
    app = request["AppSpecification"]
    python = image.layered_venv(image_python, tmp_path / "venv")
    started = time.monotonic()
    proc = subprocess.run(image.in_container(app["ContainerEntrypoint"] + app["ContainerArguments"], base),
                          env=image.container_env(python, base), cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"evaluate.py in the image's package set: {seconds:.1f} s")
    evaluation = json.loads((output / "evaluation.json").read_text())
    assert evaluation["model"]["auc"] > evaluation["baselines"]["naive"]["auc"]
    assert evaluation["gate"]["champion_auc"] == 0.55
    assert sum(evaluation["confusion"].values()) == evaluation["rows"] == sum(b["n"] for b in evaluation["calibration"])
    assert evaluation["images"] == {"ROC": "roc.png", "PR": "pr.png", "feature importance": "importance.png"}
    for name in evaluation["images"].values():
        assert (output / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    # what S3Upload puts under <split root>/evaluation/, read by the shared report task through storage
    local_cfg = _local_config(monkeypatch, tmp_path)
    root = (tmp_path / "lake-root").as_uri()
    shutil.copytree(output, tmp_path / "lake-root" / "evaluation")
    tuned = {"name": TUNING_JOB, "best": {"name": trained.name, "hyperparameters": trained.hyperparameters,
                                          "metrics": {}, "objective": evaluation["model"]["auc"]}}
    out = write_report(local_cfg, {"ds": DS, "root": root}, tuned, {"auc": 0.55, "version": 1})
    html = (tmp_path / "lake-root" / "evaluation" / "report.html").read_text()
    assert out["report_uri"] == f"{root}/evaluation/report.html"
    assert f"{evaluation['model']['auc']:.4f}" in html and html.count("data:image/png;base64,") == 3


def _local_config(monkeypatch, tmp_path):
    from mlpipe.config import load_config

    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    return load_config("local")


# ---- serving -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_dir(model_tar, tmp_path_factory) -> Path:
    """The archive unpacked for the local stack's endpoint and the in-process handler."""
    out = tmp_path_factory.mktemp("local-model")
    with tarfile.open(model_tar) as tf:
        tf.extractall(out, filter="data")
    return out


@pytest.fixture(scope="module")
def container(cfg, image_python, model_tar, tmp_path_factory):
    from mlpipe.stacks.aws.training import inference_specification

    environment = inference_specification(cfg, "s3://x/model.tar.gz")["Containers"][0]["Environment"]
    assert environment == {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    root = tmp_path_factory.mktemp("endpoint")
    python = image.layered_venv(image_python, root / "venv")
    ep = image.start_endpoint(python, root / "opt" / "ml", model_tar, environment,
                              {"SAGEMAKER_MAX_REQUEST_SIZE": str(LIMIT)})
    yield ep
    ep.stop()


@pytest.fixture(scope="module")
def local(model_dir, tmp_path_factory):
    from mlpipe.local.endpoint import start_endpoint, stop_endpoint

    handle = start_endpoint(model_dir, "churn-parity", run_dir=tmp_path_factory.mktemp("run"),
                            max_payload_bytes=LIMIT)
    yield handle
    stop_endpoint(handle)


@pytest.fixture(scope="module")
def clients(container, local):
    with httpx.Client(base_url=container.url, timeout=60) as c, httpx.Client(base_url=local.url, timeout=60) as lo:
        yield c, lo


def scores(body: bytes) -> np.ndarray:
    return np.array([p["score"] for p in json.loads(body)["predictions"]], dtype=np.float64)


def test_ping_and_the_handler_is_the_projects(container, clients):
    c, _ = clients
    assert c.get("/ping").status_code == 200
    assert "Cannot use transform_fn" not in container.log
    # the project's handler, not the image's built-in algorithm: its own error for a wrong feature count
    r = c.post("/invocations", content=b"1,2,3", headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["error"] == "feature_count", r.text


def test_smoke_requests_and_gold_rows_as_json_and_csv_match_the_local_endpoint(cfg, data, clients, model_dir):
    from mlpipe.services.endpoint_smoke_test import check_predictions
    from mlpipe.tasks.deployment import gold_records, smoke_requests

    # aws-dev's smoke-test and training settings over gold rows on this machine: read through the local storage
    on_this_machine = cfg.model_copy(update={"stack": "local"})
    requests = smoke_requests(on_this_machine, f"file://{data['gold']}")
    records = gold_records(on_this_machine, f"file://{data['gold']}", 50)
    schema = json.loads((model_dir / "feature_schema.json").read_text())
    names = [f["name"] for f in schema["features"]]
    csv = "\n".join(",".join("" if r[n] is None else str(r[n]) for n in names) for r in records).encode()
    requests += [("application/json", json.dumps({"instances": records}).encode(), len(records)),
                 ("text/csv", csv, len(records))]
    c, lo = clients
    for content_type, body, rows in requests:
        for accept in ("application/json", "text/csv"):
            headers = {"Content-Type": content_type, "Accept": accept}
            got, want = c.post("/invocations", content=body, headers=headers), lo.post(
                "/invocations", content=body, headers=headers)
            assert got.status_code == want.status_code == 200, got.text[:500]
            assert got.headers["content-type"].split(";")[0] == accept
            if accept == "application/json":
                assert len(check_predictions(got.content, rows)) == rows
                np.testing.assert_allclose(scores(got.content), scores(want.content), rtol=0, atol=1e-6)
            else:
                np.testing.assert_allclose(np.array(got.text.split(), float), np.array(want.text.split(), float),
                                           rtol=0, atol=1e-6)


@pytest.mark.parametrize(("body", "headers", "status", "code"), [
    (b"1,2,3", {"Content-Type": "text/csv"}, 400, "feature_count"),
    (b"{", {"Content-Type": "application/json"}, 400, "malformed_payload"),
    (b"", {"Content-Type": "text/csv"}, 400, "empty_body"),
    (b"\xff\xfe,1", {"Content-Type": "text/csv"}, 400, "malformed_payload"),
    (b'{"instances": []}', {"Content-Type": "application/json"}, 400, "empty_body"),
    (b"1", {"Content-Type": "text/plain"}, 415, "unsupported_content_type"),
    (b"1", {}, 415, "unsupported_content_type"),
    (None, {"Content-Type": "text/csv", "Accept": "image/png"}, 406, "unsupported_accept"),   # None: a valid row
    (b"9" * (LIMIT + 1), {"Content-Type": "text/csv"}, 413, "payload_too_large"),
])
def test_each_client_error_is_the_local_endpoints_4xx_and_message(clients, model_dir, body, headers, status, code):
    c, lo = clients
    body = valid_row(model_dir) if body is None else body
    got, want = c.post("/invocations", content=body, headers=headers), lo.post(
        "/invocations", content=body, headers=headers)
    assert (got.status_code, want.status_code) == (status, status), (got.text[:300], want.text[:300])
    assert got.json() == want.json() and got.json()["error"] == code


def valid_json_row(model_dir: Path) -> list:
    schema = json.loads((model_dir / "feature_schema.json").read_text())
    return [f["categories"][0] if f["kind"] == "categorical" else 1 for f in schema["features"]]


def valid_row(model_dir: Path) -> bytes:
    return ",".join(map(str, valid_json_row(model_dir))).encode()


def test_fuzzed_payloads_get_the_local_endpoints_status_and_body(clients, model_dir):
    c, lo = clients
    json_row, row = valid_json_row(model_dir), valid_row(model_dir)

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=fuzz_payloads.bodies(row, json_row, LIMIT), content_type=st.sampled_from(fuzz_payloads.CONTENT_TYPES),
           accept=st.sampled_from(fuzz_payloads.ACCEPTS))
    def fuzz(body: bytes, content_type: str, accept: str | None) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        if accept is not None:
            headers["Accept"] = accept
        got, want = c.post("/invocations", content=body, headers=headers), lo.post(
            "/invocations", content=body, headers=headers)
        assert got.status_code == want.status_code, (got.status_code, got.text[:300], want.text[:300])
        assert got.status_code < 500
        if got.status_code == 200:
            a, b = (np.array(r.text.split(), float) if r.headers["content-type"].startswith("text/csv")
                    else scores(r.content) for r in (got, want))
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
        else:
            assert got.json() == want.json()

    fuzz()
    assert c.get("/ping").status_code == 200


def test_batch_transform_input_is_scored_line_by_line(cfg, data, clients, model_dir):
    """The transform job's request (SplitType Line, its BatchStrategy) over prepare_transform_input's JSON lines:
    every line is one request the container answers with the local handler's score (ids and all)."""
    from mlpipe.stacks.aws.deployment import transform_request
    from serving import inference

    req = transform_request(cfg)
    assert req["TransformInput"]["SplitType"] == "Line" and req["BatchStrategy"] == "SingleRecord"
    table = pq.read_table(data["gold"])
    cols = [n for n in table.column_names if n != cfg.training.label]
    lines = [json.dumps(r, default=str) for r in table.select(cols).to_pylist()][:200]   # prepare_transform_input
    model = inference.load_model(str(model_dir))
    c, _ = clients
    headers = {"Content-Type": req["TransformInput"]["ContentType"], "Accept": req["TransformOutput"]["Accept"]}
    for line in lines:
        r = c.post("/invocations", content=line.encode(), headers=headers)
        assert r.status_code == 200, (line, r.text[:300])
        want = scores(inference.invoke(model, line.encode(), headers["Content-Type"], headers["Accept"])[0])
        np.testing.assert_allclose(scores(r.content), want, rtol=0, atol=1e-6)


# ---- across xgboost versions ---------------------------------------------------------------------------------
SCORE_IN_IMAGE = """
import sys
import numpy as np
from training.data import encode, read_channel
from training.score import load_model, predict
booster, schema, _ = load_model(sys.argv[1])
frame = read_channel(sys.argv[2])
np.save(sys.argv[3], predict(booster, encode(frame, schema)))
print(__import__("xgboost").__version__)
"""


def test_the_containers_model_scores_the_same_under_xgboost_3_4_1(tmp_path, image_python, trained, data):
    """The model trained in the container (xgboost 3.0.5) and the rows it scores there, against monitoring's
    scoring on the MWAA workers and the local handler (xgboost 3.4.1 here): the same scores within 1e-6."""
    import xgboost as xgb
    from mlpipe.tasks.monitoring import score
    from serving import inference
    from training.data import read_channel

    out = tmp_path / "image.npy"
    proc = subprocess.run([str(image_python), "-c", SCORE_IN_IMAGE, str(trained.model_dir), str(data["test"]), str(out)],
                          env={**os.environ, "PYTHONPATH": str(image.ROOT / "include")}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "3.0.5" and xgb.__version__ == "3.4.1"
    in_image = np.load(out)
    frame = read_channel(str(data["test"]))
    on_workers = np.asarray(score(str(trained.model_dir), frame))
    assert len(in_image) == len(frame) > 100 and in_image.std() > 0.01
    np.testing.assert_allclose(on_workers, in_image, rtol=0, atol=1e-6)
    # the local endpoint's handler on the same rows, sent as JSON records
    model = inference.load_model(str(trained.model_dir))
    names = model.schema.names
    records = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items() if k in names}
               for r in frame[names].astype(object).to_dict("records")]
    body, _ = inference.invoke(model, json.dumps({"instances": records}), "application/json", "application/json")
    np.testing.assert_allclose(scores(body), in_image, rtol=0, atol=1e-6)


HANDLER_FUNCTIONS_PROGRAM = "handler_functions.py"


def test_the_handlers_own_functions_as_the_program_would_answer_500(image_python, trained, tmp_path):
    """The control: with a program that exposes code/serving/inference.py's own functions (input_fn, predict_fn,
    output_fn) to the image's Transformer, the image answers each malformed payload with a 500, the defect
    code/inference.py exists for. So the tests above can tell a broken handler from a working one."""
    model = tmp_path / "model"
    shutil.copytree(trained.model_dir, model)
    (model / "code" / HANDLER_FUNCTIONS_PROGRAM).write_text(
        "from serving.inference import input_fn, model_fn, output_fn, predict_fn  # noqa: F401\n")
    archive = image.pack_model(model, tmp_path / "model.tar.gz")
    python = image.layered_venv(image_python, tmp_path / "venv")
    ep = image.start_endpoint(python, tmp_path / "opt" / "ml", archive,
                              {"SAGEMAKER_PROGRAM": HANDLER_FUNCTIONS_PROGRAM,
                               "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"})
    try:
        with httpx.Client(base_url=ep.url, timeout=60) as c:
            assert c.post("/invocations", content=valid_row(model), headers={"Content-Type": "text/csv"}
                          ).status_code == 200   # the functions serve a valid row: the 500s below are the handler's
            for body, content_type in ((b"1,2,3", "text/csv"), (b"{", "application/json"), (b"1", "text/plain")):
                assert c.post("/invocations", content=body, headers={"Content-Type": content_type}).status_code == 500
    finally:
        ep.stop()
