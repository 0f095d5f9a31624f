"""The smoke test of an endpoint: requests through boto3 ``sagemaker-runtime`` ``invoke_endpoint``, each of
which must answer with one finite score in [0, 1] per row sent (the same check on a SageMaker endpoint and on
the local one, before its blue/green switch and after ml_deployment).

A request is ``(content_type, body, rows)``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from mlpipe.errors import MlPipeError

if TYPE_CHECKING:
    from mlpipe.config.deployment import SmokeTestSettings


class SmokeTestError(MlPipeError):
    """The endpoint did not answer the smoke test's requests with valid predictions."""


def request_rows(content_type: str, body: str) -> int:
    """How many rows (predictions expected) a CSV or JSON request body holds."""
    if content_type == "text/csv":
        return len([ln for ln in body.splitlines() if ln.strip()])
    doc = json.loads(body)
    if isinstance(doc, dict):
        return len(doc["instances"]) if "instances" in doc else 1
    return len(doc) if doc and isinstance(doc[0], (list, dict)) else 1


def configured_requests(settings: SmokeTestSettings) -> list[tuple[str, bytes, int]]:
    """The requests of ``deployment.smoke_test.requests``."""
    return [(r.content_type, r.body.encode(), request_rows(r.content_type, r.body)) for r in settings.requests]


def check_predictions(body: bytes, rows: int) -> list[float]:
    """The scores of a JSON response; :class:`SmokeTestError` unless there is one finite score in [0, 1] per row."""
    try:
        doc = json.loads(body)
        preds = doc["predictions"]
        scores = [p["score"] if "score" in p else max(p["scores"]) for p in preds]
    except (ValueError, KeyError, TypeError) as exc:
        raise SmokeTestError(f"the response is not {{'predictions': [{{'score': p}}, ...]}}: {body[:200]!r} ({exc})") from None
    if len(scores) != rows:
        raise SmokeTestError(f"{rows} rows sent but {len(scores)} predictions returned")
    bad = [s for s in scores if not (isinstance(s, int | float) and math.isfinite(s) and 0.0 <= s <= 1.0)]
    if bad:
        raise SmokeTestError(f"invalid scores {bad[:5]} (each must be a finite probability in [0, 1])")
    return [float(s) for s in scores]


def run_smoke_test(client: Any, endpoint_name: str, requests: list[tuple[str, bytes, int]]) -> list[float]:
    """Send every request through ``client.invoke_endpoint``; all scores, or :class:`SmokeTestError`."""
    from botocore.exceptions import BotoCoreError, ClientError

    scores: list[float] = []
    for i, (content_type, body, rows) in enumerate(requests):
        try:
            resp = client.invoke_endpoint(EndpointName=endpoint_name, ContentType=content_type,
                                          Accept="application/json", Body=body)
        except (ClientError, BotoCoreError) as exc:
            raise SmokeTestError(f"smoke request {i} ({content_type}, {rows} rows) to {endpoint_name} failed: "
                                 f"{exc}") from None
        try:
            scores += check_predictions(resp["Body"].read(), rows)
        except SmokeTestError as exc:
            raise SmokeTestError(f"smoke request {i} ({content_type}) to {endpoint_name}: {exc}") from None
    return scores
