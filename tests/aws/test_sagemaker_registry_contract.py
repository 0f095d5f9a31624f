"""The ModelRegistry contract (tests/unit/services/test_registry_contract.py) against SageMakerModelRegistry on
the moto server: the same tests, this module's ``registry`` fixture."""

from __future__ import annotations

import pytest
from mlpipe.services.sagemaker_registry import SageMakerModelRegistry

from tests.aws import moto_harness as h
from tests.unit.services.test_registry_contract import (  # noqa: F401 (collected here, against SageMaker)
    group,
    test_a_version_is_found_by_its_arn,
    test_a_version_starts_pending_with_what_was_registered,
    test_an_unknown_group_has_no_versions,
    test_auto_approve_and_bad_input,
    test_changes_the_state_machine_forbids_raise,
    test_only_approved_versions_are_deployable_and_the_newest_is_the_champion,
    test_registration_is_idempotent_by_tuning_job_name,
    test_the_same_status_again_is_a_no_op,
)


@pytest.fixture
def registry(moto_server, monkeypatch) -> SageMakerModelRegistry:
    from mlpipe.config import load_config

    moto_server.reset()
    for key, value in h.base_env(moto_server).items():
        monkeypatch.setenv(key, value)
    return SageMakerModelRegistry.from_config(load_config())
