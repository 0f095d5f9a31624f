"""The lake's storage service: one interface over ``file://`` (the local stack) and ``s3://`` (the aws stack).

Task bodies get it from :func:`mlpipe.services.storage_for` and never branch on the URI's scheme. Every
method takes and returns URIs (``file:///abs/path/...`` or ``s3://bucket/key``); :func:`split_s3_uri` is the
one place an ``s3://`` URI is parsed.

Why not fsspec or Airflow's ``ObjectStoragePath``: on S3 both need ``s3fs`` (and its aiobotocore), which
MWAA 3.3.1's image does not ship, and SSE-KMS on every write would be a per-filesystem
``s3_additional_kwargs`` that a caller can forget. The S3 side here is the Amazon provider's ``S3Hook``
(the Airflow connection and the client the operators use) with the KMS arguments on every PutObject,
CopyObject and upload; the local side writes through a temporary file and a rename, so a reader never sees
half a document (fsspec's local filesystem writes in place).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlpipe.lake import SUCCESS_MARKER, to_path

if TYPE_CHECKING:
    import pandas as pd


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; ValueError for anything else."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri}")
    return bucket, key


def join(prefix_uri: str, *parts: str) -> str:
    return "/".join([prefix_uri.rstrip("/"), *parts])


class Storage(Protocol):
    """Objects in the lake, addressed by URI. Reading or downloading a missing object raises FileNotFoundError."""

    def read_bytes(self, uri: str) -> bytes: ...

    def write_bytes(self, uri: str, data: bytes) -> None:
        """The whole object at once (atomic for a reader); SSE-KMS on S3."""
        ...

    def exists(self, uri: str) -> bool: ...

    def list(self, prefix_uri: str, suffix: str = "") -> list[str]:
        """URIs of every object under the folder ``prefix_uri`` (recursively; ``.../dt=1`` never lists
        ``.../dt=10``, an object has nothing under it) ending in ``suffix``, sorted as strings; hidden files and
        folders (``.``-prefixed: a writer's temporary) are left out."""
        ...

    def fingerprints(self, prefix_uri: str, suffix: str = "") -> dict[str, str]:
        """``{uri: content fingerprint}`` of :meth:`list` (``sha256:...`` locally, ``etag:...`` on S3)."""
        ...

    def copy(self, src_uri: str, dest_uri: str) -> None: ...

    def download(self, uri: str, path: str | os.PathLike[str]) -> None: ...

    def upload(self, path: str | os.PathLike[str], uri: str) -> None: ...

    def clear_partition(self, partition_uri: str) -> None:
        """Remove a partition's objects, ``_SUCCESS`` first (readers never see a half-replaced one as done)."""
        ...

    def commit_partition(self, partition_uri: str) -> None:
        """Mark a partition complete (``_SUCCESS``)."""
        ...


class StorageBase:
    """What every backend derives from the primitives above: JSON, text, Parquet and local copies."""

    def read_bytes(self, uri: str) -> bytes:
        raise NotImplementedError

    def write_bytes(self, uri: str, data: bytes) -> None:
        raise NotImplementedError

    def list(self, prefix_uri: str, suffix: str = "") -> list[str]:
        raise NotImplementedError

    def download(self, uri: str, path: str | os.PathLike[str]) -> None:
        raise NotImplementedError

    def read_json(self, uri: str) -> dict[str, Any]:
        return json.loads(self.read_bytes(uri))

    def write_json(self, uri: str, doc: Any) -> None:
        self.write_bytes(uri, json.dumps(doc, indent=2, sort_keys=True, default=str).encode())

    def read_text(self, uri: str) -> str:
        return self.read_bytes(uri).decode("utf-8")

    def write_text(self, uri: str, text: str) -> None:
        self.write_bytes(uri, text.encode("utf-8"))

    def read_parquet(self, uris: list[str]) -> pd.DataFrame:
        """The Parquet files ``uris``, concatenated in that order (an empty frame for none)."""
        import pandas as pd

        frames = []
        for uri in uris:
            with self.local_file(uri) as path:
                frames.append(pd.read_parquet(path))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def write_parquet(self, uri: str, frame: pd.DataFrame) -> None:
        """One Parquet file, written whole (:meth:`write_bytes`)."""
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        self.write_bytes(uri, buf.getvalue())

    @contextlib.contextmanager
    def local_file(self, uri: str) -> Iterator[Path]:
        """A local path holding the object while the block runs (the file itself on a local lake)."""
        with tempfile.TemporaryDirectory(prefix="mlpipe-storage-") as tmp:
            path = Path(tmp) / (uri.rstrip("/").rsplit("/", 1)[-1] or "object")
            self.download(uri, path)
            yield path


class LocalStorage(StorageBase):
    """``file://`` URIs on this machine; every write goes through a temporary sibling and a rename."""

    def read_bytes(self, uri: str) -> bytes:
        return to_path(uri).read_bytes()

    @staticmethod
    def _replace(uri: str, fill: Callable[[Path], object]) -> None:
        """Write ``uri`` whole: ``fill`` writes a hidden temporary sibling of its own (one per writer, so threads
        never share one), which then replaces the file; on error the temporary goes and the old file stays."""
        dest = to_path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex}")
        try:
            fill(tmp)
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)

    def write_bytes(self, uri: str, data: bytes) -> None:
        self._replace(uri, lambda tmp: tmp.write_bytes(data))

    def exists(self, uri: str) -> bool:
        return to_path(uri).exists()

    def _files(self, prefix_uri: str, suffix: str) -> list[tuple[str, Path]]:
        """Files under the folder ``prefix_uri`` (an object has nothing under it, as on S3), sorted by URI (the
        order S3 lists keys in)."""
        root = to_path(prefix_uri)
        if not root.is_dir():
            return []
        out = []
        for path in root.rglob("*"):
            rel = path.relative_to(root)
            if rel.as_posix().endswith(suffix) and path.is_file() and not any(p.startswith(".") for p in rel.parts):
                out.append((join(prefix_uri, rel.as_posix()), path))
        return sorted(out)

    def list(self, prefix_uri: str, suffix: str = "") -> list[str]:
        return [uri for uri, _ in self._files(prefix_uri, suffix)]

    def fingerprints(self, prefix_uri: str, suffix: str = "") -> dict[str, str]:
        return {uri: "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
                for uri, path in self._files(prefix_uri, suffix)}

    def copy(self, src_uri: str, dest_uri: str) -> None:
        self._replace(dest_uri, lambda tmp: shutil.copyfile(to_path(src_uri), tmp))

    def download(self, uri: str, path: str | os.PathLike[str]) -> None:
        shutil.copyfile(to_path(uri), path)

    def upload(self, path: str | os.PathLike[str], uri: str) -> None:
        self._replace(uri, lambda tmp: shutil.copyfile(path, tmp))

    @contextlib.contextmanager
    def local_file(self, uri: str) -> Iterator[Path]:
        yield to_path(uri)

    def clear_partition(self, partition_uri: str) -> None:
        root = to_path(partition_uri)
        (root / SUCCESS_MARKER).unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)

    def commit_partition(self, partition_uri: str) -> None:
        self.write_bytes(join(partition_uri, SUCCESS_MARKER), b"")
