"""The sample business's features section (mlpipe.config.feature_sample): the default, and what the configs ship."""

from __future__ import annotations

from pathlib import Path

from mlpipe.config import load_config
from mlpipe.config.features import FeaturesConfig
from mlpipe.sample.targets import standalone_config


def test_shipped_configs_have_the_sample_features():
    local, aws = load_config("local", environ={}), load_config("aws-dev", environ={})
    sample = FeaturesConfig.sample()
    assert local.features.silver == sample.silver and local.features.gold == sample.gold
    assert aws.features.silver == sample.silver and aws.features.gold == sample.gold
    assert (local.features.spark.shuffle_partitions, aws.features.spark.shuffle_partitions) == (4, 64)


def test_a_config_without_the_section_gets_the_sample_features(tmp_path: Path):
    cfg = standalone_config(tmp_path)
    assert cfg.features == FeaturesConfig.sample()
