"""mlpipe.services.storage: split_s3_uri, and LocalStorage (file://) behind the one Storage interface.

S3Storage has the same tests against moto in tests/aws/test_s3_storage.py.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pandas as pd
import pytest
from mlpipe.config import load_config
from mlpipe.lake import SUCCESS_MARKER, to_path
from mlpipe.services import storage_for
from mlpipe.services.storage import LocalStorage, join, split_s3_uri


@pytest.fixture
def root(tmp_path: Path) -> str:
    return (tmp_path / "lake").as_uri()


@pytest.fixture
def storage() -> LocalStorage:
    return LocalStorage()


def files_under(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


# ---- URIs -------------------------------------------------------------------------------------------------------


def test_split_s3_uri():
    assert split_s3_uri("s3://bucket/a/b.json") == ("bucket", "a/b.json")
    assert split_s3_uri("s3://bucket") == ("bucket", "")
    assert split_s3_uri("s3://bucket/") == ("bucket", "")
    for bad in ("file:///x", "bucket/key", "s3:/bucket/key", "s3:///key"):
        with pytest.raises(ValueError, match=r"not an s3:// URI|no bucket"):
            split_s3_uri(bad)


def test_join_adds_one_slash():
    assert join("s3://b/lake/", "bronze", "x") == "s3://b/lake/bronze/x"
    assert join("file:///l", "a") == "file:///l/a"


def test_the_local_config_gets_local_storage(monkeypatch):
    monkeypatch.setenv("PIPELINE_ENV", "local")
    assert isinstance(storage_for(load_config()), LocalStorage)


# ---- writes -----------------------------------------------------------------------------------------------------


def test_writes_create_the_folders_and_leave_no_temporary(storage, root, tmp_path):
    uri = join(root, "a", "b", "doc.json")
    storage.write_json(uri, {"b": 1, "a": [1, 2]})
    storage.write_json(uri, {"b": 2})  # replaced whole
    storage.write_text(join(root, "t.txt"), "héllo")
    storage.write_bytes(join(root, "raw.bin"), b"\x00\x01")
    assert files_under(tmp_path / "lake") == ["a/b/doc.json", "raw.bin", "t.txt"]
    assert storage.read_json(uri) == {"b": 2}
    assert to_path(uri).read_text() == json.dumps({"b": 2}, indent=2, sort_keys=True)
    assert storage.read_text(join(root, "t.txt")) == "héllo"
    assert storage.read_bytes(join(root, "raw.bin")) == b"\x00\x01"


def test_json_writes_dates_and_other_objects_as_strings(storage, root):
    import datetime as dt

    uri = join(root, "d.json")
    storage.write_json(uri, {"when": dt.date(2026, 11, 1)})
    assert storage.read_json(uri) == {"when": "2026-11-01"}


def test_a_failed_write_keeps_the_old_object_and_leaves_no_temporary(storage, root, tmp_path, monkeypatch):
    uri = join(root, "doc.json")
    storage.write_json(uri, {"v": 1})

    def fail(self, target):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        storage.write_json(uri, {"v": 2})
    with pytest.raises(OSError, match="disk full"):
        storage.upload(to_path(uri), join(root, "copy.json"))
    monkeypatch.undo()
    assert storage.read_json(uri) == {"v": 1}
    assert [p.name for p in (tmp_path / "lake").iterdir()] == ["doc.json"]


def test_concurrent_writers_of_one_uri_never_mix_their_bytes(storage, root):
    """Threads of one process (the local endpoint's capture, parallel tasks in one worker) each write through
    a temporary of their own: the object ends up as one writer's bytes, whole."""
    uri = join(root, "shared.bin")
    payloads = [bytes([i]) * 2_000_000 for i in range(8)]
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            storage.write_bytes(uri, data)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    for _ in range(5):
        threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert storage.read_bytes(uri) in payloads
    assert storage.list(root) == [uri]


# ---- listing ----------------------------------------------------------------------------------------------------


@pytest.fixture
def tree(storage, root) -> str:
    for rel in ("dt=1/part-0.parquet", "dt=1/sub/part-1.parquet", "dt=1/_SUCCESS", "dt=1/.part-2.parquet.tmp",
                "dt=1/.hidden/part-3.parquet", "dt=10/part-0.parquet", "dt=1-b/part-0.parquet", "other.json"):
        storage.write_bytes(join(root, *rel.split("/")), rel.encode())
    return root


def test_list_is_recursive_sorted_and_skips_hidden_entries(storage, tree):
    assert storage.list(join(tree, "dt=1")) == [join(tree, "dt=1", rel) for rel in
                                                ("_SUCCESS", "part-0.parquet", "sub/part-1.parquet")]
    assert storage.list(join(tree, "dt=1"), ".parquet") == [join(tree, "dt=1", rel) for rel in
                                                            ("part-0.parquet", "sub/part-1.parquet")]


def test_list_of_a_partition_never_returns_a_sibling_with_the_same_prefix(storage, tree):
    assert all("/dt=1/" in uri for uri in storage.list(join(tree, "dt=1")))
    assert storage.list(join(tree, "dt=10")) == [join(tree, "dt=10", "part-0.parquet")]


def test_list_is_sorted_as_uris_whatever_the_names(storage, tree):
    """The order S3 lists in (by key), so a stack never sees files in another order than the other."""
    everything = storage.list(tree)
    assert everything == sorted(everything)
    assert len(everything) == 6


def test_list_of_a_missing_folder_or_of_an_object_is_empty(storage, tree):
    """Only what is *under* the prefix, as on S3 (where an object has nothing under it)."""
    assert storage.list(join(tree, "nowhere")) == []
    assert storage.list(join(tree, "other.json")) == []


def test_trailing_slashes_do_not_matter(storage, tree):
    assert storage.list(join(tree, "dt=10") + "/") == storage.list(join(tree, "dt=10"))


def test_fingerprints_are_sha256_of_the_content(storage, tree):
    prints = storage.fingerprints(join(tree, "dt=1"), ".parquet")
    assert list(prints) == storage.list(join(tree, "dt=1"), ".parquet")
    for uri, digest in prints.items():
        assert digest == "sha256:" + hashlib.sha256(storage.read_bytes(uri)).hexdigest()
    before = prints[join(tree, "dt=1", "part-0.parquet")]
    storage.write_bytes(join(tree, "dt=1", "part-0.parquet"), b"changed")
    assert storage.fingerprints(join(tree, "dt=1"), ".parquet")[join(tree, "dt=1", "part-0.parquet")] != before


def test_exists(storage, tree):
    assert storage.exists(join(tree, "other.json"))
    assert not storage.exists(join(tree, "missing.json"))


def test_a_missing_object_is_file_not_found(storage, root, tmp_path):
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(join(root, "missing.json"))
    with pytest.raises(FileNotFoundError):
        storage.download(join(root, "missing.json"), tmp_path / "x")


# ---- copies -----------------------------------------------------------------------------------------------------


def test_copy_upload_download(storage, root, tmp_path):
    src = join(root, "a", "src.bin")
    storage.write_bytes(src, b"payload")
    storage.copy(src, join(root, "b", "c", "dest.bin"))
    assert storage.read_bytes(join(root, "b", "c", "dest.bin")) == b"payload"
    local = tmp_path / "local.bin"
    local.write_bytes(b"from disk")
    storage.upload(local, join(root, "up", "local.bin"))
    storage.download(join(root, "up", "local.bin"), tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == b"from disk"
    assert files_under(tmp_path / "lake") == ["a/src.bin", "b/c/dest.bin", "up/local.bin"]


def test_local_file_is_the_file_itself(storage, root):
    uri = join(root, "x.txt")
    storage.write_text(uri, "x")
    with storage.local_file(uri) as path:
        assert path == to_path(uri) and path.read_text() == "x"
    assert storage.exists(uri), "the lake's own file is never removed"


# ---- Parquet ----------------------------------------------------------------------------------------------------


def test_parquet_round_trip_in_the_given_order(storage, root):
    a = pd.DataFrame({"id": [1, 2], "v": [0.5, 1.5]})
    b = pd.DataFrame({"id": [3], "v": [2.5]})
    storage.write_parquet(join(root, "p", "b.parquet"), b)
    storage.write_parquet(join(root, "p", "a.parquet"), a)
    uris = [join(root, "p", "b.parquet"), join(root, "p", "a.parquet")]
    got = storage.read_parquet(uris)
    pd.testing.assert_frame_equal(got, pd.concat([b, a], ignore_index=True))
    assert storage.read_parquet([]).empty


# ---- partitions -------------------------------------------------------------------------------------------------


def test_clear_and_commit_a_partition(storage, tree, tmp_path):
    part = join(tree, "dt=1")
    storage.clear_partition(part)
    assert not to_path(part).exists()
    assert storage.list(join(tree, "dt=10")) == [join(tree, "dt=10", "part-0.parquet")], "the sibling stays"
    storage.write_bytes(join(part, "part-0.parquet"), b"new")
    storage.commit_partition(part)
    assert storage.list(part) == [join(part, SUCCESS_MARKER), join(part, "part-0.parquet")]
    assert storage.read_bytes(join(part, SUCCESS_MARKER)) == b""
    storage.clear_partition(join(tree, "never-written"))  # nothing to clear is fine


def test_clear_partition_removes_the_marker_before_the_data(storage, tree, monkeypatch):
    """A reader that sees the partition half removed never sees it as complete."""
    import shutil

    part = join(tree, "dt=1")
    seen = []
    real_rmtree = shutil.rmtree

    def watching_rmtree(path, *args, **kwargs):
        seen.append((to_path(part) / SUCCESS_MARKER).exists())
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", watching_rmtree)
    storage.clear_partition(part)
    assert seen == [False]
