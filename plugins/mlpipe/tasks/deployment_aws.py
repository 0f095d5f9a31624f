"""ml_deployment's task bodies on the aws stack (the operators themselves are in ``stacks/aws/deployment.py``).

- ``prepare_transform_input``: the gold partition's scoring rows as JSON lines (ids + features, no label) under
  ``_staging/ml_deployment/scoring/dt=<ds>/``, so the transform job's ``JoinSource: Input`` keeps each row's
  ids next to its prediction.
- ``find_transform_job``: which attempt of the transform job this run uses (:mod:`mlpipe.tasks.reattach`):
  InProgress -> wait for it, Completed -> reuse it, Failed/Stopped -> the next attempt (``-r2``...).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mlpipe.config import PipelineConfig, load_config
from mlpipe.lake import LakeLayout
from mlpipe.services import storage_for
from mlpipe.tasks.deployment import DAG_ID, read_scoring_rows
from mlpipe.tasks.reattach import decide_attempt, status_reader

log = logging.getLogger(__name__)

FIND_TRANSFORM_TASK_ID = "find_transform_job"


def transform_input_prefix(cfg: PipelineConfig, ds: str) -> str:
    """Where ``prepare_transform_input`` stages the date's scoring rows for the transform job (no trailing /)."""
    return LakeLayout.from_config(cfg).staging(DAG_ID, "scoring", ds)


def find_transform_job(resolved: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, str]:
    """Task body of ``find_transform_job``: which transform job this run uses, and whether to start, wait or
    reuse it (the first attempt's name is ``resolved['names']['transform_job']``)."""
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    cfg = cfg or load_config()
    hook = SageMakerHook(aws_conn_id=cfg.aws.conn_id, region_name=cfg.aws.region)  # type: ignore[union-attr]
    status_of = status_reader(hook.describe_transform_job, "TransformJobStatus")
    action, name = decide_attempt(resolved["names"]["transform_job"], status_of, "transform job")
    log.info("transform job %s: %s", name, action)
    return {"name": name, "action": action}


def prepare_transform_input(resolved: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """The scoring rows as JSON lines (ids + features, no label) under ``_staging`` for the transform job."""
    cfg = cfg or load_config()
    table = read_scoring_rows(cfg, resolved["gold_partition"])
    cols = [c for c in table.column_names if c != cfg.training.label]
    lines = "\n".join(json.dumps(r, default=str) for r in table.select(cols).to_pylist())
    prefix = transform_input_prefix(cfg, resolved["ds"])
    storage = storage_for(cfg)
    storage.clear_partition(prefix)
    storage.write_bytes(f"{prefix}/scoring.jsonl", (lines + "\n").encode())
    return {"input": f"{prefix}/", "rows": table.num_rows}
