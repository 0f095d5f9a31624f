"""The inference handler (SageMaker container contract). See ``serving.inference`` for the model directory
layout, the request and response formats and the errors; ``serving.sagemaker_entry`` is the SageMaker XGBoost
image's entry module (``code/inference.py`` in model.tar.gz, next to this package as ``code/serving/``);
``serving.testing`` builds small model directories for tests and benchmarks. Never imports Airflow or mlpipe."""

from serving.inference import (
    CSV,
    JSON,
    SCHEMA_FILE,
    EmptyBodyError,
    Feature,
    FeatureCountError,
    FeatureNameError,
    FeatureSchema,
    FeatureTypeError,
    InferenceError,
    MalformedPayloadError,
    Model,
    ModelLoadError,
    Payload,
    PayloadTooLargeError,
    UnsupportedAcceptError,
    UnsupportedContentTypeError,
    input_fn,
    invoke,
    load_model,
    model_fn,
    output_fn,
    predict_fn,
)

__all__ = [
    "CSV", "JSON", "SCHEMA_FILE", "EmptyBodyError", "Feature", "FeatureCountError", "FeatureNameError",
    "FeatureSchema", "FeatureTypeError", "InferenceError", "MalformedPayloadError", "Model", "ModelLoadError",
    "Payload", "PayloadTooLargeError", "UnsupportedAcceptError", "UnsupportedContentTypeError", "input_fn",
    "invoke", "load_model", "model_fn", "output_fn", "predict_fn",
]
