"""What every config section builds on (mlpipe.config.base): strict models and readable pattern errors."""

from __future__ import annotations

from typing import Annotated

import pytest
from mlpipe.config.base import IAM_ROLE_ARN, Name, StrictModel, matching
from pydantic import ValidationError


class Section(StrictModel):
    name: Name
    role: Annotated[str, matching(IAM_ROLE_ARN, "an IAM role ARN (arn:aws:iam::<account>:role/<name>)")] | None = None


def test_unknown_keys_are_errors_and_sections_are_frozen():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Section(name="oltp", nmae="x")
    section = Section(name="oltp")
    with pytest.raises(ValidationError, match="Instance is frozen"):
        section.name = "other"


def test_names_are_lower_case_identifiers():
    assert Section(name="click_stream2").name == "click_stream2"
    for bad in ("Click", "2nd", "a" * 41, "with-dash"):
        with pytest.raises(ValidationError, match="String should match pattern"):
            Section(name=bad)


def test_a_pattern_error_says_what_the_value_must_be():
    assert Section(name="x", role="arn:aws:iam::123456789012:role/r").role == "arn:aws:iam::123456789012:role/r"
    assert Section(name="x").role is None
    with pytest.raises(ValidationError) as info:
        Section(name="x", role="my-role")
    (error,) = info.value.errors()
    assert error["loc"] == ("role",)
    assert error["msg"] == "Value error, must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
    assert error["input"] == "my-role"
