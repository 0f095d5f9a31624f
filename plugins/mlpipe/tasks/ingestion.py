"""What the ingestion branches of both stacks share: the bronze Asset events of what a branch landed, and the
drop file's name as the sensors' Jinja template.

Every branch's last task returns its :class:`~mlpipe.manifest.TableLanding` dicts and emits one event per
bronze table it wrote, with the same extra on every stack (:func:`bronze_event_extra`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlpipe.config.model import DropSource
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout
from mlpipe.manifest import TableLanding


def bronze_event_extra(landing: TableLanding) -> dict[str, Any]:
    """The extra of a bronze Asset event: the date, the partition's URI, the rows landed and quarantined."""
    return {"ds": landing.ds, "partition": landing.partition_uri, "rows": landing.rows_out,
            "rows_quarantined": landing.rows_quarantined}


def emit_bronze_events(layout: LakeLayout, landings: list[TableLanding], outlets: Iterable[Any],
                       outlet_events: Any) -> list[dict[str, Any]]:
    """One event per landing on the task's outlet of that bronze table; returns the landings as dicts (the XCom).

    ``outlets`` and ``outlet_events`` are the task's context entries; the outlet of a table is the Asset whose
    URI is the table's bronze URI (:meth:`LakeLayout.bronze`).
    """
    by_uri = {asset.uri: asset for asset in outlets or []}
    for landing in landings:
        uri = layout.bronze(landing.source, landing.table)
        if uri not in by_uri:
            raise MlPipeError(
                f"{landing.source}.{landing.table} landed in {landing.partition_uri} but this task has no outlet "
                f"{uri} (outlets: {sorted(by_uri)}): the stack must declare every bronze table the branch writes"
            )
        outlet_events[by_uri[uri]].extra = bronze_event_extra(landing)
    return [landing.to_dict() for landing in landings]


def drop_file_template(source: DropSource) -> str:
    """``file_pattern`` as a Jinja template Airflow renders for the run (``{{ ds }}``, ``{{ ds_nodash }}``)."""
    return source.file_pattern.replace("{ds}", "{{ ds }}").replace("{ds_nodash}", "{{ ds_nodash }}")
