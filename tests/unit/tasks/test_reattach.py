"""mlpipe.tasks.reattach: which attempt of a deterministically named SageMaker job a (retried) task uses."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from mlpipe.tasks.reattach import decide_attempt, status_reader

NAME = "ml-deployment-20261101-0123abcd"


@pytest.mark.parametrize(("statuses", "expected"), [
    ({}, ("start", NAME)),
    ({NAME: "InProgress"}, ("wait", NAME)),
    ({NAME: "Stopping"}, ("wait", NAME)),
    ({NAME: "Completed"}, ("reuse", NAME)),
    ({NAME: "Failed"}, ("start", f"{NAME}-r2")),
    ({NAME: "Stopped", f"{NAME}-r2": "Failed", f"{NAME}-r3": "InProgress"}, ("wait", f"{NAME}-r3")),
])
def test_decide_attempt(statuses, expected):
    assert decide_attempt(NAME, statuses.get, "transform job") == expected


def _error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeTransformJob")


def test_status_reader_maps_not_found_to_none_and_raises_anything_else():
    def describe(name: str) -> dict:
        if name == "missing":
            raise _error("ValidationException", "Could not find requested job with name missing")
        if name == "denied":
            raise _error("AccessDeniedException", "not authorized")
        return {"TransformJobStatus": "Completed"}

    status_of = status_reader(describe, "TransformJobStatus")
    assert status_of("there") == "Completed" and status_of("missing") is None
    with pytest.raises(ClientError):
        status_of("denied")
