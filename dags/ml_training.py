"""
### ml_training: time split -> hyperparameter tuning -> evaluation -> gate -> model registry

Runs when ml_features' gold `Asset` gets an event (its quality gate passed) **or** when retraining is requested
(the `retrain.<group>` Asset, emitted by drift monitoring), or for a logical date (`make dag DAG=ml_training
DATE=...`). The date is the logical date, else the newest `ds` carried by the triggering events.

| task | what it does |
|---|---|
| `split` | time-based train / validation / test of the gold partition (`training.split`, labels matured only) to `training/<group>/dt=<date>/{train,validation,test}/` + `split.json` (boundaries, rows, gold file hashes) |
| `tune` | the tuning job of `include/training/train.py` (`training.tuning`); a retried task reattaches to its own job |
| `evaluate` | `evaluate.py` on the test split: AUC, PR-AUC, log loss, calibration, confusion, vs the naive baseline and the champion (newest Approved version); `report.html` |
| `gate` | **skipped** (with `register`) when the challenger does not beat the naive baseline by `evaluation.baseline_margin` or trails the champion by more than `evaluation.champion_tolerance`: the reason is the skip message in the log and in the report |
| `register` | a new version (PendingManualApproval, or Approved with `registry.auto_approve`) with metrics and lineage; emits the `model.<group>` Asset (extra: version, status) |

| stack | tuning / evaluation / registry |
|---|---|
| `aws` | `tune.find_job` describes the deterministic job name (InProgress: wait, Completed: reuse, Failed/Stopped: next attempt `-r2`), then the deferrable `SageMakerTuningOperator` (Bayesian, managed spot GPU, checkpoints in S3, KMS, VPC, network isolation); a SageMaker Processing job runs `evaluate.py` in the training image (metrics, calibration, confusion and the plots, as locally); the report adds the spot saving; `SageMakerRegisterModelVersionOperator` (reuses the version already registered for the tuning job) |
| `local` | `mlpipe.local.tuning` (Optuna, trials as subprocesses under the container contract), `evaluate.py` as a subprocess, the local registry (`make approve VERSION=n`, `make reject VERSION=n`) |

Configuration: `include/config/$PIPELINE_ENV.yaml` (`training`, `aws` on aws, `lake`, `dag`).
"""

from airflow.sdk import DAG, task
from mlpipe.config import load_config
from mlpipe.dagkit import dag_kwargs, gold_asset, retrain_asset
from mlpipe.stacks import get_stack
from mlpipe.tasks.training import SPLIT_TASK_ID, promotion_gate, split

cfg = load_config()
stack = get_stack(cfg)

with DAG(
    dag_id="ml_training",
    schedule=gold_asset(cfg, cfg.features.gold.name) | retrain_asset(cfg),
    **dag_kwargs(cfg, doc_md=__doc__, tags=["training", "tuning", "registry"]),
) as dag:
    channels = task(split, task_id=SPLIT_TASK_ID)()
    tuned = stack.training.tune(channels)
    evaluated = stack.training.evaluate(channels, tuned)
    verdict = task(promotion_gate, task_id="gate")(evaluated)
    stack.training.register(channels, tuned, evaluated, verdict)
