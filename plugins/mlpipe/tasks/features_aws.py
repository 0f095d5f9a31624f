"""What ml_features' EMR operators decide when they run (aws stack): which cluster, step or job run a retried
task reattaches to, and which attempt it starts otherwise.

Names are deterministic (:mod:`mlpipe.naming`: dag id, step, date, config hash), so a retry finds what an
earlier try started. The operators (:mod:`mlpipe.stacks.aws.emr`) list the resources with their hooks and ask
these functions; nothing here calls AWS.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from mlpipe.naming import next_attempt

log = logging.getLogger(__name__)

ACTIVE_CLUSTER_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
IN_FLIGHT_STEP_STATES = ["PENDING", "RUNNING"]
IN_FLIGHT_JOB_RUN_STATES = {"SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED", "CANCELLING"}
JOB_RUN_LOOKBACK = dt.timedelta(days=14)


def steps_to_reattach(names: Iterable[str], in_flight: Iterable[Mapping[str, Any]]) -> list[str] | None:
    """The ids of the steps named ``names`` among the cluster's steps still in flight, when every one of them is
    there (a retried ``add_step`` waits for those); None when a new step must be added."""
    wanted = set(names)
    found = [s["Id"] for s in in_flight if s["Name"] in wanted]
    return found if len(found) == len(wanted) else None


def job_run_attempt(base: str, runs: Iterable[Mapping[str, Any]], try_number: int) -> str:
    """The name (and clientToken) of the EMR Serverless job run a task starts or reattaches to.

    ``runs`` are the application's recent job runs (``name``, ``state``, ``createdAt``); only ``base`` and its
    attempts (``base-r2``...) count. None yet: ``base``. The latest still in flight, or succeeded and this is a
    retry: that one (the same token returns the same job run). Otherwise (failed, cancelled, or a new run of a
    date that succeeded before): the next attempt.
    """
    pattern = re.compile(re.escape(base) + r"(-r\d+)?")
    mine = [r for r in runs if pattern.fullmatch(r.get("name") or "")]
    if not mine:
        return base
    latest = max(mine, key=lambda r: r["createdAt"])
    if latest["state"] in IN_FLIGHT_JOB_RUN_STATES or (latest["state"] == "SUCCESS" and try_number > 1):
        log.info("reattaching to job run %s (%s, %s)", latest.get("id"), latest["name"], latest["state"])
        return str(latest["name"])
    name = next_attempt(latest["name"])
    log.info("job run %s ended %s: starting attempt %s", latest["name"], latest["state"], name)
    return name
