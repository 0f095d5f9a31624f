"""Checkpoints: atomic, checksummed, resumable from the newest valid one.

A checkpoint after ``R`` boosting rounds is two files in the checkpoint directory::

    ckpt-0000000R.ubj    the booster (XGBoost UBJSON: exact floats)
    ckpt-0000000R.json   its manifest: round, file name, size, sha256, the run's fingerprint, the
                         training state (early-stopping state and metric history up to round R)

Each file is written to a temporary name, flushed to disk and renamed into place, the model before its
manifest, so a checkpoint without a manifest never counts. On start the newest checkpoint whose manifest
parses, whose model file has the recorded size and checksum, whose booster loads with ``R`` rounds and whose
fingerprint matches the run's hyperparameters is resumed; anything else (half-written, corrupt, partially
synced from S3, another trial's) is skipped with a log line. The newest ``keep`` checkpoints are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

FORMAT = 1
_NAME = re.compile(r"^ckpt-(\d{8})\.json$")


@dataclass(frozen=True)
class Checkpoint:
    rounds: int
    model_path: str
    manifest_path: str
    fingerprint: str
    state: dict[str, object]


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary sibling, fsync, rename: readers see all or nothing."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _fsync_dir(directory)


class CheckpointStore:
    """The checkpoints of one training run, in one directory."""

    def __init__(self, directory: str, keep: int = 2, log: Callable[[str], None] = print) -> None:
        self.directory = directory
        self.keep = max(1, keep)
        self.log = log
        self.seconds = 0.0          # time spent writing checkpoints (for the run's summary)
        self.written = 0

    def _paths(self, rounds: int) -> tuple[str, str]:
        stem = os.path.join(self.directory, f"ckpt-{rounds:08d}")
        return stem + ".ubj", stem + ".json"

    def save(self, booster, rounds: int, fingerprint: str, state: dict[str, object]) -> Checkpoint:
        """Write the checkpoint after ``rounds`` rounds, then drop the ones beyond ``keep``."""
        started = time.perf_counter()
        os.makedirs(self.directory, exist_ok=True)
        raw = bytes(booster.save_raw("ubj"))
        model_path, manifest_path = self._paths(rounds)
        write_atomic(model_path, raw)
        manifest = {
            "format": FORMAT,
            "round": rounds,
            "model_file": os.path.basename(model_path),
            "bytes": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "fingerprint": fingerprint,
            "state": state,
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_atomic(manifest_path, json.dumps(manifest, sort_keys=True).encode())
        self._prune()
        self.seconds += time.perf_counter() - started
        self.written += 1
        return Checkpoint(rounds, model_path, manifest_path, fingerprint, state)

    def manifests(self) -> list[tuple[int, str]]:
        """(rounds, manifest path) of every checkpoint by name, newest first (valid or not)."""
        if not os.path.isdir(self.directory):
            return []
        found = []
        for name in os.listdir(self.directory):
            m = _NAME.match(name)
            if m:
                found.append((int(m.group(1)), os.path.join(self.directory, name)))
        return sorted(found, reverse=True)

    def _prune(self) -> None:
        for rounds, manifest_path in self.manifests()[self.keep:]:
            model_path, _ = self._paths(rounds)
            for path in (manifest_path, model_path):   # manifest first: never a manifest without its model
                try:
                    os.remove(path)
                except OSError:
                    pass

    def latest_valid(self, fingerprint: str | None = None):
        """The newest valid checkpoint and its booster, or None. Every skipped checkpoint is logged."""
        for rounds, manifest_path in self.manifests():
            reason, result = self._check(rounds, manifest_path, fingerprint)
            if result is not None:
                return result
            self.log(f"checkpoint {os.path.basename(manifest_path)} skipped: {reason}")
        return None

    def _check(self, rounds: int, manifest_path: str, fingerprint: str | None):
        import xgboost as xgb

        try:
            with open(manifest_path, "rb") as fh:
                manifest = json.loads(fh.read().decode())
            if manifest.get("format") != FORMAT or manifest.get("round") != rounds:
                return "manifest format or round does not match its name", None
            model_path = os.path.join(self.directory, manifest["model_file"])
            with open(model_path, "rb") as fh:
                raw = fh.read()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"unreadable ({type(exc).__name__}: {exc})", None
        if len(raw) != manifest.get("bytes") or hashlib.sha256(raw).hexdigest() != manifest.get("sha256"):
            return "model file does not match the manifest's size and sha256 (half-written or corrupt)", None
        if fingerprint is not None and manifest.get("fingerprint") != fingerprint:
            return "written with other hyperparameters or features (fingerprint {}, this run {})".format(
                manifest.get("fingerprint"), fingerprint), None
        try:
            booster = xgb.Booster()
            booster.load_model(bytearray(raw))
        except Exception as exc:  # xgboost raises XGBoostError; anything else is just as fatal for this file
            return f"booster does not load ({exc})", None
        if booster.num_boosted_rounds() != rounds:
            return f"booster has {booster.num_boosted_rounds()} rounds, the manifest says {rounds}", None
        ckpt = Checkpoint(rounds, model_path, manifest_path, str(manifest.get("fingerprint")),
                          dict(manifest.get("state") or {}))
        return "", (ckpt, booster)

    def clean_temporaries(self) -> None:
        """Remove the temporary files a killed writer left behind."""
        if not os.path.isdir(self.directory):
            return
        for name in os.listdir(self.directory):
            if name.startswith(".") and ".tmp-" in name:
                try:
                    os.remove(os.path.join(self.directory, name))
                except OSError:
                    pass
