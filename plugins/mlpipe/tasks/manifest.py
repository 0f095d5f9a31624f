"""The run manifest task: collects every branch's landings and writes them to the lake."""

from __future__ import annotations

import logging
from typing import Any

from mlpipe.config import load_config
from mlpipe.lake import LakeLayout
from mlpipe.manifest import TableLanding, build_manifest
from mlpipe.services import storage_for

log = logging.getLogger(__name__)


def record_manifest(branches: list[list[dict[str, Any]]], ds: str | None = None, dag_run: Any = None) -> dict[str, Any]:
    """Task ``record_manifest``: ``manifests/<dag_id>/dt=<ds>.json`` from every branch's landings; XCom: its URI
    and the totals."""
    cfg = load_config()
    landings = [TableLanding.from_dict(item) for branch in branches for item in branch]
    doc = build_manifest(dag_run.dag_id, ds, landings)
    uri = LakeLayout.from_config(cfg).manifest(dag_run.dag_id, ds)
    storage_for(cfg).write_json(uri, doc)
    for landing in landings:
        log.info(
            "%s.%s dt=%s: %d rows in, %d landed, %d quarantined (%d files) -> %s",
            landing.source, landing.table, landing.ds, landing.rows_in, landing.rows_out,
            landing.rows_quarantined, landing.files_out, landing.partition_uri,
        )
    log.info("manifest: %s", uri)
    return {"manifest": uri, **doc["totals"]}
