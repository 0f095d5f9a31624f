"""ml_deployment's stack-agnostic task bodies: which version to deploy, the names, and the smoke test.

- ``resolve_version``: the version a run deploys. A triggering ``model.<group>`` event that carries an Approved
  version deploys that one; an event for a version that is not Approved (registered as
  PendingManualApproval) skips the run with the reason (approve it, then trigger ml_deployment); a run with
  no event (triggered by hand after ``make approve``) deploys the newest Approved version and fails with
  :class:`MlPipeError` when there is none. Only Approved versions are ever deployed (the stack's registry
  checks it again: local ``LocalModelRegistry.require_deployable``, aws ``DescribeModelPackage``).
- The SageMaker names (model, endpoint config, transform job) are ``mlpipe.naming.job_name`` of the date and a
  hash of the model package and the deployment section: a retried task derives the same names.
- ``smoke_test``: the configured sample requests (and ``gold_rows`` scoring rows of the gold partition, as
  JSON records) through boto3 ``sagemaker-runtime`` ``invoke_endpoint``; each must answer 200 with one finite
  score in [0, 1] per row.

Lake paths: ``predictions/dt=<ds>/`` (batch), ``capture/<endpoint>/<variant>/...`` (data capture),
``deployment/<endpoint>/dt=<ds>/deployment.json`` (what was deployed).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from typing import Any

from mlpipe.config import PipelineConfig, config_hash, load_config
from mlpipe.dagkit import lake
from mlpipe.errors import MlPipeError
from mlpipe.naming import job_name

log = logging.getLogger(__name__)

DAG_ID = "ml_deployment"
RESOLVE_TASK_ID = "resolve_version"
SPLIT_COLUMN = "split"
SCORE_SPLIT = "score"
APPROVED = "Approved"


class SmokeTestError(MlPipeError):
    """The endpoint did not answer the smoke test's requests with valid predictions."""


# ---- paths ---------------------------------------------------------------------------------------------------


def gold_partition(cfg: PipelineConfig, ds: str) -> str:
    return f"{lake(cfg).root}/gold/{cfg.features.gold.name}/dt={ds}"


def predictions_partition(cfg: PipelineConfig, ds: str) -> str:
    return f"{lake(cfg).root}/predictions/dt={ds}"


def capture_root(cfg: PipelineConfig) -> str:
    """The capture destination (SageMaker's DestinationS3Uri); files land in ``<root>/<endpoint>/<variant>/``."""
    return cfg.deployment.data_capture.destination or f"{lake(cfg).root}/capture"


def record_uri(cfg: PipelineConfig, ds: str) -> str:
    return f"{lake(cfg).root}/deployment/{cfg.deployment.endpoint_name}/dt={ds}/deployment.json"


# ---- which version --------------------------------------------------------------------------------------------


def event_versions(triggering_asset_events: Any) -> list[dict[str, Any]]:
    """The ``extra`` of every triggering model event that names a version, oldest first."""
    out = []
    for _asset, events in dict(triggering_asset_events or {}).items():
        for e in events:
            extra = dict(getattr(e, "extra", None) or {})
            if extra.get("version") is not None:
                out.append(extra)
    return sorted(out, key=lambda x: int(x["version"]))


def choose_version(events: list[dict[str, Any]]) -> tuple[int | None, str | None]:
    """``(version, skip_reason)``: the newest event's version if Approved; a reason to skip if it is not;
    ``(None, None)`` without events (deploy the newest Approved version)."""
    if not events:
        return None, None
    newest = events[-1]
    version, status = int(newest["version"]), str(newest.get("status", ""))
    if status and status != APPROVED:
        return None, (f"version {version} was registered as {status}; only Approved versions are deployed. "
                      f"Approve it (local: make approve VERSION={version}; aws: UpdateModelPackage "
                      f"ModelApprovalStatus=Approved), then trigger ml_deployment")
    return version, None


def run_date(logical_date: Any, events: list[dict[str, Any]]) -> str:
    """The run's date: the logical date, else the newest event's ``ds``, else today (UTC)."""
    if logical_date is not None:
        return logical_date.strftime("%Y-%m-%d") if hasattr(logical_date, "strftime") else str(logical_date)[:10]
    dates = [str(e["ds"]) for e in events if e.get("ds")]
    return max(dates) if dates else dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


def names(cfg: PipelineConfig, ds: str, package_arn: str) -> dict[str, str]:
    """Deterministic, retry-safe SageMaker names for deploying ``package_arn`` on ``ds``."""
    d = cfg.deployment
    h_model = config_hash(package_arn, d.execution_role_arn, d.enable_network_isolation,
                          cfg.aws.model_dump(mode="json") if cfg.aws else None)
    h_config = config_hash(h_model, d.instance_type, d.instance_count, d.variant_name, d.data_capture, d.kms_key_arn)
    h_transform = config_hash(h_model, d.transform, lake(cfg).root)
    return {"model": job_name("model", DAG_ID, ds, h_model),
            "endpoint_config": job_name("endpoint_config", DAG_ID, ds, h_config),
            "transform_job": job_name("transform_job", DAG_ID, ds, h_transform),
            "endpoint": d.endpoint_name}


def resolve_version(cfg: PipelineConfig | None = None, *, triggering_asset_events: Any = None,
                    logical_date: Any = None) -> dict[str, Any]:
    """Task body of ``resolve_version``: the Approved version to deploy, the date and the names."""
    cfg = cfg or load_config()
    events = event_versions(triggering_asset_events)
    version, skip = choose_version(events)
    if skip:
        from airflow.exceptions import AirflowSkipException

        log.warning("%s", skip)
        raise AirflowSkipException(skip)
    from mlpipe.stacks import get_stack

    package = get_stack(cfg).deployment.approved_package(version)
    ds = run_date(logical_date, events)
    out = {**package, "ds": ds, "names": names(cfg, ds, package["arn"]),
           "gold_partition": gold_partition(cfg, ds), "predictions": predictions_partition(cfg, ds)}
    log.info("deploying %s version %s (%s) for %s", package["group"], package["version"], package["arn"], ds)
    return out


# ---- the smoke test -------------------------------------------------------------------------------------------


def gold_records(cfg: PipelineConfig, partition_uri: str, n: int, seed: int | None = None) -> list[dict[str, Any]]:
    """Up to ``n`` scoring rows of the gold partition as JSON records (no label, no id/time columns): the first
    ``n`` rows, or with ``seed`` a uniform random sample of all of them (gold files are ordered by key, so the
    first rows are the oldest customers, not a picture of the population)."""
    if n <= 0:
        return []
    if seed is None:
        table = read_scoring_rows(cfg, partition_uri, limit=n)
    else:
        import numpy as np

        table = read_scoring_rows(cfg, partition_uri)
        if table.num_rows > n:
            table = table.take(np.sort(np.random.default_rng(seed).choice(table.num_rows, n, replace=False)))
    drop = {cfg.training.label, *cfg.training.id_columns}
    rows = table.select([c for c in table.column_names if c not in drop]).to_pylist()
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} for r in rows]


def read_scoring_rows(cfg: PipelineConfig, partition_uri: str, limit: int | None = None) -> Any:
    """The gold partition's rows to score (``split == 'score'`` when the table has a split column), a pyarrow
    Table. Local partitions are read in place; S3 ones through boto3 (the stack's storage)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from mlpipe.lake import to_path

    if partition_uri.startswith("s3://"):
        import tempfile
        from pathlib import Path

        from mlpipe.stacks import get_stack

        storage = get_stack(cfg).storage()
        keys = [o["Key"] for o in storage.list(partition_uri.rstrip("/") + "/") if o["Key"].endswith(".parquet")]
        if not keys:
            raise MlPipeError(f"no Parquet files under {partition_uri}; run ml_features for that date first")
        bucket = partition_uri[len("s3://"):].split("/", 1)[0]
        tmp = Path(tempfile.mkdtemp(prefix="mlpipe-gold-"))
        files = []
        for i, key in enumerate(sorted(keys)):
            files.append(tmp / f"{i:05d}.parquet")
            storage.download(f"s3://{bucket}/{key}", str(files[-1]))
    else:
        root = to_path(partition_uri)
        if not root.is_dir():
            raise MlPipeError(f"gold partition {root} does not exist; run ml_features for that date first")
        files = sorted(p for p in root.rglob("*.parquet")
                       if not any(part.startswith((".", "_")) for part in p.relative_to(root).parts))
    tables = []
    got = 0
    for f in files:
        t = pq.read_table(f)
        if SPLIT_COLUMN in t.column_names:
            t = t.filter(pc.equal(t[SPLIT_COLUMN], SCORE_SPLIT))
        tables.append(t)
        got += t.num_rows
        if limit is not None and got >= limit:
            break
    if not tables:
        raise MlPipeError(f"no Parquet files in the gold partition {partition_uri}")
    out = pa.concat_tables(tables, promote_options="default")
    return out.slice(0, limit) if limit is not None else out


def smoke_requests(cfg: PipelineConfig, gold_partition_uri: str | None) -> list[tuple[str, bytes, int]]:
    """``(content_type, body, rows)`` of every smoke-test request."""
    st = cfg.deployment.smoke_test
    out = [(r.content_type, r.body.encode(), _rows(r.content_type, r.body)) for r in st.requests]
    if st.gold_rows and gold_partition_uri:
        records = gold_records(cfg, gold_partition_uri, st.gold_rows)
        if not records:
            raise SmokeTestError(f"the gold partition {gold_partition_uri} has no scoring rows for the smoke test")
        out.append(("application/json", json.dumps({"instances": records}, default=str).encode(), len(records)))
    if not out:
        raise SmokeTestError("nothing to send: set deployment.smoke_test.requests or gold_rows")
    return out


def _rows(content_type: str, body: str) -> int:
    if content_type == "text/csv":
        return len([ln for ln in body.splitlines() if ln.strip()])
    doc = json.loads(body)
    if isinstance(doc, dict):
        return len(doc["instances"]) if "instances" in doc else 1
    return len(doc) if doc and isinstance(doc[0], (list, dict)) else 1


def check_predictions(body: bytes, rows: int) -> list[float]:
    """The scores of a JSON response; :class:`SmokeTestError` unless there is one finite score in [0, 1] per row."""
    try:
        doc = json.loads(body)
        preds = doc["predictions"]
        scores = [p["score"] if "score" in p else max(p["scores"]) for p in preds]
    except (ValueError, KeyError, TypeError) as exc:
        raise SmokeTestError(f"the response is not {{'predictions': [{{'score': p}}, ...]}}: {body[:200]!r} ({exc})") from None
    if len(scores) != rows:
        raise SmokeTestError(f"{rows} rows sent but {len(scores)} predictions returned")
    bad = [s for s in scores if not (isinstance(s, int | float) and math.isfinite(s) and 0.0 <= s <= 1.0)]
    if bad:
        raise SmokeTestError(f"invalid scores {bad[:5]} (each must be a finite probability in [0, 1])")
    return [float(s) for s in scores]


def run_smoke_test(client: Any, endpoint_name: str, requests: list[tuple[str, bytes, int]]) -> list[float]:
    """Send every request through ``client.invoke_endpoint``; all scores, or :class:`SmokeTestError`."""
    from botocore.exceptions import BotoCoreError, ClientError

    scores: list[float] = []
    for i, (content_type, body, rows) in enumerate(requests):
        try:
            resp = client.invoke_endpoint(EndpointName=endpoint_name, ContentType=content_type,
                                          Accept="application/json", Body=body)
        except (ClientError, BotoCoreError) as exc:
            raise SmokeTestError(f"smoke request {i} ({content_type}, {rows} rows) to {endpoint_name} failed: "
                                 f"{exc}") from None
        try:
            scores += check_predictions(resp["Body"].read(), rows)
        except SmokeTestError as exc:
            raise SmokeTestError(f"smoke request {i} ({content_type}) to {endpoint_name}: {exc}") from None
    return scores


def smoke_test(resolved: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``smoke_test``: the live endpoint answers the sample requests with valid predictions."""
    from mlpipe.stacks import get_stack

    cfg = cfg or load_config()
    name = resolved["names"]["endpoint"]
    client = get_stack(cfg).deployment.runtime_client()
    scores = run_smoke_test(client, name, smoke_requests(cfg, resolved.get("gold_partition")))
    log.info("smoke test of %s (version %s): %d predictions, e.g. %s", name, resolved["version"], len(scores),
             scores[:5])
    return {"endpoint": name, "version": resolved["version"], "predictions": len(scores), "sample": scores[:5]}
