"""ml_deployment's stack-agnostic task bodies: which version to deploy, the names, and the smoke test.

- ``resolve_version``: the version a run deploys. A triggering ``model.<group>`` event that carries an Approved
  version deploys that one; an event for a version that is not Approved (registered as
  PendingManualApproval) skips the run with the reason (approve it, then trigger ml_deployment); a run with
  no event (triggered by hand after ``make approve``) deploys the newest Approved version and fails with
  :class:`MlPipeError` when there is none. Only Approved versions are ever deployed (the registry checks it
  again: ``registry_for(cfg).require_deployable``).
- The SageMaker names (model, endpoint config, transform job) are ``mlpipe.naming.job_name`` of the date and a
  hash of the model package and the deployment section: a retried task derives the same names.
- ``smoke_test``: the configured sample requests (and ``gold_rows`` scoring rows of the gold partition, as
  JSON records) through ``endpoints_for(cfg).runtime_client()`` (boto3 ``sagemaker-runtime``); each must answer
  with one finite score in [0, 1] per row (:mod:`mlpipe.services.endpoint_smoke_test`).

The bodies only one stack runs are in :mod:`mlpipe.tasks.deployment_aws` and :mod:`mlpipe.tasks.deployment_local`.

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
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout
from mlpipe.naming import job_name
from mlpipe.services import endpoints_for, registry_for, storage_for
from mlpipe.services.endpoint_smoke_test import SmokeTestError, configured_requests, run_smoke_test

log = logging.getLogger(__name__)

DAG_ID = "ml_deployment"
RESOLVE_TASK_ID = "resolve_version"
SMOKE_TASK_ID = "smoke_test"
SPLIT_COLUMN = "split"
SCORE_SPLIT = "score"
APPROVED = "Approved"


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
    h_transform = config_hash(h_model, d.transform, LakeLayout.from_config(cfg).root)
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
    group = cfg.training.registry.model_package_group
    package = registry_for(cfg).require_deployable(group, version).to_dict()
    ds = run_date(logical_date, events)
    layout = LakeLayout.from_config(cfg)
    out = {**package, "ds": ds, "names": names(cfg, ds, package["arn"]),
           "gold_partition": layout.gold(cfg.features.gold.name, ds), "predictions": layout.predictions(ds)}
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
    Table, read through the lake's storage."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    storage = storage_for(cfg)
    files = storage.list(partition_uri, ".parquet")
    if not files:
        raise MlPipeError(f"no Parquet files in the gold partition {partition_uri}; run ml_features for that date "
                          f"first")
    tables = []
    got = 0
    for uri in files:
        with storage.local_file(uri) as path:
            t = pq.read_table(path)
        if SPLIT_COLUMN in t.column_names:
            t = t.filter(pc.equal(t[SPLIT_COLUMN], SCORE_SPLIT))
        tables.append(t)
        got += t.num_rows
        if limit is not None and got >= limit:
            break
    out = pa.concat_tables(tables, promote_options="default")
    return out.slice(0, limit) if limit is not None else out


def smoke_requests(cfg: PipelineConfig, gold_partition_uri: str | None) -> list[tuple[str, bytes, int]]:
    """``(content_type, body, rows)`` of every smoke-test request."""
    st = cfg.deployment.smoke_test
    out = configured_requests(st)
    if st.gold_rows and gold_partition_uri:
        records = gold_records(cfg, gold_partition_uri, st.gold_rows)
        if not records:
            raise SmokeTestError(f"the gold partition {gold_partition_uri} has no scoring rows for the smoke test")
        out.append(("application/json", json.dumps({"instances": records}, default=str).encode(), len(records)))
    if not out:
        raise SmokeTestError("nothing to send: set deployment.smoke_test.requests or gold_rows")
    return out


def smoke_test(resolved: dict[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``smoke_test``: the live endpoint answers the sample requests with valid predictions."""
    cfg = cfg or load_config()
    name = resolved["names"]["endpoint"]
    client = endpoints_for(cfg).runtime_client()
    scores = run_smoke_test(client, name, smoke_requests(cfg, resolved.get("gold_partition")))
    log.info("smoke test of %s (version %s): %d predictions, e.g. %s", name, resolved["version"], len(scores),
             scores[:5])
    return {"endpoint": name, "version": resolved["version"], "predictions": len(scores), "sample": scores[:5]}
