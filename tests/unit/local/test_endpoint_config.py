"""mlpipe.local.endpoint_config: the server's configuration survives the trip through $MLPIPE_ENDPOINT_CONFIG."""

from __future__ import annotations

from pathlib import Path

from mlpipe.local.capture import CaptureConfig
from mlpipe.local.endpoint_config import DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_VARIANT, EndpointConfig


def test_the_config_round_trips_through_json(tmp_path: Path) -> None:
    config = EndpointConfig(model_dir=tmp_path / "model", name="churn", variant="Blue", max_payload_bytes=1024,
                            capture=CaptureConfig(tmp_path / "capture", sampling_percentage=25), nthread=2,
                            batching=False, log_file=str(tmp_path / "log"), instance_id="abc")
    back = EndpointConfig.from_json(config.to_json())
    assert back == config and back.log_file == config.log_file and back.capture == config.capture


def test_the_defaults_are_sagemakers() -> None:
    config = EndpointConfig.from_json(EndpointConfig(model_dir=Path("m"), name="churn").to_json())
    assert (config.variant, config.max_payload_bytes, config.capture) == (DEFAULT_VARIANT, DEFAULT_MAX_PAYLOAD_BYTES, None)
    assert DEFAULT_VARIANT == "AllTraffic" and DEFAULT_MAX_PAYLOAD_BYTES == 6 * 1024 * 1024
