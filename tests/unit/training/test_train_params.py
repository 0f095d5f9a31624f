"""Hyperparameters arrive as strings from four places; they are parsed, checked and merged in a fixed order."""

from __future__ import annotations

import json

import pytest
from training import contract
from training.params import BOOSTER_PARAMS, HyperparameterError, parse


def test_strings_become_typed_values():
    p = parse({"label": "churned", "exclude": "customer_id, as_of", "num_round": "120", "eta": "0.05",
               "max_depth": "6.0", "eval_train": "False", "eval_metric": "logloss,auc", "threshold": "0.3",
               "grow_policy": "lossguide"})
    assert p.label == "churned" and p.exclude == ["customer_id", "as_of"]
    assert p.num_round == 120 and p.booster == {"eta": 0.05, "max_depth": 6, "grow_policy": "lossguide"}
    assert p.eval_train is False and p.threshold == 0.3
    assert p.objective_metric == "logloss" and not p.maximize
    assert parse({"label": "y"}).objective_metric == "auc" and parse({"label": "y"}).maximize


def test_aliases_and_ignored_names():
    p = parse({"label": "y", "learning_rate": "0.1", "reg_lambda": "2", "sagemaker_program": "train.py",
               "sagemaker_submit_directory": "s3://b/k", "_tuning_objective_metric": "validation:auc"})
    assert p.booster == {"eta": 0.1, "lambda": 2.0}


def test_every_problem_is_named_at_once():
    with pytest.raises(HyperparameterError) as info:
        parse({"max_dept": "6", "eta": "fast", "subsample": "1.5", "num_round": "2.5", "device": "tpu",
               "eval_metric": "auc,accuracy"})
    msg = str(info.value)
    assert "max_dept: unknown hyperparameter; the script accepts" in msg
    assert "eta: must be a number, got 'fast'" in msg
    assert "subsample: must be <= 1.0, got 1.5" in msg
    assert "num_round: must be an integer, got '2.5'" in msg
    assert "device: must be one of ['auto', 'cpu', 'cuda'], got 'tpu'" in msg
    assert "eval_metric: must be a comma-separated list of" in msg
    assert "label: required; the name of the 0/1 target column" in msg


def test_label_cannot_be_excluded_or_a_feature():
    with pytest.raises(HyperparameterError, match="exclude: must not contain the label column 'y'"):
        parse({"label": "y", "exclude": "id,y"})


def test_seed_per_iteration_and_hist_are_always_set():
    params = parse({"label": "y", "max_depth": "3"}).xgb_params("cpu", 1)
    assert params["tree_method"] == "hist" and params["seed_per_iteration"] is True and params["max_depth"] == 3


def test_fingerprint_ignores_threads_but_not_booster_or_features():
    a = parse({"label": "y", "eta": "0.1", "nthread": "1"})
    b = parse({"label": "y", "eta": "0.1", "nthread": "2", "checkpoint_interval": "5"})
    c = parse({"label": "y", "eta": "0.2"})
    assert a.fingerprint(["f1"]) == b.fingerprint(["f1"])
    assert a.fingerprint(["f1"]) != c.fingerprint(["f1"]) and a.fingerprint(["f1"]) != a.fingerprint(["f2"])


def test_booster_bounds_cover_every_parameter():
    assert all(kind in (int, float, str) for kind, _, _ in BOOSTER_PARAMS.values())


# ---- the container contract -----------------------------------------------------------------------------------


def test_sources_merge_in_order(tmp_path):
    (tmp_path / "hyperparameters.json").write_text(json.dumps(
        {"label": '"churned"', "eta": "0.1", "max_depth": "3", "num_round": "10"}))  # the Python SDK's quoting
    env = {"SM_INPUT_CONFIG_DIR": str(tmp_path), "SM_HPS": json.dumps({"max_depth": 4, "num_round": "20"}),
           "SM_HP_NUM_ROUND": "30", "SM_CHANNEL_TRAIN": "/data/train", "SM_CHANNEL_VALIDATION": "/data/val",
           "SM_MODEL_DIR": "/m", "SM_NUM_GPUS": "1"}
    c = contract.ContainerEnv.from_environ(env, ["--num_round", "40", "--seed=5"])
    assert c.hyperparameters == {"label": "churned", "eta": "0.1", "max_depth": "4", "num_round": "40", "seed": "5"}
    assert c.channels == {"train": "/data/train", "validation": "/data/val"}
    assert c.model_dir == "/m" and c.num_gpus == 1
    assert c.checkpoint_dir == contract.DEFAULT_CHECKPOINT_DIR
    assert c.sources == [str(tmp_path / "hyperparameters.json"), "SM_HPS", "SM_HP_*", "argv"]


def test_checkpoint_dir_from_hyperparameter_or_env():
    env = {"SM_INPUT_CONFIG_DIR": "/nowhere", "SM_CHECKPOINT_DIR": "/ckpt"}
    assert contract.ContainerEnv.from_environ(env).checkpoint_dir == "/ckpt"
    assert contract.ContainerEnv.from_environ(env, ["--checkpoint_dir", "/hp"]).checkpoint_dir == "/hp"


def test_channels_default_to_input_data_folders(tmp_path):
    for name in ("train", "validation"):
        (tmp_path / name).mkdir()
    c = contract.ContainerEnv.from_environ({"SM_INPUT_CONFIG_DIR": "/nowhere", "SM_INPUT_DATA_DIR": str(tmp_path)})
    assert c.channels == {"train": str(tmp_path / "train"), "validation": str(tmp_path / "validation")}


def test_bad_argv_is_refused():
    with pytest.raises(ValueError, match="hyperparameters are passed as --name value"):
        contract.parse_argv(["eta", "0.1"])


def test_gpu_choice_follows_sm_num_gpus(monkeypatch):
    from training import train

    assert train.choose_device("auto", 1) == "cuda"
    assert train.choose_device("auto", 0) == "cpu"
    assert train.choose_device("cpu", 4) == "cpu"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert train.choose_device("auto", -1) == "cpu"  # SM_NUM_GPUS unset and every device hidden
    params = train.booster_params(parse({"label": "y"}), "cuda", 2)
    assert params["device"] == "cuda" and params["tree_method"] == "hist" and params["nthread"] == 2
