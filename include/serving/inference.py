"""SageMaker inference handler for the churn XGBoost model (script mode of the SageMaker XGBoost container).

The four functions of the SageMaker inference contract, used unchanged by the SageMaker endpoint, by
SageMaker batch transform, by the local endpoint (``mlpipe.local.endpoint``) and by the local batch
transform (``mlpipe.local.batch``)::

    model = model_fn(model_dir)                         # once per worker
    data = input_fn(request_body, content_type)         # parse (no model needed)      -> Payload
    prediction = predict_fn(data, model)                # validate against the schema  -> np.ndarray
    body, content_type = output_fn(prediction, accept)  # serialize                    -> (bytes, str)

``invoke(model, body, content_type, accept)`` chains them exactly like the container does. The model directory
is described in ``serving.model``, the feature schema in ``serving.schema``, the request formats in
``serving.request_parsing``, the checks of the rows in ``serving.matrix``.

Responses: ``application/json`` (the default for ``Accept: */*`` or none) is
``{"predictions": [{"score": p}, ...]}`` (``{"scores": [...]}`` per row for multi-output models);
``text/csv`` is one line per input row. Floats are written so that they parse back to the model's exact
float32 output.

Every client mistake raises an ``InferenceError`` subclass (``serving.errors``) carrying the HTTP status (400,
406, 413, 415) and a message that says exactly what is wrong and where (row, column, feature name). The local
endpoint answers it with that status and ``{"error", "status", "message"}``; so does the SageMaker container,
through ``serving.sagemaker_entry``'s ``transform_fn`` (the XGBoost image's ``sagemaker_containers`` would turn
an exception from ``input_fn``/``predict_fn``/``output_fn`` into a 500).

This module is the handler's interface (``__all__``): the contract's functions, their steps the local endpoint
calls one by one (``load_model``, ``parse_request``, ``validate``, ``payload_too_large``) and the types they take,
return and raise. The local endpoint serves a model directory with the copy of this package that the training
job put into its ``code/serving/`` (``include/training/model_code.py``), so it uses these names only.
"""

from __future__ import annotations

import json

import numpy as np

from serving.content_types import CSV, JSON, choose_accept
from serving.errors import EmptyBodyError, InferenceError, ModelLoadError
from serving.model import Model, load_model
from serving.payload import Payload
from serving.request_parsing import parse_request, payload_too_large

__all__ = ["InferenceError", "Model", "ModelLoadError", "Payload", "input_fn", "invoke", "load_model", "model_fn",
           "output_fn", "parse_request", "payload_too_large", "predict_fn", "validate"]


def model_fn(model_dir: str) -> Model:
    """Load the Booster and its feature schema from ``model_dir``."""
    return load_model(model_dir)


def input_fn(request_body: bytes | str, request_content_type: str | None) -> Payload:
    """Parse a request body (CSV or JSON); raises an InferenceError (4xx) for anything malformed."""
    return parse_request(request_body, request_content_type)


def predict_fn(input_data: Payload, model: Model) -> np.ndarray:
    """Check the rows against the model's feature schema and predict."""
    return model.predict(validate(input_data, model))


def validate(input_data: Payload, model: Model) -> np.ndarray:
    """``predict_fn``'s first half: the rows as the model's float32 matrix, checked against its schema
    (``predict_fn`` = ``model.predict(validate(...))``; the local endpoint predicts several requests' rows in
    one call)."""
    if not isinstance(input_data, Payload):
        input_data = Payload(matrix=np.asarray(input_data, dtype=np.float32))
    X = model.matrix.to_matrix(input_data)
    if X.shape[0] == 0:
        raise EmptyBodyError("no rows to predict")
    return X


def output_fn(prediction: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    """Serialize predictions as JSON (default) or CSV; returns (body, content type)."""
    ct = choose_accept(accept)
    values = np.asarray(prediction).tolist()
    if ct == CSV:
        if values and isinstance(values[0], list):
            text = "\n".join(",".join(map(repr, row)) for row in values)
        else:
            text = "\n".join(map(repr, values))
        return (text + "\n").encode("utf-8"), CSV
    if values and isinstance(values[0], list):
        doc = {"predictions": [{"scores": row} for row in values]}
    else:
        doc = {"predictions": [{"score": v} for v in values]}
    return json.dumps(doc, separators=(",", ":")).encode("utf-8"), JSON


def invoke(model: Model, body: bytes | str, content_type: str | None, accept: str | None = None,
           max_payload_bytes: int | None = None) -> tuple[bytes, str]:
    """input_fn -> predict_fn -> output_fn, as the SageMaker container chains them (``max_payload_bytes``
    overrides input_fn's limit)."""
    return output_fn(predict_fn(parse_request(body, content_type, max_payload_bytes), model), accept)
