"""The SageMaker XGBoost container's entry module: ``model.tar.gz`` holds this file as ``code/inference.py``.

The registered model package sets ``SAGEMAKER_PROGRAM=inference.py`` and
``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``; the image (``sagemaker_xgboost_container.serving``) then
imports this module and wraps what it defines in ``sagemaker_containers``' ``Transformer``, served by its
Flask ``Worker``. The handler itself is ``serving.inference`` (``code/serving/`` in the archive), the same
module the local endpoint and the local batch transform run.

Why a ``transform_fn`` and not the handler's ``input_fn``/``predict_fn``/``output_fn``: with those, the
Transformer turns every exception except its own ``UnsupportedFormatError`` into a 500 (which also counts
toward the 5xx alarms that roll a blue/green deployment back). A ``transform_fn`` may return a response with
its own status, so each ``InferenceError`` becomes its 4xx here, with the same JSON body the local endpoint
sends (``{"error", "status", "message"}``). The image refuses a module that defines both, so this module
defines only ``model_fn`` and ``transform_fn``. Any other exception is a bug and still a 500.

The content type as the client sent it: the Transformer takes a request without one for ``application/json``;
``transform_fn`` reads the ``Content-Type`` header from the Flask request instead (when there is one), so a
missing content type is named as the local endpoint names it. (The body of a ``text/csv`` or
``application/json`` request arrives decoded as UTF-8, undecodable bytes replaced by U+FFFD, which the handler
refuses; the local endpoint decodes it the same way, ``mlpipe.local.endpoint_app.container_body``.)

``sagemaker_containers`` and Flask exist only in the container: they are imported when a request is served,
so this module imports, and ``transform_fn`` runs on its arguments, without them.
"""

from __future__ import annotations

import json
from typing import Any

from serving import inference
from serving.content_types import JSON
from serving.errors import InferenceError
from serving.model import Model


def model_fn(model_dir: str) -> Model:
    """The Booster and its feature schema from the model directory (``/opt/ml/model``)."""
    return inference.model_fn(model_dir)


def transform_fn(model: Model, request_body: bytes | str, content_type: str | None,
                 accept: str | None) -> Any:
    """input_fn -> predict_fn -> output_fn; ``(body, content type)`` on success (the Transformer answers 200),
    a response with the error's own status and message for a request the handler refuses."""
    request_body, content_type = client_request(request_body, content_type)
    try:
        return inference.invoke(model, request_body, content_type, accept)
    except InferenceError as exc:
        return error_response(exc)


def client_request(body: bytes | str, content_type: str | None) -> tuple[bytes | str, str | None]:
    """The body, and the content type of the Flask request being served (see the module docstring), or the
    arguments as given outside a request."""
    try:
        import flask
    except ImportError:
        return body, content_type
    if not flask.has_request_context():
        return body, content_type
    headers = flask.request.headers
    # sagemaker_containers reads 'ContentType' (what some AWS services send) before 'Content-Type'
    return body, headers.get("ContentType") or headers.get("Content-Type")


def error_body(exc: InferenceError) -> bytes:
    """The body of a refused request, as the local endpoint writes it."""
    return json.dumps(exc.to_dict()).encode("utf-8")


def error_response(exc: InferenceError) -> Any:
    """``sagemaker_containers``' Response (a Flask response) with the error's status and JSON body."""
    from sagemaker_containers.beta.framework import worker  # only inside the container

    return worker.Response(response=error_body(exc), status=exc.status_code, mimetype=JSON)
