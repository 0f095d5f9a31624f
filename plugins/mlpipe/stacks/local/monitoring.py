"""Local stack: which model version is serving (ml_monitoring), from the live endpoint and the local registry.

The live endpoint's state file (``<run_dir>/<endpoint>.live.json``, written by the blue/green switch) names
the version that serves traffic and its model directory; without a live endpoint (``deployment.mode: batch``,
or the endpoint stopped) the newest Approved version of the registry is the serving one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mlpipe.config import PipelineConfig
from mlpipe.errors import MlPipeError

log = logging.getLogger(__name__)


def serving_model(cfg: PipelineConfig, workdir: Path) -> dict[str, Any]:  # noqa: ARG001 - the aws one downloads
    """``{"group", "version", "arn", "source", "model_dir", "tuning_job_name", "test_auc", "lineage", ...}``."""
    from mlpipe.dagkit import lake
    from mlpipe.lake import to_path
    from mlpipe.local.registry import LocalModelRegistry
    from mlpipe.stacks.local.deployment import model_dir_of, read_live, spec_from_config

    group = cfg.training.registry.model_package_group
    registry = LocalModelRegistry.from_config(cfg)
    live = None
    if cfg.deployment.endpoint:
        spec = spec_from_config(cfg)
        live = read_live(spec.run_dir, spec.name)
    if live is not None:
        package = registry.get(group, int(live["version"])).to_dict()
        source = f"live endpoint {cfg.deployment.endpoint_name} ({live.get('url')})"
        model_dir = live.get("model_dir")
    else:
        found = registry.deployable(group)
        if found is None:
            raise MlPipeError(f"no model is serving: the local endpoint {cfg.deployment.endpoint_name} is not live and "
                              f"model package group '{group}' has no Approved version; run ml_training and "
                              f"ml_deployment first (make run does both)")
        package = found.to_dict()
        source = f"newest Approved version of {group} (no live endpoint)"
        model_dir = None
    if not model_dir or not (Path(model_dir) / "baseline.json").is_file():
        model_dir = str(model_dir_of(package, to_path(f"{lake(cfg).root}/models")))
    metrics = package.get("metrics") or {}
    lineage = package.get("lineage") or {}
    return {"group": group, "version": int(package["version"]), "arn": package["arn"], "source": source,
            "model_dir": model_dir, "model_uri": package.get("model_uri"),
            "tuning_job_name": package.get("tuning_job_name") or "", "test_auc": metrics.get("test_auc"),
            "trained_ds": lineage.get("ds"), "feature_spec_uri": lineage.get("feature_job_spec_uri")}
