"""Lake objects in S3 through the Airflow connection, every write encrypted with the configured KMS key."""

from __future__ import annotations

import json
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from mlpipe.config import PipelineConfig
from mlpipe.lake import SUCCESS_MARKER


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


class S3Storage:
    def __init__(self, cfg: PipelineConfig) -> None:
        assert cfg.aws is not None
        self.hook = S3Hook(aws_conn_id=cfg.aws.conn_id, region_name=cfg.aws.region)
        self.kms_key_arn = cfg.aws.kms_key_arn

    @property
    def client(self) -> Any:
        return self.hook.get_conn()

    def sse(self) -> dict[str, str]:
        """SSE-KMS arguments for every PutObject/CopyObject (SSE-S3 when no key is configured)."""
        if self.kms_key_arn:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_arn}
        return {"ServerSideEncryption": "AES256"}

    def write_bytes(self, uri: str, body: bytes) -> None:
        bucket, key = split_s3_uri(uri)
        self.client.put_object(Bucket=bucket, Key=key, Body=body, **self.sse())

    def write_json(self, uri: str, doc: dict[str, Any]) -> None:
        self.write_bytes(uri, json.dumps(doc, indent=2, sort_keys=True, default=str).encode())

    def read_json(self, uri: str) -> dict[str, Any]:
        bucket, key = split_s3_uri(uri)
        return json.loads(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def exists(self, uri: str) -> bool:
        bucket, key = split_s3_uri(uri)
        return self.hook.check_for_key(key, bucket)

    def list(self, prefix_uri: str) -> list[dict[str, Any]]:
        """Objects under a prefix: [{'Key', 'Size', 'LastModified'}, ...]."""
        bucket, prefix = split_s3_uri(prefix_uri)
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [obj for page in pages for obj in page.get("Contents", [])]

    def download(self, uri: str, path: str) -> None:
        bucket, key = split_s3_uri(uri)
        self.client.download_file(bucket, key, path)

    def upload(self, path: str, uri: str) -> None:
        bucket, key = split_s3_uri(uri)
        self.client.upload_file(path, bucket, key, ExtraArgs=self.sse())

    def copy(self, src_uri: str, dest_uri: str) -> None:
        src_bucket, src_key = split_s3_uri(src_uri)
        bucket, key = split_s3_uri(dest_uri)
        self.client.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": src_bucket, "Key": src_key},
                                **self.sse())

    def clear_partition(self, partition_uri: str) -> None:
        """Delete a partition's objects, _SUCCESS first, so readers never see a half-replaced partition as done."""
        bucket, prefix = split_s3_uri(partition_uri.rstrip("/") + "/")
        keys = [o["Key"] for o in self.list(f"s3://{bucket}/{prefix}")]
        keys.sort(key=lambda k: not k.endswith(SUCCESS_MARKER))
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start:start + 1000]]
            self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})

    def commit_partition(self, partition_uri: str) -> None:
        self.write_bytes(partition_uri.rstrip("/") + "/" + SUCCESS_MARKER, b"")
