"""The local S3 drop: a partner's daily file in a landing directory, validated into the bronze lake.

On AWS a deferrable S3 key sensor waits for ``s3://<landing>/<file name>`` and the file is copied into bronze;
here the landing area is a directory and waiting is still the sensor's job: :func:`land_drop` expects the file
to be there. The partition holds the file under its own name (good rows only, header kept)::

    <lake>/bronze/<source>/<table>/dt=<ds>/<file name>
    <lake>/quarantine/<source>/<table>/dt=<ds>/<file name>.rejects.jsonl   rejected rows, or the file's reason
    <lake>/quarantine/<source>/<table>/dt=<ds>/<file name>                 the file itself when rejected whole
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from mlpipe.config.model import DropSource
from mlpipe.errors import ConfigError, MlPipeError, SourceUnavailableError
from mlpipe.lake import LakeLayout, atomic_partition, to_path
from mlpipe.manifest import TableLanding
from mlpipe.paths import local_path
from mlpipe.quarantine import REJECTS_SUFFIX, split_file


def drop_file_name(source: DropSource, ds: dt.date) -> str:
    """The file name the partner uses for ``ds``: ``file_pattern`` with {ds} (YYYY-MM-DD) and {ds_nodash} filled."""
    return source.file_pattern.replace("{ds}", ds.isoformat()).replace("{ds_nodash}", ds.strftime("%Y%m%d"))


def landing_dir(source: DropSource) -> Path:
    """The local landing directory of ``source`` (ConfigError for an s3:// landing: that is the aws stack's)."""
    if source.landing.startswith("s3://"):
        raise ConfigError(
            f"sources[{source.name}].landing is {source.landing}; the local stack needs a directory there"
        )
    return local_path(source.landing)


def drop_path(source: DropSource, ds: dt.date) -> Path:
    """Where the drop for ``ds`` is expected on the local stack."""
    return landing_dir(source) / drop_file_name(source, ds)


def land_drop(source: DropSource, ds: dt.date, lake: LakeLayout) -> TableLanding:
    """Validate the drop for ``ds`` and write its good rows to bronze, the rest to quarantine (both atomically).

    Raises SourceUnavailableError when the landing directory itself is missing and MlPipeError when the drop
    for ``ds`` is not there (the sensor before this task is what waits for it).
    """
    landing = landing_dir(source)
    if not landing.is_dir():
        raise SourceUnavailableError(
            f"landing directory {landing} does not exist; create it or set sources[{source.name}].landing"
        )
    path = landing / drop_file_name(source, ds)
    if not path.is_file():
        raise MlPipeError(
            f"partner drop {path} for {ds.isoformat()} is missing (sources[{source.name}].file_pattern is "
            f"'{source.file_pattern}'); the sensor should have waited for it: check the partner's delivery"
        )
    day, name = ds.isoformat(), path.name
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    bronze_uri = lake.bronze(source.name, source.table, day)
    quarantine_uri = lake.quarantine(source.name, source.table, day)
    with (
        atomic_partition(to_path(bronze_uri)) as bronze_tmp,
        atomic_partition(to_path(quarantine_uri)) as quarantine_tmp,
    ):
        result = split_file(
            path,
            bronze_tmp / name,
            quarantine_tmp / (name + REJECTS_SUFFIX),
            fmt=source.format,
            required_fields=source.required_fields,
            source_file=name,
            raw_copy=quarantine_tmp / name,
        )
    return TableLanding(
        source=source.name,
        table=source.table,
        ds=day,
        partition_uri=bronze_uri,
        files_in=1,
        files_out=0 if result.file_quarantined else 1,
        files_quarantined=1 if result.file_quarantined else 0,
        rows_in=result.rows_in,
        rows_out=result.rows_out,
        rows_quarantined=result.rows_quarantined,
        quarantine_uri=quarantine_uri,
        details={
            "drop": str(path),
            "bytes": path.stat().st_size,
            "sha256": digest,
            "file_reason": result.file_reason,
            "blank_lines": result.blank_lines,
            "reasons": dict(sorted(result.reasons.items())),
        },
    )
