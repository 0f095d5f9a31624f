"""The job spec as the Spark jobs read it: every path a dataset writes comes from its ``outputs`` (rendered by
the pipeline's LakeLayout), never from a layout of the job's own."""

from __future__ import annotations

import copy

import pytest
from mlpipe.config import load_config
from mlpipe.tasks.feature_spec import job_spec
from spark_jobs.spec import SpecError, check, outputs, quarantine_rows_dir, quarantined_result

DS = "2026-11-01"


@pytest.fixture(scope="module")
def spec() -> dict:
    return job_spec(load_config("local"), DS)


def test_outputs_are_the_spec_s_own_even_where_they_leave_the_usual_layout(spec):
    elsewhere = copy.deepcopy(spec)
    table = elsewhere["silver"]["tables"][0]
    table["outputs"] = {"partition": "file:///elsewhere/p", "quarantine": "file:///elsewhere/q",
                        "quarantine_rows": "file:///elsewhere/q/rejected", "result": "file:///elsewhere/v/verdict.json",
                        "report": "file:///elsewhere/v/verdict.html"}
    assert outputs(elsewhere, "silver", table["name"]) == table["outputs"]
    assert outputs(spec, "gold", spec["gold"]["name"]) == spec["gold"]["outputs"]


def test_a_spec_without_a_dataset_s_outputs_is_refused(spec):
    bare = copy.deepcopy(spec)
    name = bare["silver"]["tables"][1]["name"]
    del bare["silver"]["tables"][1]["outputs"]
    with pytest.raises(SpecError, match=rf"silver\.{name}: outputs misses \['partition', 'quarantine'"):
        outputs(bare, "silver", name)
    with pytest.raises(SpecError, match=rf"silver\.{name}: outputs misses"):
        check(bare)
    no_report = copy.deepcopy(spec)
    del no_report["gold"]["outputs"]["report"]
    with pytest.raises(SpecError, match=r"outputs misses \['report'\]"):
        check(no_report)
    check(spec)


def test_the_rows_and_the_verdict_copy_of_a_quarantine_follow_the_spec():
    out = {"quarantine": "s3://lake/q/t/dt=1", "quarantine_rows": "s3://lake/q/t/dt=1/rejected/rows",
           "result": "s3://lake/v/t/dt=1/verdict.json"}
    assert quarantine_rows_dir(out, "s3://lake/q/t/.dt=1.tmp") == "s3://lake/q/t/.dt=1.tmp/rejected/rows"
    assert quarantined_result(out) == "s3://lake/q/t/dt=1/verdict.json"
    assert quarantined_result(out, "s3://lake/q/t/.dt=1.tmp") == "s3://lake/q/t/.dt=1.tmp/verdict.json"
    with pytest.raises(SpecError, match="must lie inside outputs.quarantine"):
        quarantine_rows_dir({**out, "quarantine_rows": "s3://lake/rows"}, "s3://lake/q/t/.tmp")
