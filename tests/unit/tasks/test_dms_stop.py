"""mlpipe.tasks.dms_stop: the commit-time stop position, and which StopReasons let a DMS run promote."""

from __future__ import annotations

import botocore.session
import pytest
from mlpipe.errors import MlPipeError
from mlpipe.tasks.dms_stop import CDC_STOP_POSITION, accepted_reasons, check_stop, stop_position

ARN = "arn:aws:dms:us-east-1:123456789012:task:OLTP2LAKEDEV"
DS = "2026-11-01"


def stopped(reason: str | None, **extra) -> dict:
    return {"ReplicationTaskArn": ARN, "Status": "stopped", **({"StopReason": reason} if reason else {}), **extra}


def test_the_stop_position_is_the_commit_time_at_the_end_of_the_logical_date():
    assert CDC_STOP_POSITION.startswith("commit_time:") and "server_time" not in CDC_STOP_POSITION
    assert stop_position(DS) == "commit_time:2026-11-02T00:00:00"
    assert stop_position("2026-12-31") == "commit_time:2027-01-01T00:00:00"


def test_the_accepted_reasons_are_documented_values_of_stop_reason():
    shape = botocore.session.get_session().get_service_model("dms").shape_for("ReplicationTask")
    documented = shape.members["StopReason"].documentation
    for reason in accepted_reasons("start-replication"):
        assert f'"{reason}"' in documented, reason


@pytest.mark.parametrize("start_type", ["start-replication", "resume-processing"])
def test_a_stop_at_the_commit_time_is_accepted_on_every_run(start_type):
    assert check_stop(stopped("Stop Reason STOPPED_AT_COMMIT_TIME"), start_type, DS) == (
        "Stop Reason STOPPED_AT_COMMIT_TIME")


@pytest.mark.parametrize("reason", ["Stop Reason FULL_LOAD_ONLY_FINISHED", "Stop Reason STOPPED_AFTER_CACHED_EVENTS"])
def test_a_finished_full_load_is_accepted_only_on_the_first_run(reason):
    assert check_stop(stopped(reason), "start-replication", DS) == reason
    with pytest.raises(MlPipeError, match="not at this run's stop position commit_time:2026-11-02T00:00:00"):
        check_stop(stopped(reason), "resume-processing", DS)


@pytest.mark.parametrize(("reason", "says"), [
    ("Stop Reason STOPPED_AT_SERVER_TIME", "server_time: stop position"),
    ("Stop Reason NORMAL", "stopped by a user"),
    ("Stop Reason STOPPED_AFTER_FULL_LOAD", "cached changes were not applied"),
    ("Stop Reason STOPPED_DUE_TO_LOW_DISK", "more allocated storage"),
    (None, "StopReason None"),
])
def test_any_other_stop_fails_naming_the_reason_and_what_to_do(reason, says):
    with pytest.raises(MlPipeError) as info:
        check_stop(stopped(reason), "resume-processing", DS)
    message = str(info.value)
    assert ARN in message and repr(reason) in message and says in message
    assert "nothing was promoted" in message and "resume the task with CdcStopPosition commit_time:2026-11-02" in message


def test_an_error_stop_quotes_the_last_failure_message():
    task = stopped("Stop Reason FATAL_ERROR", LastFailureMessage="Last Error Connection refused. Task error")
    with pytest.raises(MlPipeError, match=r"FATAL_ERROR.*LastFailureMessage: Last Error Connection refused.*"
                                          r"CloudWatch log"):
        check_stop(task, "resume-processing", DS)


def test_a_task_that_is_not_stopped_fails():
    with pytest.raises(MlPipeError, match="is 'running', not stopped"):
        check_stop({**stopped(None), "Status": "running"}, "resume-processing", DS)
