"""Lake file operations through Hadoop's FileSystem API: the same code for file:// (local) and s3:// (EMRFS).

Spark writes the Parquet; these move whole directories into place, write small text files (result.json,
report.html) and list partitions. On a local filesystem checksum side files (.crc) are not written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pyspark.sql import SparkSession


@dataclass(frozen=True)
class Entry:
    name: str
    uri: str
    is_dir: bool


class LakeFS:
    def __init__(self, spark: SparkSession):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _fs(self, uri: str):  # noqa: ANN202 (a py4j proxy)
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        fs = path.getFileSystem(self._conf)
        if fs.getScheme() == "file":
            fs.setWriteChecksum(False)
            fs.setVerifyChecksum(False)
        return fs, path

    def exists(self, uri: str) -> bool:
        fs, path = self._fs(uri)
        return bool(fs.exists(path))

    def is_committed(self, uri: str) -> bool:
        """A partition directory is complete when it holds _SUCCESS."""
        return self.exists(uri.rstrip("/") + "/_SUCCESS")

    def delete(self, uri: str) -> None:
        fs, path = self._fs(uri)
        if fs.exists(path):
            fs.delete(path, True)

    def mkdirs(self, uri: str) -> None:
        fs, path = self._fs(uri)
        fs.mkdirs(path)

    def list(self, uri: str) -> list[Entry]:
        """Children of a directory, sorted by name ([] when it does not exist)."""
        fs, path = self._fs(uri)
        if not fs.exists(path):
            return []
        base = uri.rstrip("/")
        out = [Entry(s.getPath().getName(), f"{base}/{s.getPath().getName()}", bool(s.isDirectory()))
               for s in fs.listStatus(path)]
        return sorted(out, key=lambda e: e.name)

    def files(self, uri: str, recursive: bool = True) -> list[str]:
        """Data files under a directory (hidden and _ names skipped, as Spark does), sorted."""
        out: list[str] = []
        for entry in self.list(uri):
            if entry.name.startswith((".", "_")):
                continue
            if entry.is_dir:
                if recursive:
                    out.extend(self.files(entry.uri, True))
            else:
                out.append(entry.uri)
        return sorted(out)

    def rename(self, src: str, dst: str) -> None:
        fs, path = self._fs(src)
        target = self._jvm.org.apache.hadoop.fs.Path(dst)
        fs.mkdirs(target.getParent())
        if not fs.rename(path, target):
            raise OSError(f"could not move {src} to {dst}")

    def replace_dir(self, src: str, dst: str) -> None:
        """Put directory ``src`` at ``dst``, replacing what was there (old one moved aside, then deleted)."""
        old = None
        if self.exists(dst):
            old = self.sibling(dst, "old")
            self.rename(dst, old)
        self.rename(src, dst)
        if old:
            self.delete(old)

    def sibling(self, uri: str, what: str) -> str:
        """A hidden, unique path next to ``uri`` (readers skip names starting with '.')."""
        parent, name = uri.rstrip("/").rsplit("/", 1)
        return f"{parent}/.{name}.{what}-{uuid.uuid4().hex[:8]}"

    def clean_siblings(self, uri: str) -> None:
        """Remove temporaries a crashed run left next to ``uri``."""
        parent, name = uri.rstrip("/").rsplit("/", 1)
        for entry in self.list(parent):
            if entry.name.startswith(f".{name}.tmp-") or entry.name.startswith(f".{name}.old-"):
                self.delete(entry.uri)

    def write_text(self, uri: str, text: str) -> None:
        fs, path = self._fs(uri)
        out = fs.create(path, True)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()

    def read_text(self, uri: str) -> str:
        fs, path = self._fs(uri)
        stream = fs.open(path)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode("utf-8")
        finally:
            stream.close()

    def first_line(self, uri: str) -> str:
        """The first line of a text file (a CSV header), read without loading the file."""
        fs, path = self._fs(uri)
        io = self._jvm.java.io
        reader = io.BufferedReader(io.InputStreamReader(fs.open(path), "UTF-8"))
        try:
            line = reader.readLine()
        finally:
            reader.close()
        return (line or "").lstrip("\ufeff").rstrip("\r")
