"""mlpipe.services.s3_storage: S3Storage against the in-process moto server (tests/aws/conftest.py), through the
Airflow connection as the tasks use it. Every write (PutObject, CopyObject, upload, multipart included) carries
SSE-KMS with the configured key, checked on the request (botocore's params) and on the stored object (HeadObject);
listing, partitions and errors behave as LocalStorage's (tests/unit/services/test_storage.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import pytest
from botocore_shapes import record_calls
from mlpipe.lake import SUCCESS_MARKER
from mlpipe.services import storage_for
from mlpipe.services.s3_storage import S3Storage
from mlpipe.services.storage import join

from tests.aws.moto_harness import REGION, RecordingMotoServer, base_env, client

BUCKET = "lake-bucket"
ROOT = f"s3://{BUCKET}/lake"
SSE_WRITES = {"PutObject", "CopyObject", "CreateMultipartUpload"}


@pytest.fixture
def moto_s3(moto_server: RecordingMotoServer, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """An empty moto with the lake bucket and a KMS key; the Airflow connection points at the server."""
    moto_server.reset()
    for key, value in base_env(moto_server).items():
        monkeypatch.setenv(key, value)
    s3 = client(moto_server, "s3")
    s3.create_bucket(Bucket=BUCKET)
    key_arn = client(moto_server, "kms").create_key(Description="lake key")["KeyMetadata"]["Arn"]
    return s3, key_arn


@pytest.fixture
def storage(moto_s3) -> S3Storage:
    return S3Storage("aws_default", REGION, moto_s3[1])


def head(moto_s3, uri: str) -> dict[str, Any]:
    key = uri.removeprefix(f"s3://{BUCKET}/")
    return moto_s3[0].head_object(Bucket=BUCKET, Key=key)


def assert_kms(moto_s3, uri: str) -> None:
    got = head(moto_s3, uri)
    assert (got.get("ServerSideEncryption"), got.get("SSEKMSKeyId")) == ("aws:kms", moto_s3[1]), uri


def sse_of_writes(calls: list[tuple[str, str, dict]]) -> list[tuple[str, str | None, str | None]]:
    return [(op, p.get("ServerSideEncryption"), p.get("SSEKMSKeyId")) for s, op, p in calls if op in SSE_WRITES]


# ---- every write encrypted with the configured key --------------------------------------------------------------


def test_every_write_carries_sse_kms_with_the_configured_key(storage, moto_s3, tmp_path):
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(b"x" * 100)
    large.write_bytes(b"y" * (9 * 1024 * 1024))  # above boto3's 8 MB multipart threshold
    with record_calls() as calls:
        storage.write_bytes(join(ROOT, "a.bin"), b"a")
        storage.write_json(join(ROOT, "d.json"), {"k": 1})
        storage.write_text(join(ROOT, "t.txt"), "t")
        storage.write_parquet(join(ROOT, "p.parquet"), pd.DataFrame({"x": [1]}))
        storage.copy(join(ROOT, "a.bin"), join(ROOT, "copied", "a.bin"))
        storage.upload(small, join(ROOT, "up", "small.bin"))
        storage.upload(large, join(ROOT, "up", "large.bin"))
        storage.commit_partition(join(ROOT, "part"))
    writes = sse_of_writes(calls)
    assert [op for op, _, _ in writes] == ["PutObject"] * 4 + ["CopyObject", "PutObject", "CreateMultipartUpload",
                                                                "PutObject"]
    assert all((sse, key) == ("aws:kms", moto_s3[1]) for _, sse, key in writes), writes
    for rel in ("a.bin", "d.json", "t.txt", "p.parquet", "copied/a.bin", "up/small.bin", "up/large.bin",
                f"part/{SUCCESS_MARKER}"):
        assert_kms(moto_s3, join(ROOT, rel))
    assert storage.read_bytes(join(ROOT, "up", "large.bin")) == large.read_bytes()


def test_without_a_key_writes_are_sse_s3(moto_s3):
    storage = S3Storage("aws_default", REGION, None)
    with record_calls() as calls:
        storage.write_bytes(join(ROOT, "a.bin"), b"a")
    assert sse_of_writes(calls) == [("PutObject", "AES256", None)]
    assert head(moto_s3, join(ROOT, "a.bin"))["ServerSideEncryption"] == "AES256"


def test_storage_for_the_aws_config_uses_its_kms_key(moto_s3, monkeypatch):
    from mlpipe.config import load_config

    monkeypatch.setenv("PIPELINE_ENV", "aws-dev")
    monkeypatch.setenv("MLPIPE__AWS__KMS_KEY_ARN", moto_s3[1])
    storage = storage_for(load_config())
    assert isinstance(storage, S3Storage)
    storage.write_json(join(ROOT, "from-config.json"), {"ok": True})
    assert_kms(moto_s3, join(ROOT, "from-config.json"))


# ---- reads ------------------------------------------------------------------------------------------------------


def test_round_trips(storage, tmp_path):
    storage.write_json(join(ROOT, "d.json"), {"b": [1, 2], "a": "x"})
    storage.write_text(join(ROOT, "t.txt"), "héllo")
    assert storage.read_json(join(ROOT, "d.json")) == {"a": "x", "b": [1, 2]}
    assert storage.read_text(join(ROOT, "t.txt")) == "héllo"
    assert storage.exists(join(ROOT, "d.json")) and not storage.exists(join(ROOT, "nope.json"))
    storage.download(join(ROOT, "t.txt"), tmp_path / "t.txt")
    assert (tmp_path / "t.txt").read_text() == "héllo"
    with storage.local_file(join(ROOT, "t.txt")) as path:
        assert path.read_text() == "héllo"
        kept = path
    assert not kept.exists(), "the temporary copy goes with the block"


def test_parquet_round_trip_in_the_given_order(storage):
    a, b = pd.DataFrame({"id": [1, 2], "v": [0.5, 1.5]}), pd.DataFrame({"id": [3], "v": [2.5]})
    storage.write_parquet(join(ROOT, "p", "a.parquet"), a)
    storage.write_parquet(join(ROOT, "p", "b.parquet"), b)
    got = storage.read_parquet([join(ROOT, "p", "b.parquet"), join(ROOT, "p", "a.parquet")])
    pd.testing.assert_frame_equal(got, pd.concat([b, a], ignore_index=True))


def test_a_missing_object_is_file_not_found(storage, tmp_path):
    """As on the local stack, so a caller handles a missing object once for both."""
    with pytest.raises(FileNotFoundError, match="s3://lake-bucket/lake/missing.json"):
        storage.read_json(join(ROOT, "missing.json"))
    with pytest.raises(FileNotFoundError, match="s3://lake-bucket/lake/missing.json"):
        storage.download(join(ROOT, "missing.json"), tmp_path / "x")


# ---- listing ----------------------------------------------------------------------------------------------------

TREE = ("dt=1/part-0.parquet", "dt=1/sub/part-1.parquet", "dt=1/_SUCCESS", "dt=1/.part-2.parquet.tmp",
        "dt=1/.hidden/part-3.parquet", "dt=10/part-0.parquet", "dt=1-b/part-0.parquet", "other.json")


@pytest.fixture
def tree(storage) -> str:
    for rel in TREE:
        storage.write_bytes(join(ROOT, rel), rel.encode())
    return ROOT


def test_list_is_recursive_sorted_and_skips_hidden_entries(storage, tree):
    assert storage.list(join(tree, "dt=1")) == [join(tree, "dt=1", rel) for rel in
                                                ("_SUCCESS", "part-0.parquet", "sub/part-1.parquet")]
    assert storage.list(join(tree, "dt=1"), ".parquet") == [join(tree, "dt=1", rel) for rel in
                                                            ("part-0.parquet", "sub/part-1.parquet")]
    everything = storage.list(tree)
    assert everything == sorted(everything) and len(everything) == 6


def test_list_of_dt_1_never_returns_dt_10(storage, tree):
    assert all("/dt=1/" in uri for uri in storage.list(join(tree, "dt=1")))
    assert storage.list(join(tree, "dt=10")) == [join(tree, "dt=10", "part-0.parquet")]
    assert storage.list(join(tree, "dt=10") + "/") == storage.list(join(tree, "dt=10"))


def test_list_of_a_missing_folder_or_of_an_object_is_empty(storage, tree):
    assert storage.list(join(tree, "nowhere")) == []
    assert storage.list(join(tree, "other.json")) == []


def test_list_of_the_bucket(storage, tree):
    assert storage.list(f"s3://{BUCKET}") == storage.list(tree)


def test_fingerprints_are_the_etags(storage, tree):
    prints = storage.fingerprints(join(tree, "dt=1"), ".parquet")
    assert list(prints) == storage.list(join(tree, "dt=1"), ".parquet")
    for uri, etag in prints.items():  # single-part uploads: the ETag is the content's MD5
        assert etag == "etag:" + hashlib.md5(storage.read_bytes(uri)).hexdigest()


# ---- partitions -------------------------------------------------------------------------------------------------


def test_clear_partition_deletes_success_first_then_the_rest(storage, tree, monkeypatch):
    monkeypatch.setattr("mlpipe.services.s3_storage.DELETE_BATCH", 2)
    part = join(tree, "dt=1")
    with record_calls() as calls:
        storage.clear_partition(part)
    deletes = [(op, p) for s, op, p in calls if op in ("DeleteObject", "DeleteObjects")]
    first_op, first = deletes[0]
    assert (first_op, first.get("Key")) == ("DeleteObject", f"lake/dt=1/{SUCCESS_MARKER}"), \
        "the marker goes alone, before any data: a reader never sees a half-deleted partition as complete"
    rest = [o["Key"] for op, p in deletes[1:] for o in p["Delete"]["Objects"]]
    assert sorted(rest) == sorted(f"lake/{rel}" for rel in TREE if rel.startswith("dt=1/") and SUCCESS_MARKER not in rel)
    assert all(len(p["Delete"]["Objects"]) <= 2 for op, p in deletes[1:])
    left = {o["Key"] for o in storage.client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert left == {f"lake/{rel}" for rel in TREE if not rel.startswith("dt=1/")}, "dt=10 and dt=1-b stay"


def test_clear_and_commit_a_partition(storage, tree):
    part = join(tree, "dt=10")
    storage.clear_partition(part)
    assert storage.list(part) == []
    storage.clear_partition(join(tree, "never-written"))  # nothing to clear is fine
    storage.write_bytes(join(part, "part-0.parquet"), b"new")
    storage.commit_partition(part)
    assert storage.list(part) == [join(part, SUCCESS_MARKER), join(part, "part-0.parquet")]
    assert storage.read_bytes(join(part, SUCCESS_MARKER)) == b""
