"""ml_deployment's task bodies on the local stack: the version behind the local endpoint (blue/green,
:mod:`mlpipe.local.blue_green`) and the local batch transform (:mod:`mlpipe.local.batch`).

The version's model directory is its ``model.tar.gz`` unpacked once under ``<lake>/models/<group>/v<version>/``
(:meth:`LakeLayout.unpacked_model`), or the training trial's directory when it is still there.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mlpipe.config import PipelineConfig, load_config
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout, atomic_partition, to_path
from mlpipe.local.blue_green import deploy, spec_from_config
from mlpipe.local.model_artifact import model_dir_of
from mlpipe.services import storage_for
from mlpipe.services.endpoint_smoke_test import run_smoke_test
from mlpipe.tasks.deployment import DAG_ID, read_scoring_rows, smoke_requests

log = logging.getLogger(__name__)


def model_dir(resolved: dict[str, Any], cfg: PipelineConfig) -> Path:
    """The model directory of the resolved version (``resolve_version``'s XCom: a model package)."""
    dest = to_path(LakeLayout.from_config(cfg).unpacked_model(resolved["group"], int(resolved["version"])))
    return model_dir_of(resolved, storage_for(cfg), dest)


def deploy_endpoint(resolved: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``deploy_endpoint``: blue/green to the resolved version; ``deployment.json`` records it."""
    cfg = cfg or load_config()
    spec = spec_from_config(cfg)
    requests = smoke_requests(cfg, resolved.get("gold_partition"))
    out = deploy(model_dir(resolved, cfg), int(resolved["version"]), spec,
                 lambda client: run_smoke_test(client, spec.name, requests), arn=resolved["arn"])
    record = LakeLayout.from_config(cfg).deployment_record(cfg.deployment.endpoint_name, resolved["ds"])
    storage_for(cfg).write_json(record, {**out, "package": resolved["arn"]})
    return out


def batch_transform(resolved: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``batch_transform``: the gold partition's scoring rows -> ``predictions/dt=<ds>/``,
    exactly one prediction per input row."""
    import pyarrow.parquet as pq

    from mlpipe.local.batch import batch_transform as run_batch_transform

    cfg = cfg or load_config()
    ds = resolved["ds"]
    table = read_scoring_rows(cfg, resolved["gold_partition"])
    staging = to_path(LakeLayout.from_config(cfg).staging(DAG_ID, "scoring", ds))
    with atomic_partition(staging) as tmp:
        pq.write_table(table, tmp / "part-00000.parquet")
    ids = [c for c in cfg.training.id_columns if c in table.column_names]
    summary = run_batch_transform(model_dir(resolved, cfg), staging, to_path(resolved["predictions"]),
                                  chunk_rows=cfg.deployment.transform.chunk_rows, id_columns=ids)
    if not summary.rows_out == summary.rows_in == table.num_rows:
        raise MlPipeError(f"batch transform: {table.num_rows} scoring rows, {summary.rows_in} read, "
                          f"{summary.rows_out} predictions")
    log.info("batch transform of version %s: %d rows -> %s (%.0f rows/s)", resolved["version"], summary.rows_out,
             resolved["predictions"], summary.rows_per_second)
    return {"version": resolved["version"], "rows": summary.rows_out, "predictions": resolved["predictions"],
            "output_file": summary.output_file}
