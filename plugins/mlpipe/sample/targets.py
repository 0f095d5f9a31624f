"""Where the sample sources go: resolved from the pipeline configuration's sources."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from mlpipe.config.model import DatabaseSource, DropSource, FileShareSource, PipelineConfig
from mlpipe.errors import ConfigError
from mlpipe.local.cdc import resolve_url
from mlpipe.paths import local_path

STATE_DIR_NAME = "_generator_state"
LATE_DIR_NAME = "_late"


@dataclass(frozen=True)
class SampleTargets:
    """The sample's database, file share and partner landing directory, and the generator's state dir."""

    database: DatabaseSource
    share: FileShareSource
    drop: DropSource
    share_dir: Path
    landing_dir: Path
    state_dir: Path

    @property
    def sqlite_file(self) -> Path | None:
        url = resolve_url(self.database.url or "")
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database)
        return None

    def day_dir(self, day: dt.date) -> Path:
        """The clickstream folder of one day: <share>/YYYY/MM/DD."""
        return self.share_dir / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"

    def drop_name(self, day: dt.date) -> str:
        return self.drop.file_pattern.format(ds=day.isoformat(), ds_nodash=f"{day:%Y%m%d}")

    def drop_path(self, day: dt.date, late: bool = False) -> Path:
        return (self.landing_dir / LATE_DIR_NAME if late else self.landing_dir) / self.drop_name(day)


def sample_targets(cfg: PipelineConfig) -> SampleTargets:
    """The first database, file-share and drop source of a local-stack config, with local paths."""
    if cfg.stack != "local":
        raise ConfigError(
            f"the sample generator writes local sources; environment '{cfg.environment}' uses stack "
            f"'{cfg.stack}'. Run it with PIPELINE_ENV=local (or another local-stack environment)"
        )
    found: dict[str, object] = {}
    for src in cfg.sources:
        found.setdefault(src.kind, src)
    missing = [kind for kind in ("database", "file_share", "drop") if kind not in found]
    if missing:
        raise ConfigError(f"sources: the sample generator needs one source of each kind; missing {missing}")
    database, share, drop = found["database"], found["file_share"], found["drop"]
    assert isinstance(database, DatabaseSource) and isinstance(share, FileShareSource)
    assert isinstance(drop, DropSource)
    if database.url is None or share.path is None:
        raise ConfigError(f"sources[{database.name}].url and sources[{share.name}].path must be set")
    share_dir, landing_dir = local_path(share.path), local_path(drop.landing)
    places = [share_dir, landing_dir]
    url = resolve_url(database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        places.append(Path(url.database).parent)
    state_dir = Path(os.path.commonpath([str(p) for p in places])) / STATE_DIR_NAME
    return SampleTargets(database, share, drop, share_dir, landing_dir, state_dir)


def standalone_config(root: Path, db_url: str | None = None, **sample: int) -> PipelineConfig:
    """A self-contained local-stack config with the lake and the sample sources under ``root``.

    For tests, benchmarks and demos; ``sample`` overrides seed/customers/history_days/events.
    """
    root = Path(root)
    return PipelineConfig.model_validate({
        "environment": "standalone",
        "stack": "local",
        "lake": {"root": f"file://{root / 'lake'}"},
        "sources": [
            {"kind": "database", "name": "oltp", "url": db_url or f"sqlite:///{root / 'sources' / 'oltp.db'}",
             "tables": [{"name": "customers", "primary_key": ["customer_id"]},
                        {"name": "subscriptions", "primary_key": ["subscription_id"]},
                        {"name": "payments", "primary_key": ["payment_id"]}]},
            {"kind": "file_share", "name": "clickstream", "table": "events",
             "path": str(root / "sources" / "share" / "clickstream"), "format": "jsonl",
             "required_fields": ["event_id", "customer_id", "event_type", "event_ts"]},
            {"kind": "drop", "name": "partner", "table": "accounts", "landing": str(root / "sources" / "landing" / "partner"),
             "file_pattern": "accounts_{ds_nodash}.csv", "format": "csv",
             "required_fields": ["customer_id", "company_size", "industry", "credit_band"]},
        ],
        "sample": sample,
    })
