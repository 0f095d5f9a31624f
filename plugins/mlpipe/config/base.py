"""What every section of the configuration builds on: the strict base model and the shared field types.

Every section module (``model``, ``features``, ``training``, ``deployment``, ``monitoring``, ``emr``) imports
from here, and :mod:`mlpipe.config.model` imports the sections: the imports run one way.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
ARN_PATTERN = r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$"
IAM_ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case letters, digits and _")]
Arn = Annotated[str, Field(pattern=ARN_PATTERN)]


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not be ignored silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def matching(pattern: str, what: str) -> AfterValidator:
    """A string check that says what the value must be (``what``, with an example) instead of printing the regex.

    ``Annotated[str, matching(IAM_ROLE_ARN, "an IAM role ARN (arn:aws:iam::<account>:role/<name>)")]``.
    """
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


__all__ = ["ARN_PATTERN", "IAM_ROLE_ARN", "NAME_PATTERN", "Arn", "Name", "StrictModel", "matching"]
