"""ml_ingest's graph on both stacks, parsed as the scheduler parses it (DagBag): the exact edge set."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MANIFEST = "record_manifest"
EDGES = {
    "local": {
        ("oltp.replicate", MANIFEST),
        ("clickstream.sync", MANIFEST),
        ("partner.wait_for_drop", "partner.land"),
        ("partner.land", MANIFEST),
    },
    "aws-dev": {
        ("oltp.dms_start_type", "oltp.dms_start"),      # the start type is the operator's argument (XCom)
        ("oltp.dms_start_type", "oltp.dms_check_stop"),  # ... and the check's
        ("oltp.dms_start", "oltp.dms_wait"),
        ("oltp.dms_wait", "oltp.dms_check_stop"),
        ("oltp.dms_check_stop", "oltp.promote"),
        ("oltp.promote", MANIFEST),
        ("clickstream.datasync", "clickstream.datasync_wait"),
        ("clickstream.datasync_wait", "clickstream.promote"),
        ("clickstream.promote", MANIFEST),
        ("partner.wait_for_drop", "partner.land"),
        ("partner.land", MANIFEST),
    },
}


@pytest.fixture(params=sorted(EDGES))
def ingest_dag(request, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("PIPELINE_ENV", request.param)
    bag = DagBag(dag_folder=str(ROOT / "dags" / "ml_ingest.py"))
    assert bag.import_errors == {}
    return request.param, bag.dags["ml_ingest"]


def test_the_exact_edges(ingest_dag):
    env, dag = ingest_dag
    edges = {(up, t.task_id) for t in dag.tasks for up in t.upstream_task_ids}
    assert edges == EDGES[env]
    assert {t.task_id for t in dag.tasks} == {task for edge in EDGES[env] for task in edge}


def test_each_branch_ends_in_the_task_that_emits_its_bronze_events(ingest_dag):
    env, dag = ingest_dag
    emitting = {t.task_id: sorted(a.name for a in t.outlets) for t in dag.tasks if t.outlets}
    last = {"local": ("oltp.replicate", "clickstream.sync"), "aws-dev": ("oltp.promote", "clickstream.promote")}[env]
    assert emitting == {
        last[0]: ["bronze.oltp.customers", "bronze.oltp.payments", "bronze.oltp.subscriptions"],
        last[1]: ["bronze.clickstream.events"],
        "partner.land": ["bronze.partner.accounts"],
    }
    assert {up for t in dag.tasks if t.task_id == MANIFEST for up in t.upstream_task_ids} == set(emitting)
