"""The emr section: required on the aws stack, each mode's own requirements, precise messages."""

from __future__ import annotations

import pytest
from mlpipe.config import load_config
from mlpipe.errors import ConfigError


def _error(**overrides: str) -> str:
    with pytest.raises(ConfigError) as err:
        load_config("aws-dev", environ=overrides)
    return str(err.value)


def test_the_aws_example_is_valid_in_both_modes():
    assert load_config("aws-dev").emr.mode == "transient"
    cfg = load_config("aws-dev", environ={"MLPIPE__EMR__MODE": "serverless"})
    assert cfg.emr.serverless.application_id == "00fkabc123def456"


def test_the_aws_stack_needs_the_emr_section():
    assert "emr: required when stack is 'aws'" in _error(MLPIPE__EMR="")


def test_each_mode_names_what_it_needs():
    assert ("emr.serverless: required when emr.mode is 'serverless'; set serverless.application_id and "
            "serverless.execution_role_arn") in _error(MLPIPE__EMR__MODE="serverless", MLPIPE__EMR__SERVERLESS="")
    assert "emr.cluster: required when emr.mode is 'transient'" in _error(MLPIPE__EMR__CLUSTER="")
    assert "emr.cluster.security_configuration: Input should be a valid string (got None)" in _error(
        MLPIPE__EMR__CLUSTER__SECURITY_CONFIGURATION="")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("MLPIPE__EMR__LOG_URI", "logs/emr", "emr.log_uri: must be an s3://<bucket>/<prefix> URI (got 'logs/emr')"),
    ("MLPIPE__EMR__MODE", "ec2", "emr.mode: Input should be 'transient' or 'serverless'"),
    ("MLPIPE__EMR__CLUSTER__TASK__INSTANCE_TYPES", "[r7g2xlarge]", "emr.cluster.task.instance_types: not EC2 "
                                                                   "instance types: ['r7g2xlarge']"),
    ("MLPIPE__EMR__CLUSTER__PYTHON_PACKAGES", "[great-expectations]", "emr.cluster.python_packages: pin every "
                                                                      "package with =="),
    ("MLPIPE__EMR__SPARK_CONF", "{executor.memory: 4g}", "emr.spark_conf: keys must be Spark properties"),
    ("MLPIPE__EMR__SERVERLESS__EXECUTION_ROLE_ARN", "mlpipe-role", "emr.serverless.execution_role_arn: String "
                                                                   "should match pattern"),
    ("MLPIPE__EMR__CLUSTER__TASK__TIMEOUT_ACTION", "WAIT", "emr.cluster.task.timeout_action: Input should be"),
    ("MLPIPE__EMR__STEP_TIMEOUT_MINUTES", "1", "emr.step_timeout_minutes: Input should be greater than or equal "
                                               "to 5"),
    ("MLPIPE__EMR__ATHENA__TYPO", "x", "emr.athena.typo: unknown key"),
])
def test_bad_values_are_named(key, value, message):
    assert message in _error(**{key: value})


def test_the_aws_stack_checks_subnets_and_run_length_when_the_dag_is_built():
    from mlpipe.stacks.aws.features import check_fits

    check_fits(load_config("aws-dev"))
    with pytest.raises(ConfigError) as err:
        check_fits(load_config("aws-dev", environ={"MLPIPE__AWS__SUBNET_IDS": "[]",
                                                   "MLPIPE__EMR__STEP_TIMEOUT_MINUTES": "400"}))
    assert "aws.subnet_ids: required when emr.mode is 'transient'" in str(err.value)
    assert "dag.dagrun_timeout_minutes (720) is shorter than what ml_features may wait on EMR (845 min" in str(err.value)
    check_fits(load_config("aws-dev", environ={"MLPIPE__AWS__SUBNET_IDS": "[]", "MLPIPE__EMR__MODE": "serverless"}))


@pytest.mark.parametrize("label", ["emr-6.15.0", "emr-7.0.0", "emr-8.0.0"])
def test_the_release_label_must_be_an_emr_7_release_with_python_3_11(label):
    """EMR 6.x has neither Spark 3.5 nor Python 3.11; emr-7.0.0 only Python 3.9 (too old for GX 1.24.1)."""
    message = _error(MLPIPE__EMR__RELEASE_LABEL=label)
    assert ("emr.release_label: must be an EMR 7.x release from emr-7.1.0 on (e.g. emr-7.9.0): the spark_jobs run "
            "on Spark 3.5 and Python 3.11 (/usr/bin/python3.11)") in message
    assert f"(got '{label}')" in message


@pytest.mark.parametrize("label", ["emr-7.1.0", "emr-7.9.0", "emr-7.12.0"])
def test_emr_7_releases_with_python_3_11_are_accepted(label):
    assert load_config("aws-dev", environ={"MLPIPE__EMR__RELEASE_LABEL": label}).emr.release_label == label
