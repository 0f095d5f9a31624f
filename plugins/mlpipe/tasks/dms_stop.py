"""When a DMS run is done: the stop position a run asks for, and whether the task's stop reached it.

Each run resumes the full-load-and-cdc task with ``CdcStopPosition`` = ``commit_time:<end of the logical
date>``: DMS stops once it has written every change *committed* before that time. (``server_time:`` stops on the
replication instance's clock: a change committed before the end of the date but read later would land after
the promotion and be lost.)

``DmsTaskCompletedSensor`` accepts any ``stopped`` task, whatever stopped it. :func:`check_stop` then reads
the task's ``StopReason`` (DescribeReplicationTasks) and accepts only ``Stop Reason STOPPED_AT_COMMIT_TIME``,
or, on the run that started the task (``start-replication``, the full load), a finished full load
(``FULL_LOAD_ONLY_FINISHED``, ``STOPPED_AFTER_CACHED_EVENTS``). Anything else (a user stop, an error, low
memory or disk, a server-time stop, a full load without its cached changes) fails with the reason and what
to do, so nothing incomplete is promoted into bronze.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mlpipe.errors import MlPipeError

# rendered by Airflow for the run: the first instant after the logical date
CDC_STOP_POSITION = "commit_time:{{ macros.ds_add(ds, 1) }}T00:00:00"
STOPPED_AT_COMMIT_TIME = "Stop Reason STOPPED_AT_COMMIT_TIME"
FULL_LOAD_FINISHED = ("Stop Reason FULL_LOAD_ONLY_FINISHED", "Stop Reason STOPPED_AFTER_CACHED_EVENTS")
FIRST_RUN = "start-replication"

_ADVICE = {
    "Stop Reason STOPPED_AT_SERVER_TIME": "it was resumed with a server_time: stop position (by hand or by an "
                                          "older version of this pipeline)",
    "Stop Reason STOPPED_AFTER_FULL_LOAD": "the full load finished but its cached changes were not applied "
                                           "(task setting StopTaskCachedChangesApplied=false)",
    "Stop Reason NORMAL": "it was stopped by a user or ran as a full-load-only task",
    "Stop Reason RECOVERABLE_ERROR": "it hit an error (see LastFailureMessage and the task's CloudWatch log)",
    "Stop Reason FATAL_ERROR": "it hit an error (see LastFailureMessage and the task's CloudWatch log)",
    "Stop Reason STOPPED_DUE_TO_LOW_MEMORY": "the replication instance ran out of memory (a larger instance class)",
    "Stop Reason STOPPED_DUE_TO_LOW_DISK": "the replication instance ran out of storage (more allocated storage)",
}


def stop_position(ds: str) -> str:
    """``CdcStopPosition`` for logical date ``ds``: what :data:`CDC_STOP_POSITION` renders to."""
    return f"commit_time:{dt.date.fromisoformat(ds) + dt.timedelta(days=1)}T00:00:00"


def accepted_reasons(start_type: str) -> tuple[str, ...]:
    """The StopReasons that mean this run's data is complete in the S3 target."""
    return (STOPPED_AT_COMMIT_TIME, *FULL_LOAD_FINISHED) if start_type == FIRST_RUN else (STOPPED_AT_COMMIT_TIME,)


def check_stop(task: dict[str, Any], start_type: str, ds: str) -> str:
    """The task's StopReason when it says the stop position (or the first run's full load) was reached.

    ``task`` is one entry of DescribeReplicationTasks' ``ReplicationTasks``. Raises MlPipeError naming the
    task, its status or StopReason, the last failure message and what to do.
    """
    arn = task.get("ReplicationTaskArn", "?")
    status, reason = task.get("Status"), task.get("StopReason")
    position = stop_position(ds)
    again = (f"resume the task with CdcStopPosition {position} (or clear this run's dms_start task, which does), "
             "wait until it stops, then clear this task to check again")
    if status != "stopped":
        raise MlPipeError(f"DMS task {arn} is '{status}', not stopped: this check runs after it stopped at "
                          f"{position}; {again}")
    accepted = accepted_reasons(start_type)
    if reason in accepted:
        return reason
    failure = task.get("LastFailureMessage")
    why = _ADVICE.get(reason or "", "")
    raise MlPipeError(
        f"DMS task {arn} stopped with StopReason {reason!r}"
        + (f" (LastFailureMessage: {failure})" if failure else "")
        + f", not at this run's stop position {position} (accepted: {', '.join(accepted)})"
        + (f": {why}" if why else "")
        + f". Its S3 target may lack changes committed on {ds}, so nothing was promoted to bronze. "
        + f"Fix the cause, then {again}"
    )
