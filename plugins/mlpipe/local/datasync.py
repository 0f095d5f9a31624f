"""The local DataSync: incremental sync of a file share into the bronze lake, with DataSync's semantics.

The task options it reproduces: ``TransferMode=CHANGED`` (only new or changed files are copied),
``VerifyMode=ONLY_FILES_TRANSFERRED`` (each copied file's SHA-256 is checked after the copy) and
``PreserveDeletedFiles=PRESERVE`` (a file deleted at the source stays in the lake; it is only reported).

Each execution compares the share with the inventory recorded by the latest execution for an earlier logical
date, so a rerun (or a backfill) of a date transfers the same files again and yields an identical partition::

    <lake>/bronze/<source>/<table>/dt=<ds>/<relative path>               good records of each transferred file
    <lake>/quarantine/<source>/<table>/dt=<ds>/<relative path>.rejects.jsonl   rejected records with reasons
    <lake>/quarantine/<source>/<table>/dt=<ds>/<relative path>           a file rejected whole, byte for byte
    <lake>/_state/datasync/<source>/inventory/dt=<ds>.json               what the share held at that execution

Hidden files and directories (names starting with '.') are not part of the share: writers use them for
files in progress.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from mlpipe.config.model import FileShareSource
from mlpipe.errors import ConfigError, MlPipeError, SourceUnavailableError
from mlpipe.lake import LakeLayout, atomic_partition, to_path
from mlpipe.manifest import TableLanding
from mlpipe.paths import local_path
from mlpipe.quarantine import REJECTS_SUFFIX, SplitResult, split_file

ENGINE = "datasync"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    """One file of the share as an execution saw it."""

    size: int
    mtime_ns: int
    sha256: str


Inventory = dict[str, FileEntry]  # relative POSIX path -> entry


def sync_share(source: FileShareSource, ds: dt.date, lake: LakeLayout) -> TableLanding:
    """Transfer the share's new and changed files for logical date ``ds`` into bronze, validated and verified.

    Raises SourceUnavailableError when the share cannot be read, MlPipeError when a copy fails verification twice.
    """
    share = share_path(source)
    state_dir = to_path(lake.state(ENGINE, source.name))
    day = ds.isoformat()
    previous_ds, previous = latest_inventory(state_dir, before=ds)
    current = as_of(list_share(share, source.name, known=previous), previous, ds)

    new = sorted(rel for rel in current if rel not in previous)
    changed = sorted(rel for rel in current if rel in previous and current[rel].sha256 != previous[rel].sha256)
    deleted = sorted(rel for rel in previous if rel not in current)
    transfer = sorted(new + changed)

    bronze_uri = lake.bronze(source.name, source.table, day)
    quarantine_uri = lake.quarantine(source.name, source.table, day)
    results: list[SplitResult] = []
    state_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix=".staging-", dir=state_dir) as staging,
        atomic_partition(to_path(bronze_uri)) as bronze_tmp,
        atomic_partition(to_path(quarantine_uri)) as quarantine_tmp,
    ):
        for rel in transfer:
            staged = Path(staging) / rel
            transfer_file(share / rel, staged, current[rel].sha256)
            results.append(
                split_file(
                    staged,
                    bronze_tmp / rel,
                    quarantine_tmp / (rel + REJECTS_SUFFIX),
                    fmt=source.format,
                    required_fields=source.required_fields,
                    source_file=rel,
                    raw_copy=quarantine_tmp / rel,
                )
            )
            staged.unlink()
    save_inventory(state_dir, ds, current)

    whole = {r.source_file: r.file_reason for r in results if r.file_quarantined}
    reasons: Counter[str] = Counter()
    for r in results:
        reasons.update(r.reasons)
    return TableLanding(
        source=source.name,
        table=source.table,
        ds=day,
        partition_uri=bronze_uri,
        files_in=len(transfer),
        files_out=len(transfer) - len(whole),
        files_quarantined=len(whole),
        rows_in=sum(r.rows_in for r in results),
        rows_out=sum(r.rows_out for r in results),
        rows_quarantined=sum(r.rows_quarantined for r in results),
        quarantine_uri=quarantine_uri,
        details={
            "share": str(share),
            "compared_with": previous_ds.isoformat() if previous_ds else None,
            "files_new": new,
            "files_changed": changed,
            "files_skipped_unchanged": len(current) - len(transfer),
            "files_deleted_at_source": deleted,
            "files_quarantined_whole": whole,
            "bytes_transferred": sum(current[rel].size for rel in transfer),
            "blank_lines": sum(r.blank_lines for r in results),
            "reasons": dict(sorted(reasons.items())),
            "verified": True,
        },
    )


def share_path(source: FileShareSource) -> Path:
    """The share's directory; SourceUnavailableError (naming the config key) when it is missing or unreadable."""
    key = f"sources[{source.name}].path"
    if source.path is None:
        raise ConfigError(f"{key} is not set; the local stack needs the directory of the file share")
    share = local_path(source.path)
    if not share.is_dir():
        what = "is not a directory" if share.exists() else "does not exist"
        raise SourceUnavailableError(f"file share {share} {what}; check that it is mounted, or set {key}")
    if not os.access(share, os.R_OK | os.X_OK):
        raise SourceUnavailableError(
            f"file share {share} is not readable by this process; fix its permissions or {key}"
        )
    return share


def as_of(current: Inventory, previous: Inventory, ds: dt.date) -> Inventory:
    """The share as it was at the end of logical date ``ds``: files modified later are not there yet (a file
    seen by an earlier execution keeps that version). So a rerun or a backfill of ``ds`` sees what a run at
    the end of ``ds`` saw, and a daily run transfers the files of its own day."""
    cutoff = int(dt.datetime.combine(ds + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC).timestamp() * 1e9)
    seen: Inventory = {}
    for rel, entry in current.items():
        if entry.mtime_ns < cutoff:
            seen[rel] = entry
        elif rel in previous:
            seen[rel] = previous[rel]
    return seen


def list_share(share: Path, source_name: str = "?", known: Inventory | None = None) -> Inventory:
    """Every regular, non-hidden file under ``share`` with its size, mtime and SHA-256, by relative path.

    A file whose size and mtime match ``known`` keeps its known checksum (DataSync compares metadata first);
    any other file is read and hashed.
    """
    known = known or {}

    def unreadable(exc: OSError) -> None:
        raise SourceUnavailableError(
            f"file share {share} cannot be listed ({exc}); fix its permissions or sources[{source_name}].path"
        ) from exc

    inventory: Inventory = {}
    for top, dirs, files in os.walk(share, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            path = Path(top) / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                stat = path.stat()
                rel = path.relative_to(share).as_posix()
                old = known.get(rel)
                same = old is not None and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
                digest = old.sha256 if same else sha256_of(path)
            except OSError as exc:
                raise SourceUnavailableError(f"file {path} on the share cannot be read ({exc})") from exc
            inventory[rel] = FileEntry(stat.st_size, stat.st_mtime_ns, digest)
    return inventory


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _copy_file(src: Path, dest: Path) -> None:
    """The transfer itself (a module-level function so tests can make it fail)."""
    shutil.copyfile(src, dest)


def transfer_file(src: Path, dest: Path, expected_sha256: str) -> None:
    """Copy ``src`` to ``dest`` and verify the copy's SHA-256; a mismatch is retried once, then MlPipeError."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    actual = ""
    for _attempt in range(2):
        _copy_file(src, dest)
        actual = sha256_of(dest)
        if actual == expected_sha256:
            return
    raise MlPipeError(
        f"verification failed for {src}: the copy's SHA-256 is {actual}, the share's was {expected_sha256}, "
        "twice; the file is probably still being written at the source: rerun the task once it is complete"
    )


def inventory_dir(state_dir: Path) -> Path:
    return state_dir / "inventory"


def latest_inventory(state_dir: Path, before: dt.date) -> tuple[dt.date | None, Inventory]:
    """The inventory of the latest execution for a logical date before ``before`` (None, {} when there is none)."""
    dates = []
    for path in inventory_dir(state_dir).glob("dt=*.json"):
        try:
            dates.append(dt.date.fromisoformat(path.stem.removeprefix("dt=")))
        except ValueError:
            continue
    earlier = [d for d in dates if d < before]
    if not earlier:
        return None, {}
    latest = max(earlier)
    doc = json.loads((inventory_dir(state_dir) / f"dt={latest.isoformat()}.json").read_text())
    return latest, {rel: FileEntry(**entry) for rel, entry in doc["files"].items()}


def save_inventory(state_dir: Path, ds: dt.date, inventory: Inventory) -> Path:
    """Record what the share held for ``ds`` (atomically: temp file, then rename)."""
    path = inventory_dir(state_dir) / f"dt={ds.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    doc = {"ds": ds.isoformat(), "files": {rel: asdict(entry) for rel, entry in sorted(inventory.items())}}
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
    tmp.replace(path)
    return path
