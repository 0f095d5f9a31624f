"""The storage service on S3: the Amazon provider's ``S3Hook`` (the Airflow connection), every write
encrypted with the configured KMS key (SSE-S3 when none is configured)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from mlpipe.lake import SUCCESS_MARKER
from mlpipe.services.storage import StorageBase, join, split_s3_uri

DELETE_BATCH = 1000   # DeleteObjects takes at most 1000 keys


class S3Storage(StorageBase):
    def __init__(self, conn_id: str | None, region: str | None, kms_key_arn: str | None) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        self.hook = S3Hook(aws_conn_id=conn_id, region_name=region)
        self.kms_key_arn = kms_key_arn

    @property
    def client(self) -> Any:
        return self.hook.get_conn()

    def sse(self) -> dict[str, str]:
        """SSE-KMS arguments for every PutObject/CopyObject/upload (SSE-S3 when no key is configured)."""
        if self.kms_key_arn:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_arn}
        return {"ServerSideEncryption": "AES256"}

    def read_bytes(self, uri: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        with _not_found_as_file_not_found(uri):
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def write_bytes(self, uri: str, data: bytes) -> None:
        bucket, key = split_s3_uri(uri)
        self.client.put_object(Bucket=bucket, Key=key, Body=data, **self.sse())

    def exists(self, uri: str) -> bool:
        bucket, key = split_s3_uri(uri)
        return self.hook.check_for_key(key, bucket)

    def _objects(self, prefix_uri: str, suffix: str, hidden: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """Objects under the folder ``prefix_uri`` (``.../dt=1`` never matches ``.../dt=10``)."""
        bucket, prefix = split_s3_uri(prefix_uri)
        prefix = prefix.rstrip("/") + "/" if prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        found = []
        for page in pages:
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(prefix):].lstrip("/")
                if obj["Key"].endswith(suffix) and (hidden or not any(p.startswith(".") for p in rel.split("/"))):
                    found.append((f"s3://{bucket}/{obj['Key']}", obj))
        return sorted(found, key=lambda item: item[0])

    def list(self, prefix_uri: str, suffix: str = "") -> list[str]:
        return [uri for uri, _ in self._objects(prefix_uri, suffix)]

    def fingerprints(self, prefix_uri: str, suffix: str = "") -> dict[str, str]:
        return {uri: "etag:" + str(obj.get("ETag", "")).strip('"') for uri, obj in self._objects(prefix_uri, suffix)}

    def copy(self, src_uri: str, dest_uri: str) -> None:
        src_bucket, src_key = split_s3_uri(src_uri)
        bucket, key = split_s3_uri(dest_uri)
        self.client.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": src_bucket, "Key": src_key},
                                **self.sse())

    def download(self, uri: str, path: str | os.PathLike[str]) -> None:
        bucket, key = split_s3_uri(uri)
        with _not_found_as_file_not_found(uri):
            self.client.download_file(bucket, key, str(path))

    def upload(self, path: str | os.PathLike[str], uri: str) -> None:
        bucket, key = split_s3_uri(uri)
        self.client.upload_file(str(path), bucket, key, ExtraArgs=self.sse())

    def clear_partition(self, partition_uri: str) -> None:
        """The ``_SUCCESS`` markers go first, each alone (the keys of one DeleteObjects go in no set order),
        then the rest in batches."""
        bucket, _ = split_s3_uri(partition_uri)
        keys = [obj["Key"] for _, obj in self._objects(partition_uri, "", hidden=True)]
        for marker in [k for k in keys if k.endswith(SUCCESS_MARKER)]:
            self.client.delete_object(Bucket=bucket, Key=marker)
        keys = [k for k in keys if not k.endswith(SUCCESS_MARKER)]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": k} for k in keys[start:start + DELETE_BATCH]]
            self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})

    def commit_partition(self, partition_uri: str) -> None:
        self.write_bytes(join(partition_uri, SUCCESS_MARKER), b"")


@contextlib.contextmanager
def _not_found_as_file_not_found(uri: str) -> Iterator[None]:
    """A missing object raises FileNotFoundError, as on the local stack (GetObject: NoSuchKey; a download's
    HeadObject: 404)."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in {"NoSuchKey", "404", "NotFound"}:
            raise FileNotFoundError(f"no object {uri}") from exc
        raise
