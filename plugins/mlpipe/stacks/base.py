"""The interfaces every stack implements. Later stages (features, training, serving) add theirs here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow.sdk import TaskGroup
    from airflow.sdk.definitions.xcom_arg import XComArg

    from mlpipe.config.model import Source


class Storage(Protocol):
    """Small documents in the lake (manifests, reports), on a filesystem or in S3."""

    def write_json(self, uri: str, doc: dict[str, Any]) -> None: ...

    def read_json(self, uri: str) -> dict[str, Any]: ...

    def exists(self, uri: str) -> bool: ...


class Ingestion(Protocol):
    """Lands one configured source in bronze for the run's logical date."""

    def ingest(self, source: Source) -> XComArg:
        """Add the branch's tasks to the current DAG (inside the caller's TaskGroup).

        Returns the XComArg of the branch's last task: it returns a list of
        :class:`mlpipe.manifest.TableLanding` dicts and emits one bronze Asset event per table it wrote.
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


class Stack(Protocol):
    name: str
    ingestion: Ingestion
    features: Features
    training: Training

    def storage(self) -> Storage:
        """Created at task run time (it may open clients), never at DAG parse time."""
        ...


class Deployment(Protocol):
    """Serves an Approved model version (aws: SageMaker Model / EndpointConfig / Endpoint blue/green and batch
    transform; local: the local endpoint blue/green and the local batch transform). ``resolved`` is the XComArg
    of ``resolve_version`` (``{"version", "arn", "ds", "names", "gold_partition", "predictions", ...}``)."""

    def approved_package(self, version: int | None) -> dict[str, Any]:
        """At run time: the Approved version ``version`` (None: the newest); MlPipeError when not deployable."""
        ...

    def runtime_client(self) -> Any:
        """At run time: a boto3 ``sagemaker-runtime`` client that reaches ``deployment.endpoint_name``."""
        ...

    def endpoint(self, resolved: XComArg) -> Any:
        """Tasks that put the version behind the endpoint (blue/green); returns the last one."""
        ...

    def batch(self, resolved: XComArg) -> Any:
        """Tasks that score the gold partition's scoring rows into ``predictions/dt=<ds>/``; returns the last."""
        ...
