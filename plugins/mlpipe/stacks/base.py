"""The interfaces every stack implements: one member per stage, each adding that stage's tasks to a DAG.

Stacks are build-time only: their methods run while a DAG file is parsed and return XComArgs / TaskGroups.
What runs inside a task lives in :mod:`mlpipe.tasks` and reaches storage, the registry and the endpoint
through :mod:`mlpipe.services`, never through a stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow.sdk import TaskGroup
    from airflow.sdk.definitions.xcom_arg import XComArg

    from mlpipe.config.model import Source


class Ingestion(Protocol):
    """Lands one configured source in bronze for the run's logical date."""

    def ingest(self, source: Source) -> XComArg:
        """Add the branch's tasks to the current DAG (inside the caller's TaskGroup).

        Returns the XComArg of the branch's last task: it returns a list of
        :class:`mlpipe.manifest.TableLanding` dicts and emits one bronze Asset event per table it wrote
        (extra: ``ds``, ``partition``, ``rows``, ``rows_quarantined``, the same on every stack).
        """
        ...


class Features(Protocol):
    """Runs the feature job's Spark steps on the stack's Spark, and publishes the partitions they wrote.

    Every step is ``include/spark_jobs/main.py --step <step> --spec <spec uri>``, the same script on every
    stack; ``spec`` is the XComArg of the ``write_spec`` task (``{"ds", "spec_uri", "outputs"}``).
    """

    def step(self, step: str, spec: XComArg) -> TaskGroup:
        """Add a TaskGroup named ``step`` that runs the step to its end (success, or failure of the task).

        It runs after ``spec``. Whatever the step shares with the other steps (a transient EMR cluster) is
        created once, before the first step, and released whatever happened, after the last one.
        """
        ...

    def publish(self, spec: XComArg) -> list[Any]:
        """Tasks that make the run's new partitions queryable (aws: Glue Data Catalog through Athena DDL).

        The DAG runs them after the gold gate passed; an empty list when the stack has nothing to do.
        """
        ...


class Training(Protocol):
    """Tunes, evaluates and registers the model of ``training:`` (aws: SageMaker HPO, Processing, Model
    Registry; local: subprocess trials, evaluate.py, the local registry). ``split`` is the XComArg of the
    ``split`` task (``{"ds", "root", "channels", ...}``); each method adds its tasks and returns an XComArg."""

    def tune(self, split: XComArg) -> Any:
        """The tuning job of the date (reattached, reused or started); XCom ``{"name", "best": {...}}``."""
        ...

    def evaluate(self, split: XComArg, tuned: Any) -> Any:
        """The best model on the test split; XCom ``{"evaluation", "champion", "evaluation_uri", "report_uri"}``."""
        ...

    def register(self, split: XComArg, tuned: Any, evaluated: Any, verdict: Any) -> Any:
        """Register the version (idempotently per tuning job) and emit the model Asset."""
        ...


class Deployment(Protocol):
    """Serves an Approved model version (aws: SageMaker Model / EndpointConfig / Endpoint blue/green and batch
    transform; local: the local endpoint blue/green and the local batch transform). ``resolved`` is the XComArg
    of ``resolve_version`` (``{"version", "arn", "ds", "names", "gold_partition", "predictions", ...}``)."""

    def endpoint(self, resolved: XComArg) -> Any:
        """Tasks that put the version behind the endpoint (blue/green) and smoke-test it; returns the last."""
        ...

    def batch(self, resolved: XComArg) -> Any:
        """Tasks that score the gold partition's scoring rows into ``predictions/dt=<ds>/``; returns the last."""
        ...


class Monitoring(Protocol):
    """Drift of the logical date against the serving model's baseline, and the retraining request."""

    def check_drift(self) -> XComArg:
        """The drift check; XCom ``{"ds", "verdict", "config_change", "report", "summary", "model"}``."""
        ...

    def request_retraining(self, checked: XComArg) -> XComArg:
        """Emit the retraining Asset event when due (skipped with the reason otherwise)."""
        ...


class Stack(Protocol):
    name: str
    ingestion: Ingestion
    features: Features
    training: Training
    deployment: Deployment
    monitoring: Monitoring
