"""The handler's errors: an ``InferenceError`` subclass for each client mistake, carrying its HTTP status (400,
406, 413, 415), a short code and a message that says what to fix; ``ModelLoadError`` for a broken model
directory (a packaging error, never a client's).

Where ``sagemaker_inference`` is installed (the multi-model server's toolkit) the client errors also derive from
its ``BaseInferenceToolkitError``, so the toolkit answers them with their own status.
"""

from __future__ import annotations

try:  # inside the SageMaker container: let the toolkit turn our errors into their HTTP status
    from sagemaker_inference.errors import BaseInferenceToolkitError as _ToolkitError  # type: ignore
except Exception:  # noqa: BLE001 - not installed locally
    _ToolkitError = Exception  # type: ignore[misc,assignment]


class InferenceError(_ToolkitError):  # type: ignore[misc,valid-type]
    """A request the handler refuses: ``status_code`` is the HTTP status, ``message`` says what to fix."""

    status_code = 400
    phrase = "Bad Request"
    code = "bad_request"

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.message = message

    def to_dict(self) -> dict:
        return {"error": self.code, "status": self.status_code, "message": self.message}


class EmptyBodyError(InferenceError):
    code = "empty_body"


class MalformedPayloadError(InferenceError):
    code = "malformed_payload"


class FeatureCountError(InferenceError):
    code = "feature_count"


class FeatureTypeError(InferenceError):
    code = "feature_type"


class FeatureNameError(InferenceError):
    code = "feature_name"


class PayloadTooLargeError(InferenceError):
    status_code = 413
    phrase = "Payload Too Large"
    code = "payload_too_large"


class UnsupportedContentTypeError(InferenceError):
    status_code = 415
    phrase = "Unsupported Media Type"
    code = "unsupported_content_type"


class UnsupportedAcceptError(InferenceError):
    status_code = 406
    phrase = "Not Acceptable"
    code = "unsupported_accept"


class ModelLoadError(Exception):
    """The model directory is incomplete or inconsistent (a packaging error, never a client error)."""
