"""Typed pipeline configuration: include/config/<env>.yaml plus MLPIPE__* overrides, validated at load.

``from mlpipe.config import PipelineConfig, load_config, config_hash, ConfigError`` is the API the rest of
the code uses. Inside the package one module per job, each importing from the module that defines a name:

    base            StrictModel and the shared field types (names, ARNs, patterns with readable errors)
    model           PipelineConfig: the root model, its small sections (dag, schedules, lake, sources,
                    sample, aws) and the checks across sections (stack consistency)
    features        the features: section's schema; feature_checks its cross-checks (references, sources);
                    feature_sample the sample business's section (the default)
    training, deployment, monitoring, emr   the other sections; instances the SageMaker instance families
    loader          load_config (YAML, overrides, error messages naming key, value and fix), config_hash
"""

from mlpipe.config.loader import config_hash, load_config
from mlpipe.config.model import PipelineConfig
from mlpipe.errors import ConfigError

__all__ = ["ConfigError", "PipelineConfig", "config_hash", "load_config"]
