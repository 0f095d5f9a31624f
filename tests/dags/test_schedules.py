"""Which day a scheduled run processes: the day that ended, on both stacks.

A cron string as ``schedule=`` is a ``CronTriggerTimetable`` in Airflow 3 (``[scheduler]
create_cron_data_intervals`` is off by default): the 02:00 run would get ``ds`` = the day that just started. These
tests read the timetables the way the scheduler does (the DAGs parsed by a ``DagBag`` with Airflow's default
configuration, then serialized and deserialized as the DAG processor stores them and the scheduler loads them)
and check that every time-scheduled DAG's first and next runs fire after their day ended and carry that day as
their logical date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
import pytest

ROOT = Path(__file__).resolve().parents[2]
TIME_SCHEDULED = ["ml_ingest", "ml_monitoring"]
ONE_DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module", params=["local", "aws-dev"])
def scheduled(request):
    """{dag_id: the scheduler's view of the DAG} for every DAG, parsed on the stack's config."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PIPELINE_ENV", request.param)
    mp.delenv("AIRFLOW__SCHEDULER__CREATE_CRON_DATA_INTERVALS", raising=False)
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    assert conf.getboolean("scheduler", "create_cron_data_intervals") is False, "Airflow's default is off"
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    yield request.param, {d: DagSerialization.from_dict(DagSerialization.to_dict(dag)) for d, dag in bag.dags.items()}
    mp.undo()


def _restriction(dag, *, catchup: bool):
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=pendulum.instance(dag.start_date), latest=None, catchup=catchup)


def _assert_processes_the_day_that_ended(info, day: dt.date, label: str) -> None:
    """The run of ``day``: its logical date (ds) and data interval start on ``day``, one day long, and it fires
    on the next day, after ``day`` ended."""
    assert info is not None, f"{label}: no run scheduled"
    start, end = info.data_interval.start, info.data_interval.end
    assert info.logical_date == start and info.logical_date.strftime("%Y-%m-%d") == day.isoformat(), (
        f"{label}: ds {info.logical_date:%Y-%m-%d}, expected {day}")
    day_ended = dt.datetime.combine(day + ONE_DAY, dt.time(), tzinfo=dt.UTC)
    assert info.run_after >= day_ended, f"{label}: fires at {info.run_after}, before {day} ended"
    assert end - start == ONE_DAY, f"{label}: data interval {start} .. {end} is not one day"
    assert info.run_after.date() == day + ONE_DAY, f"{label}: fires at {info.run_after}, not on the next day"
    assert end == info.run_after, f"{label}: fires at {info.run_after}, not when its interval ends ({end})"
    if (start.hour, start.minute) == (0, 0):  # a midnight cron: the interval is exactly the calendar day
        assert start == dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) and end == day_ended


@pytest.mark.parametrize("dag_id", TIME_SCHEDULED)
def test_the_first_and_next_scheduled_runs_process_the_previous_day(scheduled, dag_id):
    env, dags = scheduled
    dag = dags[dag_id]
    tt = dag.timetable
    restriction = _restriction(dag, catchup=True)
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    start_day = dag.start_date.date()
    _assert_processes_the_day_that_ended(first, start_day, f"{env} {dag_id} first run")
    second = tt.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=restriction)
    _assert_processes_the_day_that_ended(second, start_day + ONE_DAY, f"{env} {dag_id} next run")


@pytest.mark.parametrize("dag_id", TIME_SCHEDULED)
def test_left_to_its_schedule_without_catchup_the_run_is_for_the_last_day_that_ended(scheduled, dag_id):
    """catchup=False: the scheduler creates the run of the newest complete interval, i.e. yesterday's (or the day
    before, while today's run time has not come yet), and the run after it is for the following day."""
    env, dags = scheduled
    dag = dags[dag_id]
    now = pendulum.now("UTC")
    info = dag.timetable.next_dagrun_info(last_automated_data_interval=None,
                                          restriction=_restriction(dag, catchup=False))
    assert info.run_after <= now, f"{env} {dag_id}: the newest complete interval must be due already"
    day = info.run_after.date() - ONE_DAY
    assert day in {now.date() - ONE_DAY, now.date() - 2 * ONE_DAY}
    _assert_processes_the_day_that_ended(info, day, f"{env} {dag_id} run without catchup")
    following = dag.timetable.next_dagrun_info(last_automated_data_interval=info.data_interval,
                                               restriction=_restriction(dag, catchup=False))
    _assert_processes_the_day_that_ended(following, day + ONE_DAY, f"{env} {dag_id} run after it")
    assert following.run_after > now


def test_every_time_scheduled_dag_is_checked_here(scheduled):
    """A new DAG on a time schedule must be added to TIME_SCHEDULED (asset-scheduled DAGs have no run times)."""
    from airflow.timetables.simple import AssetTriggeredTimetable

    _, dags = scheduled
    assert sorted(d for d, dag in dags.items() if not isinstance(dag.timetable, AssetTriggeredTimetable)) \
        == TIME_SCHEDULED
