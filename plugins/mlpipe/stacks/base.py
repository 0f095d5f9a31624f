"""The interfaces every stack implements. Later stages (features, training, serving) add theirs here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
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


class Stack(Protocol):
    name: str
    ingestion: Ingestion

    def storage(self) -> Storage:
        """Created at task run time (it may open clients), never at DAG parse time."""
        ...
