"""tasks/deployment_aws.py on the moto server: the transform job's input staged from the gold partition, and
which attempt of the transform job a run uses."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
from mlpipe.services.storage import split_s3_uri

from tests.aws import moto_harness as h


def _gold(aws_stack, rows: list[dict]) -> str:
    from mlpipe.lake import LakeLayout
    from mlpipe.services import storage_for

    cfg = aws_stack.cfg
    partition = LakeLayout.from_config(cfg).gold(cfg.features.gold.name, h.DS)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    storage_for(cfg).write_bytes(f"{partition}/part-00000.parquet", buf.getvalue())
    return partition


def test_the_transform_input_is_the_scoring_rows_without_the_label_as_json_lines(aws_stack):
    from mlpipe.services import storage_for
    from mlpipe.tasks.deployment_aws import prepare_transform_input, transform_input_prefix

    cfg = aws_stack.cfg
    rows = [{"customer_id": i, "as_of": "2026-11-01", "split": "score" if i % 2 else "train",
             "tenure_days": 10 * i, "churned": i % 3 == 0} for i in range(6)]
    resolved = {"ds": h.DS, "gold_partition": _gold(aws_stack, rows)}
    storage = storage_for(cfg)
    stale = f"{transform_input_prefix(cfg, h.DS)}/stale.jsonl"
    storage.write_bytes(stale, b"{}\n")                         # an earlier attempt's input
    out = prepare_transform_input(resolved, cfg)
    assert out == {"input": f"{transform_input_prefix(cfg, h.DS)}/", "rows": 3}
    assert storage.list(out["input"]) == [f"{out['input']}scoring.jsonl"]
    lines = [json.loads(line) for line in storage.read_text(f"{out['input']}scoring.jsonl").splitlines()]
    assert lines == [{k: v for k, v in r.items() if k != "churned"} for r in rows if r["split"] == "score"]
    bucket, key = split_s3_uri(f"{out['input']}scoring.jsonl")
    head = h.client(aws_stack.server, "s3").head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == cfg.aws.kms_key_arn


def test_a_run_without_a_transform_job_starts_the_first_attempt(aws_stack):
    from mlpipe.tasks.deployment_aws import find_transform_job

    resolved = {"names": {"transform_job": "ml-deployment-20261101-abc123"}}
    assert find_transform_job(resolved, aws_stack.cfg) == {"name": "ml-deployment-20261101-abc123",
                                                           "action": "start"}
