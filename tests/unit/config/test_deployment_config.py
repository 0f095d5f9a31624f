"""The deployment section (mlpipe.config.deployment): defaults, the request fragment it renders, and an error naming
the key, the value and the fix for every wrong value."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from mlpipe import defaults
from mlpipe.config import ConfigError, load_config
from mlpipe.config.deployment import BlueGreenSettings, DeploymentConfig, SmokeTestSettings

ROOT = Path(__file__).resolve().parents[3]
LOCAL = yaml.safe_load((ROOT / "include/config/local.yaml").read_text())
AWS = yaml.safe_load((ROOT / "include/config/aws-dev.yaml").read_text())


def error_of(tmp_path: Path, base: dict, deployment: dict) -> str:
    doc = copy.deepcopy(base)
    doc["deployment"] = deployment
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        load_config("t", environ={"MLPIPE_CONFIG_DIR": str(tmp_path)})
    return str(info.value)


def test_defaults_come_from_the_defaults_module():
    d = DeploymentConfig()
    assert (d.mode, d.endpoint_name, d.variant_name) == (
        defaults.DEPLOYMENT_MODE, defaults.DEPLOYMENT_ENDPOINT_NAME, defaults.DEPLOYMENT_VARIANT_NAME)
    assert (d.instance_type, d.instance_count) == (defaults.DEPLOYMENT_INSTANCE_TYPE, defaults.DEPLOYMENT_INSTANCE_COUNT)
    assert d.execution_role_arn is None and d.kms_key_arn is None and d.enable_network_isolation
    assert d.data_capture.enabled and d.data_capture.destination is None
    assert d.data_capture.sampling_percentage == defaults.DEPLOYMENT_CAPTURE_PERCENTAGE
    assert d.blue_green.canary_percent == defaults.DEPLOYMENT_CANARY_PERCENT and d.blue_green.alarms == []
    assert d.smoke_test.gold_rows == defaults.DEPLOYMENT_SMOKE_GOLD_ROWS and d.smoke_test.requests == []
    assert d.transform.instance_type == defaults.DEPLOYMENT_TRANSFORM_INSTANCE_TYPE
    assert (d.local.port, d.local.run_dir) == (defaults.DEPLOYMENT_LOCAL_PORT, defaults.DEPLOYMENT_LOCAL_RUN_DIR)


@pytest.mark.parametrize(("mode", "endpoint", "batch"),
                         [("endpoint", True, False), ("batch", False, True), ("both", True, True)])
def test_the_mode_says_what_is_deployed(mode: str, endpoint: bool, batch: bool):
    d = DeploymentConfig(mode=mode)
    assert (d.endpoint, d.batch) == (endpoint, batch)


def test_blue_green_renders_the_endpoint_deployment_config():
    bg = BlueGreenSettings(canary_percent=20, canary_wait_seconds=300, termination_wait_seconds=120)
    assert bg.sagemaker() == {"BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 300,
                                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20}},
        "TerminationWaitInSeconds": 120,
        "MaximumExecutionTimeoutInSeconds": defaults.DEPLOYMENT_MAX_EXECUTION_SECONDS}}
    with_alarms = BlueGreenSettings(alarms=["a-5xx", "a-latency"]).sagemaker()
    assert with_alarms["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": "a-5xx"}, {"AlarmName": "a-latency"}]}


def test_the_shipped_configs_deploy_as_written():
    aws = load_config("aws-dev", environ={}).deployment
    assert aws.endpoint_name == "mlpipe-churn-dev" and aws.instance_count == 2
    assert aws.data_capture.destination == "s3://acme-ml-lake-dev/lake/capture"
    assert load_config("local", environ={}).deployment.data_capture.destination is None


def test_a_smoke_test_needs_something_to_send():
    assert SmokeTestSettings(gold_rows=0, requests=[{"body": "{}"}]).gold_rows == 0
    with pytest.raises(ValueError, match="the smoke test would send nothing"):
        SmokeTestSettings(gold_rows=0)


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        ({"mode": "stream"}, "deployment.mode: Input should be 'endpoint', 'batch' or 'both' (got 'stream')"),
        ({"endpoint_name": "churn_endpoint"},
         "deployment.endpoint_name: must be a SageMaker name: 1-63 letters, digits and hyphens, starting and ending "
         "with a letter or digit, no '_' (e.g. mlpipe-churn) (got 'churn_endpoint')"),
        ({"variant_name": "-blue"}, "deployment.variant_name: must be a SageMaker name"),
        ({"instance_type": "m5.large"}, "deployment.instance_type: 'm5.large' is not a SageMaker instance type "
                                        "(ml.<family>.<size>) (got 'm5.large')"),
        ({"instance_type": "ml.t3.medium"}, "deployment.instance_type: ml.t3.medium: family 't3' is not one "
                                            "mlpipe.config.instances.FAMILIES accepts for hosting"),
        ({"instance_count": 0}, "deployment.instance_count: Input should be greater than or equal to 1 (got 0)"),
        ({"execution_role_arn": "mlpipe-inference"},
         "deployment.execution_role_arn: must be an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name> "
         "(got 'mlpipe-inference')"),
        ({"kms_key_arn": "my-key"}, "deployment.kms_key_arn: must be a KMS key: arn:aws:kms:<region>:<account>:"
                                    "key/<id>, arn:aws:kms:...:alias/<name>, alias/<name> or a key id; leave it out "
                                    "to use aws.kms_key_arn (got 'my-key')"),
        ({"data_capture": {"destination": "/var/capture"}},
         "deployment.data_capture.destination: must be an s3://<bucket>/<prefix> URI (aws stack) or a file://<dir> URI "
         "(local stack); leave it out to capture under <lake>/capture (got '/var/capture')"),
        ({"data_capture": {"sampling_percentage": 101}},
         "deployment.data_capture.sampling_percentage: Input should be less than or equal to 100 (got 101)"),
        ({"blue_green": {"canary_percent": 100}},
         "deployment.blue_green.canary_percent: Input should be less than or equal to 99 (got 100)"),
        ({"blue_green": {"alarms": ["  "]}},
         "deployment.blue_green.alarms: alarm names must be 1-255 characters, not blank (CloudWatch's limit); fix or "
         "remove ['  ']"),
        ({"blue_green": {"alarms": ["x" * 256]}}, "deployment.blue_green.alarms: alarm names must be 1-255 characters"),
        ({"smoke_test": {"gold_rows": 0}},
         "deployment.smoke_test: the smoke test would send nothing: list requests or set gold_rows above 0"),
        ({"smoke_test": {"requests": [{"content_type": "text/xml", "body": "<a/>"}]}},
         "deployment.smoke_test.requests.0.content_type: Input should be 'text/csv' or 'application/json' "
         "(got 'text/xml')"),
        ({"smoke_test": {"requests": [{"body": ""}]}},
         "deployment.smoke_test.requests.0.body: String should have at least 1 character"),
        ({"transform": {"instance_type": "ml.r5.large"}}, "deployment.transform.instance_type: ml.r5.large: family "
                                                          "'r5' is not one mlpipe.config.instances.FAMILIES accepts "
                                                          "for transform"),
        ({"local": {"port": 80}}, "deployment.local.port: Input should be greater than or equal to 1024 (got 80)"),
        ({"endpoint": "x"}, "deployment.endpoint: unknown key; remove it or fix its spelling"),
    ],
)
def test_invalid_deployment_names_key_value_and_fix(tmp_path: Path, deployment: dict, expected: str):
    assert expected in error_of(tmp_path, LOCAL, deployment)


@pytest.mark.parametrize(("base", "destination", "expected"), [
    (LOCAL, "s3://bucket/capture", "deployment.data_capture.destination: stack 'local' needs a file:// URI, got "
                                   "'s3://bucket/capture'; leave it out to capture under <lake>/capture"),
    (AWS, "file:///tmp/capture", "deployment.data_capture.destination: stack 'aws' needs a s3:// URI, got "
                                 "'file:///tmp/capture'"),
])
def test_the_capture_destination_is_on_the_stacks_storage(tmp_path: Path, base: dict, destination: str,
                                                          expected: str):
    message = error_of(tmp_path, base, {**base.get("deployment", {}), "data_capture": {"destination": destination}})
    assert expected in message and message.count("data_capture.destination") == 1
