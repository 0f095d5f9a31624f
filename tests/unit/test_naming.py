"""mlpipe.naming: deterministic, valid, within SageMaker's limits, distinct per date and config."""

from __future__ import annotations

import pytest
from mlpipe.naming import MAX_LENGTH, job_name, next_attempt


def test_deterministic_and_within_limits():
    name = job_name("tuning_job", "ml_training", "2026-11-03", "a1b2c3d4")
    assert name == job_name("tuning_job", "ml_training", "2026-11-03", "a1b2c3d4")
    assert name == "ml-training-20261103-a1b2c3d4"
    long = job_name("tuning_job", "a_very_long_dag_id_for_the_churn_model_training", "2026-11-03", "a1b2c3d4")
    assert len(long) <= 32 and long.endswith("-20261103-a1b2c3d4")


@pytest.mark.parametrize("kind", sorted(MAX_LENGTH))
def test_every_kind_fits(kind):
    name = job_name(kind, "x" * 300, "2026-11-03", "a1b2c3d4", attempt=12)
    assert len(name) <= MAX_LENGTH[kind]
    assert name.endswith("-20261103-a1b2c3d4-r12")


def test_distinct_per_date_config_and_long_prefix():
    a = job_name("tuning_job", "ml_training_pipeline_one", "2026-11-03", "a1b2c3d4")
    assert a != job_name("tuning_job", "ml_training_pipeline_one", "2026-11-04", "a1b2c3d4")
    assert a != job_name("tuning_job", "ml_training_pipeline_one", "2026-11-03", "a1b2c3d5")
    assert a != job_name("tuning_job", "ml_training_pipeline_two", "2026-11-03", "a1b2c3d4")


def test_attempts():
    assert next_attempt("ml-training-20261103-a1b2c3d4") == "ml-training-20261103-a1b2c3d4-r2"
    assert next_attempt("ml-training-20261103-a1b2c3d4-r2") == "ml-training-20261103-a1b2c3d4-r3"


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown job kind 'tuning'"):
        job_name("tuning", "d", "2026-11-03", "a1b2c3d4")
    with pytest.raises(ValueError, match="config_hash must be 6-16 lower-case hex digits"):
        job_name("model", "d", "2026-11-03", "XYZ")
