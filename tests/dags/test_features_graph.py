"""ml_features has exactly the edges of its stack: the local spark-submit steps, the transient EMR cluster (its
teardown after every step), EMR Serverless job runs, and on aws the Glue partitions after the gold gate."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# what include/config/aws-dev.yaml's features section declares (register_partitions has a pair per dataset)
AWS_DATASETS = [("silver", "accounts"), ("silver", "customers"), ("silver", "events"), ("silver", "payments"),
                ("silver", "subscriptions"), ("gold", "customer_features")]


def _register_partitions() -> set[tuple[str, str]]:
    edges = set()
    for layer, name in AWS_DATASETS:
        create = f"register_partitions.create_{layer}_{name}"
        edges |= {("gate_gold", create), (create, f"register_partitions.add_partition_{layer}_{name}")}
    return edges


# every gate reads write_spec's XCom (the datasets' verdict URIs), so write_spec is upstream of both gates
GATES = {("write_spec", "gate_silver"), ("write_spec", "gate_gold")}

EDGES = {
    "local": GATES | {
        ("write_spec", "silver.spark_submit"), ("silver.spark_submit", "gate_silver"),
        ("gate_silver", "gold.spark_submit"), ("write_spec", "gold.spark_submit"), ("gold.spark_submit", "gate_gold"),
    },
    "aws-dev": GATES | _register_partitions() | {
        ("write_spec", "create_cluster"),
        ("create_cluster", "silver.add_step"), ("silver.add_step", "silver.wait_for_step"),
        ("silver.wait_for_step", "gate_silver"),
        ("create_cluster", "gold.add_step"), ("gate_silver", "gold.add_step"), ("gold.add_step", "gold.wait_for_step"),
        ("gold.wait_for_step", "gate_gold"),
        # the teardown (trigger rule all_done) waits for the cluster and both steps, whatever they ended with
        ("create_cluster", "terminate_cluster"), ("silver.wait_for_step", "terminate_cluster"),
        ("gold.wait_for_step", "terminate_cluster"),
    },
    "aws-dev-serverless": GATES | _register_partitions() | {
        ("write_spec", "silver.job_run"), ("silver.job_run", "gate_silver"),
        ("write_spec", "gold.job_run"), ("gate_silver", "gold.job_run"), ("gold.job_run", "gate_gold"),
    },
}


def load(monkeypatch, variant: str):
    monkeypatch.setenv("PIPELINE_ENV", variant.removesuffix("-serverless"))
    if variant.endswith("-serverless"):
        monkeypatch.setenv("MLPIPE__EMR__MODE", "serverless")
    return runpy.run_path(str(ROOT / "dags" / "ml_features.py"))["dag"]


@pytest.mark.parametrize("variant", sorted(EDGES))
def test_features_dag_has_exactly_its_stacks_edges(monkeypatch, variant):
    dag = load(monkeypatch, variant)
    edges = {(up, t.task_id) for t in dag.tasks for up in t.upstream_task_ids}
    assert edges == EDGES[variant]
    assert set(dag.task_ids) == {task for edge in EDGES[variant] for task in edge}
