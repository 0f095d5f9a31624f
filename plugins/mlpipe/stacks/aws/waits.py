"""Poll intervals of the aws stack's waits: each service's default, or ``aws.poll_seconds`` for all of them."""

from __future__ import annotations

from mlpipe.config import PipelineConfig


def poll_seconds(cfg: PipelineConfig, default: int) -> int:
    """``aws.poll_seconds`` when set (a simulator, a dev account), else ``default``."""
    return (cfg.aws.poll_seconds if cfg.aws is not None else None) or default
