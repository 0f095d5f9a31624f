"""serving.errors: where sagemaker_inference is installed (the multi-model server's toolkit), the handler's errors
are its BaseInferenceToolkitError, which the toolkit answers with their status (anything else is a 500)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from serving.errors import (
    EmptyBodyError,
    FeatureCountError,
    InferenceError,
    PayloadTooLargeError,
    UnsupportedAcceptError,
    UnsupportedContentTypeError,
)

INCLUDE = Path(__file__).resolve().parents[3] / "include"

TOOLKIT_ERRORS = '''
class BaseInferenceToolkitError(Exception):
    def __init__(self, status_code, message, phrase):
        self.status_code, self.message, self.phrase = status_code, message, phrase
'''

PROBE = '''
import json, sys
from sagemaker_inference.errors import BaseInferenceToolkitError
from serving import inference
out = {}
m = inference.model_fn(sys.argv[1])
for label, call in (("predict", lambda: inference.predict_fn(inference.input_fn("1,2", "text/csv"), m)),
                    ("content type", lambda: inference.input_fn("{}", "application/x-npy"))):
    try:
        call()
    except BaseInferenceToolkitError as exc:
        out[label] = [exc.status_code, exc.phrase]
print(json.dumps(out))
'''


def test_errors_are_the_toolkits_where_it_is_installed(tmp_path: Path, model_dir: Path) -> None:
    (tmp_path / "sagemaker_inference").mkdir()
    (tmp_path / "sagemaker_inference" / "__init__.py").write_text("")
    (tmp_path / "sagemaker_inference" / "errors.py").write_text(TOOLKIT_ERRORS)
    done = subprocess.run([sys.executable, "-c", f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {str(INCLUDE)!r}]\n"
                           + PROBE, str(model_dir)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"predict": [400, "Bad Request"], "content type": [415, "Unsupported Media Type"]}


def test_each_error_has_its_status_and_code() -> None:
    assert [(e.status_code, e.code) for e in (EmptyBodyError, FeatureCountError, PayloadTooLargeError,
                                              UnsupportedContentTypeError, UnsupportedAcceptError)] == [
        (400, "empty_body"), (400, "feature_count"), (413, "payload_too_large"), (415, "unsupported_content_type"),
        (406, "unsupported_accept")]
    err = FeatureCountError("row 1 has 2 values")
    assert isinstance(err, InferenceError)
    assert err.to_dict() == {"error": "feature_count", "status": 400, "message": "row 1 has 2 values"}
