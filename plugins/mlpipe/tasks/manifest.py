"""The run manifest task: collects every branch's landings and writes them to the lake."""

from __future__ import annotations

import logging
from typing import Any

from mlpipe.config import load_config
from mlpipe.dagkit import lake
from mlpipe.manifest import TableLanding, build_manifest
from mlpipe.stacks import get_stack

log = logging.getLogger(__name__)


def record_manifest(branches: list[list[dict[str, Any]]], ds: str | None = None, dag_run: Any = None) -> dict[str, Any]:
    cfg = load_config()
    landings = [TableLanding.from_dict(item) for branch in branches for item in branch]
    doc = build_manifest(dag_run.dag_id, ds, landings)
    uri = lake(cfg).manifest(dag_run.dag_id, ds)
    get_stack(cfg).storage().write_json(uri, doc)
    for landing in landings:
        log.info(
            "%s.%s dt=%s: %d rows in, %d landed, %d quarantined (%d files) -> %s",
            landing.source, landing.table, landing.ds, landing.rows_in, landing.rows_out,
            landing.rows_quarantined, landing.files_out, landing.partition_uri,
        )
    log.info("manifest: %s", uri)
    return {"manifest": uri, **doc["totals"]}
