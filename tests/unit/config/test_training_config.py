"""The training: section: every invalid case fails with a message naming the key and what to change."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mlpipe.config import load_config
from mlpipe.config.training import SCRIPT_HYPERPARAMETERS, TUNABLE, TrainingConfig
from mlpipe.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
LOCAL = yaml.safe_load((ROOT / "include/config/local.yaml").read_text())
AWS = yaml.safe_load((ROOT / "include/config/aws-dev.yaml").read_text())


def error_of(tmp_path: Path, base: dict, training: dict) -> str:
    doc = yaml.safe_load(yaml.safe_dump(base))
    doc["training"] = _merge(doc.get("training") or {}, training)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        load_config("t", environ={"MLPIPE_CONFIG_DIR": str(tmp_path)})
    return str(info.value)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) and v else v
    return out


def test_shipped_configs_have_a_valid_training_section():
    local = load_config("local", environ={}).training
    aws = load_config("aws-dev", environ={}).training
    assert local.tuning.max_jobs <= 4 and local.registry.auto_approve and local.num_round <= 300
    assert aws.sagemaker.instance_type == "ml.g5.xlarge" and aws.sagemaker.use_spot
    assert aws.sagemaker.stopping_condition() == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert aws.tuning.early_stopping_type == "Auto" and not aws.registry.auto_approve


RANGE = {"type": "continuous", "min_value": 0.01, "max_value": 0.3}


@pytest.mark.parametrize(("training", "expected"), [
    ({"sagemaker": {"max_runtime_seconds": 7200, "max_wait_seconds": 3600}},
     "training.sagemaker: max_wait_seconds (3600) must be >= max_runtime_seconds (7200)"),
    ({"sagemaker": {"max_wait_seconds": None}}, "max_wait_seconds: required with use_spot (MaxWaitTimeInSeconds)"),
    ({"tuning": {"ranges": {"eta": {**RANGE, "min_value": 0.3}}}},
     "training.tuning.ranges.eta.continuous: empty range: min_value (0.3) must be < max_value (0.3)"),
    ({"tuning": {"ranges": {"max_depth": {"type": "integer", "min_value": 6, "max_value": 3}}}},
     "empty range: min_value (6) must be < max_value (3); a fixed value belongs in training.hyperparameters"),
    ({"tuning": {"ranges": {"gamma": {**RANGE, "min_value": 0, "scaling": "Logarithmic"}}}},
     "Logarithmic scaling needs min_value > 0 (got 0.0)"),
    ({"tuning": {"ranges": {"subsample": {**RANGE, "max_value": 1.0, "scaling": "ReverseLogarithmic"}}}},
     "ReverseLogarithmic scaling needs 0 <= min_value < max_value < 1"),
    ({"tuning": {"ranges": {"grow_policy": {"type": "categorical", "values": []}}}},
     "training.tuning.ranges.grow_policy.categorical.values: List should have at least 1 item"),
    ({"tuning": {"ranges": {"grow_policy": {"type": "categorical", "values": ["depthwise", "depthwise"]}}}},
     "values listed twice: ['depthwise']"),
    ({"tuning": {"ranges": {"eta": {"type": "uniform", "min_value": 0, "max_value": 1}}}},
     "does not match any of the expected tags: 'continuous', 'integer', 'categorical'"),
    ({"tuning": {"ranges": {"max_dept": {"type": "integer", "min_value": 2, "max_value": 6}}}},
     "training.tuning.ranges: cannot tune ['max_dept']; tunable hyperparameters are"),
    ({"tuning": {"ranges": {}}}, "at least one range is needed"),
    ({"tuning": {"strategy": "Hyperband"}}, "training.tuning.strategy: Input should be 'Bayesian', 'Random' or 'Grid'"),
    ({"tuning": {"strategy": "Grid"}}, "strategy Grid searches categorical ranges only;"),
    ({"tuning": {"max_jobs": 2, "max_parallel_jobs": 3}}, "max_parallel_jobs (3) must be <= max_jobs (2)"),
    ({"tuning": {"objective": {"metric": "validation:f2", "type": "Maximize"}}},
     "objective.metric: 'validation:f2' has no entry in metric_definitions"),
    ({"tuning": {"objective": {"metric": "validation:logloss", "type": "Maximize"}}},
     "validation:logloss is better when smaller: set type: Minimize"),
    ({"tuning": {"metric_definitions": [{"name": "validation:auc", "regex": "validation:auc=[0-9.]+;"}]}},
     "must have exactly one capture group for the value (has 0)"),
    ({"tuning": {"metric_definitions": [{"name": "validation:auc", "regex": "validation:auc=([0-9.]+;"}]}},
     "not a valid regular expression"),
    ({"tuning": {"early_stopping_type": "Sometimes"}}, "Input should be 'Off' or 'Auto'"),
    ({"hyperparameters": {"eta": 0.1}}, "hyperparameters: ['eta'] also have a range in tuning.ranges; keep one"),
    ({"hyperparameters": {"etaa": 0.1}}, "unknown hyperparameters ['etaa']; train.py accepts"),
    ({"hyperparameters": {"num_round": 10}}, "['num_round'] are set by their own keys of the training section"),
    ({"split": {"validation_start_days": 20, "test_start_days": 30}},
     "boundaries must shrink: train_start_days (80) > validation_start_days (20) > test_start_days (30)"),
    ({"early_stopping_rounds": 200, "num_round": 100}, "early_stopping_rounds (200) must be < num_round (100)"),
    ({"checkpoint_interval": 0}, "checkpoint_interval: 0 with sagemaker.use_spot loses every round"),
    ({"evaluation": {"decision_threshold": 1.0}}, "training.evaluation.decision_threshold: Input should be less than 1"),
    ({"registry": {"model_package_group": "churn_model"}}, "training.registry.model_package_group: String should match pattern"),
    ({"sagemaker": {"image_uri": "xgboost:latest"}}, "training.sagemaker.image_uri: String should match pattern"),
    ({"sagemaker": {"instance_type": "g5.xlarge"}}, "training.sagemaker.instance_type: String should match pattern"),
    ({"sagemaker": {"instance_count": 2}}, "training.sagemaker.instance_count: Input should be less than or equal to 1"),
    ({"sagemaker": {"instance_type": "ml.g6.xlarge"}},
     "training.sagemaker.instance_type: ml.g6.xlarge: family 'g6' is not one mlpipe.config.instances.FAMILIES accepts "
     "for training"),
    ({"sagemaker": {"instance_type": "ml.inf1.xlarge"}}, "family 'inf1' is not one mlpipe.config.instances.FAMILIES "
     "accepts for training (the table records whether a family has local instance storage"),
    ({"id_columns": ["customer_id", "churned"]}, "id_columns: must not contain the label 'churned'"),
    ({"tuning": {"max_jobz": 3}}, "training.tuning.max_jobz: unknown key; remove it or fix its spelling"),
])
def test_invalid_training_config(tmp_path, training, expected):
    assert expected in error_of(tmp_path, AWS, training)


def test_yaml_off_means_off(tmp_path):
    doc = yaml.safe_load(yaml.safe_dump(LOCAL))
    doc["training"]["tuning"]["early_stopping_type"] = False       # what YAML 1.1 makes of a bare Off
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc))
    assert load_config("t", environ={"MLPIPE_CONFIG_DIR": str(tmp_path)}).training.tuning.early_stopping_type == "Off"


def test_the_script_accepts_exactly_the_hyperparameters_the_config_knows():
    from training.params import known_names

    assert sorted(set(SCRIPT_HYPERPARAMETERS) | set(TUNABLE)) == known_names()


def test_static_hyperparameters_are_strings_and_leave_the_tuned_ones_out():
    cfg = load_config("local", environ={}).training
    static = cfg.static_hyperparameters()
    assert all(isinstance(v, str) for v in static.values())
    assert static["label"] == "churned" and static["exclude"] == "customer_id,as_of,split"
    assert static["num_round"] == "300" and static["checkpoint_interval"] == "10"
    assert not set(static) & set(cfg.tuning.ranges)
    from training.params import parse

    parse({k: v for k, v in static.items()})                      # the script accepts every one


def test_split_windows_are_days_before_ds():
    import datetime as dt

    w = TrainingConfig().split.windows("2026-11-03")
    assert w["train"] == (dt.date(2026, 8, 15), dt.date(2026, 9, 13))
    assert w["validation"][0] == w["train"][1] and w["test"][0] == w["validation"][1]
    assert w["test"][1] == dt.date(2026, 10, 5)        # ds - 29: the ds-30 snapshot is the newest labelled one


def test_request_fragments_are_valid_sagemaker_requests():
    """What the aws stack sends, checked against botocore's own service model of SageMaker."""
    import botocore.session
    from botocore.validate import ParamValidator

    cfg = load_config("aws-dev", environ={}).training
    model = botocore.session.get_session().get_service_model("sagemaker")
    request = {
        "HyperParameterTuningJobName": "ml-training-20261103-1a2b3c4d",
        "HyperParameterTuningJobConfig": {
            "Strategy": cfg.tuning.strategy,
            "HyperParameterTuningJobObjective": cfg.sagemaker_objective(),
            "ResourceLimits": {"MaxNumberOfTrainingJobs": cfg.tuning.max_jobs,
                               "MaxParallelTrainingJobs": cfg.tuning.max_parallel_jobs},
            "ParameterRanges": cfg.sagemaker_parameter_ranges(),
            "TrainingJobEarlyStoppingType": cfg.tuning.early_stopping_type,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": cfg.static_hyperparameters(),
            "AlgorithmSpecification": {"TrainingImage": cfg.sagemaker.image_uri, "TrainingInputMode": "File",
                                       "MetricDefinitions": cfg.sagemaker_metric_definitions()},
            "RoleArn": cfg.sagemaker.role_arn,
            "OutputDataConfig": {"S3OutputPath": "s3://acme-ml-lake-dev/lake/models/"},
            "ResourceConfig": {"InstanceType": cfg.sagemaker.instance_type, "InstanceCount": 1,
                               "VolumeSizeInGB": cfg.sagemaker.volume_size_gb},
            "StoppingCondition": cfg.sagemaker.stopping_condition(),
            "EnableManagedSpotTraining": cfg.sagemaker.use_spot,
            "CheckpointConfig": {"S3Uri": "s3://acme-ml-lake-dev/lake/checkpoints/"},
        },
    }
    report = ParamValidator().validate(request, model.operation_model("CreateHyperParameterTuningJob").input_shape)
    assert not report.has_errors(), report.generate_report()
    ranges = cfg.sagemaker_parameter_ranges()
    assert {r["Name"] for r in ranges["ContinuousParameterRanges"]} >= {"eta", "subsample"}
    assert ranges["IntegerParameterRanges"] == [{"Name": "max_depth", "MinValue": "2", "MaxValue": "10",
                                                 "ScalingType": "Linear"}]


def test_every_training_family_of_the_table_is_accepted(tmp_path):
    from mlpipe.config.instances import FAMILIES, TRAINING, accepted

    assert accepted(TRAINING) == sorted(f for f, v in FAMILIES.items() if TRAINING in v.jobs) and "g5" in accepted(TRAINING)
    for family in accepted(TRAINING):
        doc = yaml.safe_load(yaml.safe_dump(AWS))
        doc["training"]["sagemaker"]["instance_type"] = f"ml.{family}.24xlarge"
        (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc))
        cfg = load_config("t", environ={"MLPIPE_CONFIG_DIR": str(tmp_path)})
        assert cfg.training.sagemaker.instance_type == f"ml.{family}.24xlarge"
