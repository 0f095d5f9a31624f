"""The local endpoint's ASGI app (Starlette): the SageMaker container contract and the Runtime API path.

Routes (all served by the same inference handler, ``serving.inference``, that runs in the SageMaker
XGBoost container):

``GET /ping``
    200 once the model is loaded (it is loaded before the server binds its port).
``POST /invocations``
    The container contract: the body is the request, ``Content-Type``/``Accept`` as sent. Success: 200 with
    the prediction. A client mistake: its 4xx (400 malformed or invalid rows, 406 Accept, 413 too large,
    415 content type) with ``{"error": <code>, "status": <status>, "message": <what is wrong>}``.
``POST /endpoints/<name>/invocations``
    SageMaker Runtime's ``InvokeEndpoint`` (what ``boto3.client("sagemaker-runtime",
    endpoint_url=...)`` calls). Success: 200, the prediction as body, ``Content-Type`` and
    ``x-Amzn-Invoked-Production-Variant``. Errors in the shapes the real service returns, which botocore
    turns into ``ClientError``: a handler 4xx becomes ``ModelError`` (HTTP 424) with ``OriginalStatusCode``
    and ``OriginalMessage``; another endpoint name is ``ValidationError`` (400); a body over the limit is
    413 (``HTTP content length exceeded ...``) as from the real front end.
``GET /execution-parameters``
    What SageMaker batch transform asks a container for (``MaxPayloadInMB`` and friends).
``GET /stats``
    This worker's counters (invocations, errors, XGBoost calls and rows, data capture); local only.

Requests up to 64 KiB are parsed and validated on the event loop and predicted by a dynamic batcher: the
rows of the requests that arrive while a prediction runs go into the next XGBoost call, made in a worker
thread (the call releases the GIL), so parsing and predicting overlap on two cores and the call's fixed cost
is shared (``mlpipe.local.prediction_batcher``). Larger requests run the whole handler in a thread pool so small
requests keep flowing. Data capture (``mlpipe.local.capture``) only appends to a buffer on the request path.

``serve_foreground`` runs the app under uvicorn in this process (what the managed endpoint process runs), with
its configuration (``mlpipe.local.endpoint_config``) in $MLPIPE_ENDPOINT_CONFIG for uvicorn's workers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlpipe.local.capture import CaptureWriter
from mlpipe.local.endpoint_config import ENV_CONFIG, INSTANCE_HEADER, EndpointConfig
from mlpipe.local.prediction_batcher import PredictionBatcher

if TYPE_CHECKING:  # imported where used: `import mlpipe.local.endpoint` stays light for DAG code
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger("mlpipe.local.endpoint")

INLINE_BODY_BYTES = 64 * 1024
# A body over the limit is read and discarded (so the client sees the 413) up to this size; beyond it the
# connection is answered at once.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
_MODEL_ERROR_TYPE = "ModelError:http://internal.amazon.com/coral/com.amazon.sage.runtime/"
_VALIDATION_ERROR_TYPE = "ValidationError:http://internal.amazon.com/coral/com.amazon.coral.validate/"


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


# sagemaker_containers (the SageMaker XGBoost image's server) decodes these bodies before the handler sees them
CONTAINER_TEXT_TYPES = ("application/json", "text/csv")


def container_body(body: bytes, content_type: str | None) -> bytes | str:
    """The body as the SageMaker container hands it to the handler: for exactly ``text/csv`` or
    ``application/json`` (or no content type, which it takes for JSON) decoded as UTF-8 with undecodable bytes
    replaced (U+FFFD, which the handler refuses), otherwise the bytes. So both stacks answer alike."""
    if (content_type or "application/json") in CONTAINER_TEXT_TYPES:
        return body.decode("utf-8", errors="replace")
    return body


def _error_body(status: int, code: str, message: str) -> bytes:
    return json.dumps({"error": code, "status": status, "message": message}).encode()


def create_app(config: EndpointConfig) -> Starlette:
    """The ASGI app of one endpoint; loads the model now (a broken model directory fails here)."""
    from serving import inference  # include/ is on sys.path (pyproject, Makefile, start_endpoint)
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect
    from starlette.responses import Response
    from starlette.routing import Route

    model = inference.load_model(config.model_dir, nthread=config.nthread)
    invoke, parse_request, validate, output_fn = (inference.invoke, inference.parse_request, inference.validate,
                                                  inference.output_fn)
    InferenceError = inference.InferenceError
    limit = config.max_payload_bytes
    writer = CaptureWriter(config.capture, config.name, config.variant) if config.capture else None
    log_ref = config.log_file or "the endpoint's log"

    async def read_body(request: Request) -> bytes:
        """The body, or _TooLarge once it passes the limit (read and discarded up to DRAIN_LIMIT_BYTES so
        that the client, still sending, gets the 413)."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max(limit, DRAIN_LIMIT_BYTES):
            raise _TooLarge(int(length))
        chunks: list[bytes] = []
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total <= limit:
                chunks.append(chunk)
            elif total > DRAIN_LIMIT_BYTES:
                raise _TooLarge(total)
        if total > limit:
            raise _TooLarge(total)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    batcher = PredictionBatcher(model.predict) if config.batching else None
    counts = {"invocations": 0, "errors": 0}

    async def run_handler(body: bytes | str, content_type: str | None, accept: str | None) -> tuple[int, bytes, str, str]:
        """(status, body, content type, error code) of the handler for one request; never raises.

        The handler's steps in the container's order: input_fn, predict_fn (validate, then predict: with
        batching, together with the rows of the other requests waiting), output_fn."""
        body = container_body(body, content_type)
        try:
            if len(body) > INLINE_BODY_BYTES:
                out, out_type = await run_in_threadpool(invoke, model, body, content_type, accept, limit)
            elif batcher is None:
                out, out_type = invoke(model, body, content_type, accept, limit)
            else:
                X = validate(parse_request(body, content_type, limit), model)
                out, out_type = output_fn(await batcher.predict(X), accept)
            counts["invocations"] += 1
            return 200, out, out_type, ""
        except InferenceError as exc:
            counts["errors"] += 1
            return exc.status_code, exc.message.encode(), "text/plain", exc.code
        except Exception as exc:  # noqa: BLE001 - a bug in the handler: 500, logged with its traceback
            log.exception("inference failed")
            return 500, f"internal error: {type(exc).__name__}: {exc}".encode(), "text/plain", "internal_error"

    def capture(request: Request, body: bytes, out: bytes, out_type: str) -> None:
        if writer is not None:
            writer.offer(request.headers.get("content-type"), body, out_type, out,
                         request.headers.get("x-amzn-sagemaker-inference-id"))

    ping_headers = {INSTANCE_HEADER: config.instance_id} if config.instance_id else {}

    async def ping(request: Request) -> Response:
        return Response(b"", status_code=200, headers=ping_headers)

    async def stats(request: Request) -> Response:
        """This worker's counters (a local extension, not part of SageMaker's contract)."""
        doc: dict = {"pid": os.getpid(), "endpoint": config.name, "variant": config.variant, **counts}
        if batcher is not None:
            doc["predict_calls"], doc["predicted_rows"] = batcher.calls, batcher.rows
        if writer is not None:
            doc["capture"] = {"captured": writer.captured, "written": writer.written, "dropped": writer.dropped}
        return Response(json.dumps(doc), media_type="application/json")

    async def execution_parameters(request: Request) -> Response:
        return Response(json.dumps({"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD",
                                    "MaxPayloadInMB": max(1, limit // (1024 * 1024))}),
                        media_type="application/json")

    async def invocations(request: Request) -> Response:
        try:
            body = await read_body(request)
        except ClientDisconnect:
            return Response(b"", 499)
        except _TooLarge as exc:  # the handler's own 413 (the same message), before the whole body is read
            err = inference.payload_too_large(exc.size, limit)
            return Response(_error_body(err.status_code, err.code, err.message), 413, media_type="application/json")
        status, out, out_type, code = await run_handler(body, request.headers.get("content-type"),
                                                        request.headers.get("accept"))
        if status != 200:
            return Response(_error_body(status, code, out.decode()), status, media_type="application/json")
        capture(request, body, out, out_type)
        return Response(out, 200, headers={"content-type": out_type})

    async def runtime_invocations(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        name = request.path_params["name"]
        if name != config.name:
            return _runtime_error(400, _VALIDATION_ERROR_TYPE,
                                  {"message": f"Endpoint {name} of account local not found."}, request_id)
        try:
            body = await read_body(request)
        except ClientDisconnect:
            return Response(b"", 499)
        except _TooLarge as exc:
            return _runtime_error(413, None, {"message": f"HTTP content length exceeded {limit} bytes "
                                                         f"(got {exc.size})."}, request_id)
        status, out, out_type, _ = await run_handler(body, request.headers.get("content-type"),
                                                     request.headers.get("accept"))
        if status != 200:
            original = out.decode()
            return _runtime_error(424, _MODEL_ERROR_TYPE, {
                "ErrorCode": "CLIENT_ERROR_FROM_MODEL" if status < 500 else "SERVER_ERROR_FROM_MODEL",
                "LogStreamArn": f"file://{log_ref}",
                "Message": f'Received {"client" if status < 500 else "server"} error ({status}) from primary with '
                           f'message "{original}". See {log_ref} for more information.',
                "OriginalMessage": original,
                "OriginalStatusCode": status,
            }, request_id)
        capture(request, body, out, out_type)
        return Response(out, 200, headers={"content-type": out_type, "x-Amzn-Invoked-Production-Variant": config.variant,
                                           "x-amzn-RequestId": request_id})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if writer is not None:
            writer.start()
        if batcher is not None:
            batcher.start()
        log.info("endpoint %s (variant %s) serving %s (%d features)", config.name, config.variant,
                 config.model_dir, model.schema.n_features)
        try:
            yield
        finally:
            if batcher is not None:
                batcher.close()
                log.info("predictions: %d requests in %d XGBoost calls (%d rows)", counts["invocations"],
                         batcher.calls, batcher.rows)
            if writer is not None:
                writer.close()
                log.info("data capture: %d captured, %d written, %d dropped", writer.captured, writer.written,
                         writer.dropped)

    app = Starlette(routes=[
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/endpoints/{name}/invocations", runtime_invocations, methods=["POST"]),
        Route("/execution-parameters", execution_parameters, methods=["GET"]),
        Route("/stats", stats, methods=["GET"]),
    ], lifespan=lifespan)
    app.state.model = model
    app.state.config = config
    app.state.capture = writer
    return app


def _runtime_error(status: int, error_type: str | None, body: dict, request_id: str) -> Response:
    from starlette.responses import Response

    headers = {"x-amzn-RequestId": request_id}
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    return Response(json.dumps(body).encode(), status, headers=headers, media_type="application/json")


def serve_foreground(config: EndpointConfig, host: str, port: int, workers: int = 1,
                     pid_file: Path | None = None) -> int:
    """Run uvicorn in this process until SIGTERM/SIGINT; removes ``pid_file`` if it still names this process."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["mlpipe"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    os.environ[ENV_CONFIG] = config.to_json()
    try:
        uvicorn.run("mlpipe.local.endpoint_app:app_from_env", factory=True, host=host, port=port,
                    workers=workers, loop="uvloop", http="httptools", lifespan="on", access_log=False,
                    log_config=log_config, log_level="info", timeout_graceful_shutdown=10, timeout_keep_alive=30, server_header=False)
        return 0
    finally:
        if pid_file is not None:
            with contextlib.suppress(OSError, ValueError, KeyError):
                if int(json.loads(pid_file.read_text())["pid"]) == os.getpid():
                    pid_file.unlink()


def app_from_env() -> Starlette:
    """uvicorn's factory (``mlpipe.local.endpoint_app:app_from_env``): the config from $MLPIPE_ENDPOINT_CONFIG."""
    raw = os.environ.get(ENV_CONFIG)
    if not raw:
        raise RuntimeError(f"${ENV_CONFIG} is not set; start the endpoint with mlpipe.local.endpoint")
    if "xgboost" not in sys.modules:
        # xgboost imports scikit-learn (and with it scipy and pandas) when it is installed, ~3 s of start-up
        # and ~100 MB per worker that serving never uses: this server process goes without.
        sys.modules.setdefault("sklearn", None)  # type: ignore[arg-type]
    return create_app(EndpointConfig.from_json(raw))
