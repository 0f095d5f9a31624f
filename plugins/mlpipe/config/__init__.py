"""Typed pipeline configuration (model) and its loader (YAML per environment + env overrides)."""

from mlpipe.config.loader import config_hash, load_config
from mlpipe.config.model import PipelineConfig

__all__ = ["PipelineConfig", "config_hash", "load_config"]
