"""What ml_features' EMR operators decide on a retry: reattach to their own step or job run, or start the next
attempt (the operators' requests and listings are in tests/aws/test_features_requests.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from mlpipe.tasks.features_aws import job_run_attempt, steps_to_reattach

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _runs(*runs: tuple[str, str]) -> list[dict]:
    return [{"id": f"00f{i}", "name": name, "state": state, "createdAt": T0 + dt.timedelta(minutes=i)}
            for i, (name, state) in enumerate(runs)]


@pytest.mark.parametrize(("runs", "try_number", "expected"), [
    ([], 1, "base"),
    ([("base", "RUNNING")], 2, "base"),               # a retry reattaches to its job still in flight
    ([("base", "QUEUED")], 1, "base"),
    ([("base", "SUCCESS")], 2, "base"),               # ... or picks up the job that succeeded meanwhile
    ([("base", "FAILED")], 2, "base-r2"),             # a failed job: a new attempt
    ([("base", "FAILED"), ("base-r2", "CANCELLED")], 3, "base-r3"),
    ([("base", "FAILED"), ("base-r2", "RUNNING")], 3, "base-r2"),
    ([("base", "SUCCESS")], 1, "base-r2"),            # a new run of the date builds it again
    ([("other-base", "RUNNING"), ("base-extra", "RUNNING")], 1, "base"),  # only base and base-rN count
])
def test_a_job_run_reattaches_or_starts_the_next_attempt(runs, try_number, expected):
    assert job_run_attempt("base", _runs(*runs), try_number) == expected


def test_the_latest_attempt_decides_whatever_the_listing_order():
    runs = _runs(("base", "FAILED"), ("base-r2", "RUNNING"))
    assert job_run_attempt("base", list(reversed(runs)), 2) == "base-r2"


def test_a_retried_step_reattaches_only_when_every_step_of_its_name_is_in_flight():
    listed = [{"Id": "s-OTHER", "Name": "something-else"}, {"Id": "s-MINE", "Name": "ml-features-silver-x"}]
    assert steps_to_reattach(["ml-features-silver-x"], listed) == ["s-MINE"]
    assert steps_to_reattach(["ml-features-silver-x", "ml-features-gold-x"], listed) is None
    assert steps_to_reattach(["ml-features-gold-x"], listed) is None
