"""serving.sagemaker_entry, model.tar.gz's code/inference.py: what the SageMaker XGBoost image's script mode
accepts (model_fn + transform_fn only), and its answers outside the container (no sagemaker_containers here;
tests/runtimes/test_sagemaker_container.py serves it in the image's package set)."""

from __future__ import annotations

import json

import pytest
from serving import inference, sagemaker_entry
from serving.errors import InferenceError
from serving.testing import csv_body, synthetic_features


def test_defines_only_what_the_image_accepts_next_to_transform_fn():
    assert callable(sagemaker_entry.model_fn) and callable(sagemaker_entry.transform_fn)
    # the image refuses a module with transform_fn *and* any of these (and would turn their errors into 500s)
    assert not any(hasattr(sagemaker_entry, n) for n in ("input_fn", "predict_fn", "output_fn"))


def test_transform_fn_is_the_handlers_invoke(model_dir):
    model = sagemaker_entry.model_fn(str(model_dir))
    body = csv_body(synthetic_features(3, seed=4))
    assert sagemaker_entry.transform_fn(model, body, "text/csv", "application/json") == inference.invoke(
        model, body, "text/csv", "application/json")


@pytest.mark.parametrize(("body", "content_type", "accept", "status"), [
    (b"1,2", "text/csv", None, 400), (b"{", "application/json", None, 400), (b"", "text/csv", None, 400),
    (b"1", "text/plain", None, 415), (b"1", None, None, 415), (b"1,2,3,0,4,basic", "text/csv", "image/png", 406),
    ("\ufffd,2,3,0,4,basic", "text/csv", None, 400),
])
def test_error_body_is_the_local_endpoints(model_dir, body, content_type, accept, status):
    model = sagemaker_entry.model_fn(str(model_dir))
    with pytest.raises(InferenceError) as info:
        inference.invoke(model, body, content_type, accept)
    assert info.value.status_code == status
    doc = json.loads(sagemaker_entry.error_body(info.value))
    assert doc == {"error": info.value.code, "status": status, "message": info.value.message}
