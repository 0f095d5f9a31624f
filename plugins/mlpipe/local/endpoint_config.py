"""What one local endpoint process needs to serve (``EndpointConfig``), as the manager
(``mlpipe.local.endpoint``) hands it to the server (``mlpipe.local.endpoint_app``) and its uvicorn workers: JSON
in $MLPIPE_ENDPOINT_CONFIG."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mlpipe.local.capture import CaptureConfig

ENV_CONFIG = "MLPIPE_ENDPOINT_CONFIG"
INSTANCE_HEADER = "x-mlpipe-instance"
DEFAULT_VARIANT = "AllTraffic"
DEFAULT_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's InvokeEndpoint limit


@dataclass(frozen=True)
class EndpointConfig:
    """Everything one endpoint process needs (passed to uvicorn's workers as JSON in $MLPIPE_ENDPOINT_CONFIG)."""

    model_dir: Path
    name: str
    variant: str = DEFAULT_VARIANT
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    capture: CaptureConfig | None = None
    nthread: int = 1
    # Predict the rows of concurrent requests in one XGBoost call, in a thread (the call releases the GIL).
    batching: bool = True
    log_file: str | None = field(default=None, compare=False)
    # Returned by /ping as x-mlpipe-instance: lets the starter tell its own server from another on the port.
    instance_id: str = ""

    def to_json(self) -> str:
        return json.dumps({"model_dir": str(self.model_dir), "name": self.name, "variant": self.variant,
                           "max_payload_bytes": self.max_payload_bytes, "nthread": self.nthread,
                           "batching": self.batching,
                           "capture": self.capture.to_dict() if self.capture else None,
                           "log_file": self.log_file, "instance_id": self.instance_id})

    @classmethod
    def from_json(cls, text: str) -> EndpointConfig:
        raw = json.loads(text)
        cap = raw.pop("capture", None)
        return cls(model_dir=Path(raw.pop("model_dir")), capture=CaptureConfig.from_dict(cap) if cap else None,
                   **raw)
