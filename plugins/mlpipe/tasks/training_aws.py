"""ml_training's task bodies on the aws stack: which tuning job a run uses (retry-safe), its best training job,
and the report with the spot saving (DescribeTrainingJob), through the Amazon provider's ``SageMakerHook``."""

from __future__ import annotations

import logging
from typing import Any

from mlpipe.config import PipelineConfig, load_config
from mlpipe.errors import MlPipeError
from mlpipe.tasks.reattach import decide_attempt, status_reader
from mlpipe.tasks.training import tuning_job_name, write_report

log = logging.getLogger(__name__)


def sagemaker_hook(cfg: PipelineConfig) -> Any:
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    assert cfg.aws is not None
    return SageMakerHook(aws_conn_id=cfg.aws.conn_id, region_name=cfg.aws.region)


def tuning_job_status(hook: Any) -> Any:
    """A function name -> HyperParameterTuningJobStatus, or None when SageMaker has no such job."""
    return status_reader(hook.describe_tuning_job, "HyperParameterTuningJobStatus")


def model_artifact_uri(split_root: str, training_job: str) -> str:
    """Where SageMaker puts a training job's model: ``<S3OutputPath><job>/output/model.tar.gz``."""
    return f"{split_root}/tuning/output/{training_job}/output/model.tar.gz"


def find_job(split: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, str]:
    """Task body of ``tune.find_job``: which tuning job this run uses, and whether to start, wait or reuse it."""
    cfg = cfg or load_config()
    action, name = decide_attempt(tuning_job_name(cfg, split["ds"]), tuning_job_status(sagemaker_hook(cfg)),
                                  "tuning job")
    log.info("tuning job %s: %s", name, action)
    return {"name": name, "action": action}


def best(split: dict[str, Any], found: dict[str, str], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``tune.best``: the tuning job's best training job, its metrics and model artifact."""
    cfg = cfg or load_config()
    d = sagemaker_hook(cfg).describe_tuning_job(found["name"])
    b = d.get("BestTrainingJob") or {}
    if not b.get("TrainingJobName"):
        raise MlPipeError(f"tuning job {found['name']} has no best training job (status "
                          f"{d.get('HyperParameterTuningJobStatus')}); see its training jobs in the console")
    objective = b.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    model_uri = model_artifact_uri(split["root"], b["TrainingJobName"])
    return {"name": found["name"], "objective_metric": objective.get("MetricName"),
            "best": {"name": b["TrainingJobName"], "objective": objective.get("Value"),
                     "metrics": {objective["MetricName"]: objective["Value"]} if objective else {},
                     "hyperparameters": b.get("TunedHyperParameters") or {}, "model_uri": model_uri}}


def spot_saving(hook: Any, training_job: str) -> dict[str, Any]:
    """BillableTimeInSeconds vs TrainingTimeInSeconds of the best training job (DescribeTrainingJob)."""
    try:
        d = hook.describe_training_job(training_job)
    except Exception as err:  # noqa: BLE001 - the report still renders without it
        return {"spot saving": f"unavailable ({type(err).__name__})"}
    billable, total = d.get("BillableTimeInSeconds"), d.get("TrainingTimeInSeconds")
    if not billable or not total:
        return {"spot saving": "unavailable (no billable/training time)"}
    return {"training seconds": total, "billable seconds": billable,
            "spot saving": f"{100 * (1 - billable / total):.1f}%"}


def report(split: dict[str, Any], tuned: dict[str, Any], champ: dict[str, Any] | None,
           cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``evaluate.report``: the shared report of the processing job's evaluation.json and figures,
    with the best training job's spot saving."""
    cfg = cfg or load_config()
    extras = spot_saving(sagemaker_hook(cfg), tuned["best"]["name"])
    return {**write_report(cfg, split, tuned, champ, extras), "spot": extras}
