"""The local stack's ingestion task: the DMS, DataSync or S3-drop stand-in of one source, for one date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mlpipe.config import load_config
from mlpipe.config.model import DatabaseSource, FileShareSource, Source
from mlpipe.lake import LakeLayout
from mlpipe.manifest import TableLanding
from mlpipe.tasks.ingestion import emit_bronze_events


def land_source(source_name: str, ds: str | None = None, outlets: Any = None,
                outlet_events: Any = None) -> list[dict[str, Any]]:
    """Task body (``replicate`` / ``sync`` / ``land``): run the local engine for one source and date, emit one
    bronze Asset event per table."""
    cfg = load_config()
    layout = LakeLayout.from_config(cfg)
    landings = run_engine(cfg.source(source_name), dt.date.fromisoformat(ds), layout)
    return emit_bronze_events(layout, landings, outlets, outlet_events)


def run_engine(source: Source, day: dt.date, layout: LakeLayout) -> list[TableLanding]:
    """The local engine of the source's kind: DMS full load + CDC, DataSync sync, or the landing directory."""
    if isinstance(source, DatabaseSource):
        from mlpipe.local.dms import replicate

        return replicate(source, day, layout)
    if isinstance(source, FileShareSource):
        from mlpipe.local.datasync import sync_share

        return [sync_share(source, day, layout)]
    from mlpipe.local.landing import land_drop

    return [land_drop(source, day, layout)]
