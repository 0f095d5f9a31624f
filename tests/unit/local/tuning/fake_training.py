"""A stand-in training script (fast: no XGBoost import) that follows the container contract, and the tuning
configuration the tests give it."""

from __future__ import annotations

from mlpipe.config.training import TrainingConfig

FAKE_TRAIN = r'''
import json, os, pathlib, sys, time
hp = json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")))
ckpt = pathlib.Path(os.environ["SM_CHECKPOINT_DIR"])
print("resumed" if (ckpt / "progress").exists() else "fresh", flush=True)
(ckpt / "progress").write_text("started")
time.sleep(float(os.environ.get("FAKE_SLEEP", "0.3")))
if hp.get("eval_train") == "false":
    print("error: planted failure", flush=True)
    sys.exit(3)
score = 0.9 - (float(hp["eta"]) - 0.1) ** 2 - 0.01 * abs(int(hp["max_depth"]) - 4)
print("[1] validation:auc=%.6f; validation:logloss=0.400000;" % (score - 0.1))
print("final: best_iteration=0; rounds=1; validation:auc=%.6f; validation:logloss=0.300000;" % score)
pathlib.Path(os.environ["SM_MODEL_DIR"], "model.json").write_text("{}")
keys = ["SM_CHANNEL_TRAIN", "SM_CHANNEL_VALIDATION", "SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_NUM_GPUS",
        "SM_CHECKPOINT_DIR", "SM_INPUT_CONFIG_DIR", "OMP_NUM_THREADS", "TRAINING_JOB_NAME"]
pathlib.Path(os.environ["SM_OUTPUT_DATA_DIR"], "contract.json").write_text(json.dumps({k: os.environ.get(k) for k in keys}))
'''


def fake_cfg(**tuning_over) -> TrainingConfig:
    return TrainingConfig.model_validate({
        "label": "churned", "num_round": 10, "early_stopping_rounds": 0,
        "tuning": {"max_jobs": 6, "max_parallel_jobs": 2,
                   "ranges": {"eta": {"type": "continuous", "min_value": 0.01, "max_value": 0.5, "scaling": "Logarithmic"},
                              "max_depth": {"type": "integer", "min_value": 2, "max_value": 8}},
                   **tuning_over},
        "sagemaker": {"max_runtime_seconds": 120, "max_wait_seconds": 240}})
