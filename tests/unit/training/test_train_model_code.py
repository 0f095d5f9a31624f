"""The training job leaves the serving handler in SM_MODEL_DIR/code/ (model.tar.gz's content), with the entry
module the registered model package names (SAGEMAKER_PROGRAM=inference.py): the archive once held no code, so
the SageMaker endpoint fell back to the image's built-in algorithm."""

from __future__ import annotations

import json
import subprocess
import sys

from train_helpers import BASE_HPS, ROOT, Job, run_in_process
from training import contract, model_code

HPS = {**BASE_HPS, "num_round": "5", "max_depth": "3"}


def test_model_dir_carries_the_serving_code(tmp_path, channels):
    job = Job(tmp_path)
    assert run_in_process(job, channels.mapping(), HPS) == 0
    code = job.model_dir / "code"
    files = sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file())
    assert files == ["inference.py", *(f"serving/{n}.py" for n in sorted(["__init__", "content_types", "errors", "fast_predict", "inference", "matrix", "messages", "model", "payload", "request_parsing", "schema"]))]
    serving = ROOT / "include" / "serving"
    assert (code / "inference.py").read_bytes() == (serving / "sagemaker_entry.py").read_bytes()
    assert (code / "serving" / "inference.py").read_bytes() == (serving / "inference.py").read_bytes()
    metrics = json.loads((job.model_dir / contract.METRICS_FILE).read_text())
    assert metrics["code"] == ["code/" + f for f in files]
    # code/ alone (isolated interpreter: no include/ on the path) imports, loads this model and scores a row;
    # the module defines what the image's script mode accepts: model_fn and transform_fn, no input_fn & co.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import inference\n"
        "assert not any(hasattr(inference, n) for n in ('input_fn', 'predict_fn', 'output_fn'))\n"
        "m = inference.model_fn(sys.argv[2])\n"
        "print(inference.transform_fn(m, sys.argv[3], 'text/csv', 'application/json')[0].decode())\n"
        "assert inference.__file__.startswith(sys.argv[1]) and inference.inference.__file__.startswith(sys.argv[1])\n"
    )
    schema = json.loads((job.model_dir / contract.SCHEMA_FILE).read_text())
    row = ",".join({"numeric": "1", "categorical": "basic"}[f["kind"]] for f in schema["features"])
    out = subprocess.run([sys.executable, "-I", "-c", probe, str(code), str(job.model_dir), row],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["predictions"][0]["score"] > 0


def test_serving_code_is_found_in_both_layouts(tmp_path):
    # the source tree: include/training next to include/serving
    assert model_code.find_serving_dir() == str(ROOT / "include" / "serving")
    # the training sourcedir: serving/ inside it
    (tmp_path / "serving").mkdir()
    for name in (model_code.ENTRY_SOURCE, *model_code.PACKAGE_FILES):
        (tmp_path / "serving" / name).write_text("")
    assert model_code.find_serving_dir(str(tmp_path)) == str(tmp_path / "serving")
    empty = tmp_path / "elsewhere" / "training"
    empty.mkdir(parents=True)
    try:
        model_code.find_serving_dir(str(empty))
    except FileNotFoundError as exc:
        assert "make package" in str(exc)
    else:
        raise AssertionError("no serving code: must fail")
