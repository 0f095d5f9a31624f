"""ml_deployment on the local stack with real local endpoints (uvicorn processes on 127.0.0.1):

- blue/green: version 2 replaces version 1 while a client loop keeps calling the live endpoint; no request fails;
- rollback: a broken version fails its smoke test, the task fails with the reason, version 1 keeps serving;
- batch: exactly one prediction per scoring row of the gold partition;
- the version comes from a local registry in a tmp dir (only Approved versions resolve).
"""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout
from mlpipe.local.blue_green import EndpointSpec, deploy, stop_all
from mlpipe.services.endpoint_smoke_test import SmokeTestError, run_smoke_test
from mlpipe.services.local_endpoints import live_url, read_live, runtime_client_for
from mlpipe.tasks.deployment import gold_records
from mlpipe.tasks.deployment_local import batch_transform, model_dir
from serving.testing import DEFAULT_FEATURES, csv_body, frame, make_model_dir, synthetic_features


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"v1": make_model_dir(root / "v1", n_rows=500, num_boost_round=5, seed=1),
            "v2": make_model_dir(root / "v2", n_rows=500, num_boost_round=5, seed=2),
            # trained on other features: the smoke requests (6 features) are a 400 for it
            "broken": make_model_dir(root / "broken", DEFAULT_FEATURES[:3], n_rows=300, num_boost_round=3)}


def _requests() -> list[tuple[str, bytes, int]]:
    return [("text/csv", csv_body(synthetic_features(4, seed=7)), 4)]


def _smoke(spec: EndpointSpec):
    return lambda client: run_smoke_test(client, spec.name, _requests())


@pytest.fixture
def spec(tmp_path):
    from mlpipe.local.endpoint import free_port

    s = EndpointSpec(name="churn-test", run_dir=tmp_path / "run", port=free_port(),
                        capture_dir=tmp_path / "capture", drain_seconds=0.5)
    yield s
    stop_all(s.run_dir, s.name)


def _invoke_live(spec: EndpointSpec, body: bytes) -> int:
    live = read_live(spec.run_dir, spec.name)
    conn = http.client.HTTPConnection("127.0.0.1", live["port"], timeout=5)
    try:
        conn.request("POST", f"/endpoints/{spec.name}/invocations", body=body, headers={"Content-Type": "text/csv"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def test_blue_green_switch_without_failed_requests_then_rollback(models, spec):
    first = deploy(models["v1"], 1, spec, _smoke(spec), arn="local:model-package/g/1")
    assert first["action"] == "created" and first["port"] == spec.port
    assert read_live(spec.run_dir, spec.name)["arn"] == "local:model-package/g/1"  # what monitoring reads
    body = csv_body(synthetic_features(2, seed=3))

    results: list[object] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                results.append(_invoke_live(spec, body))
            except OSError as exc:  # connection refused/reset: a failed request
                results.append(exc)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        second = deploy(models["v2"], 2, spec, _smoke(spec))
        for _ in range(20):
            results.append(_invoke_live(spec, body))
    finally:
        stop.set()
        thread.join(10)
    assert second["action"] == "switched" and second["previous_version"] == 1 and second["port"] != first["port"]
    failed = [r for r in results if r != 200]
    assert len(results) > 20 and not failed, f"{len(failed)} of {len(results)} requests failed: {failed[:3]}"
    from mlpipe.local.endpoint import endpoint_status

    assert endpoint_status(Path(first["pid_file"])).state == "stopped"  # old version stopped after the switch

    # a retry of the same version is a no-op
    assert deploy(models["v2"], 2, spec, _smoke(spec))["action"] == "unchanged"

    # a broken version fails its smoke test; version 2 keeps serving
    with pytest.raises(SmokeTestError, match="version 3 .* failed its smoke test; rolled back: version 2 keeps"):
        deploy(models["broken"], 3, spec, _smoke(spec))
    live = read_live(spec.run_dir, spec.name)
    assert live["version"] == 2 and _invoke_live(spec, body) == 200
    assert not list((spec.run_dir / spec.name / "v3").glob("*.pid"))  # the broken one was stopped

    # the smoke test through boto3 invoke_endpoint on the live endpoint, by name
    scores = run_smoke_test(runtime_client_for(live_url(spec.run_dir, spec.name)), spec.name, _requests())
    assert len(scores) == 4 and all(0 <= s <= 1 for s in scores)


def _gold(tmp: Path, n_train: int, n_score: int) -> Path:
    n = n_train + n_score
    X = synthetic_features(n, seed=5)
    df = frame(X)
    df.insert(0, "customer_id", np.arange(n))
    df.insert(1, "as_of", "2026-11-01")
    df["split"] = ["train"] * n_train + ["score"] * n_score
    df["churned"] = [0] * n_train + [None] * n_score
    part = tmp / "lake" / "gold" / "customer_features" / "dt=2026-11-01"
    part.mkdir(parents=True)
    half = n // 2
    pq.write_table(pa.Table.from_pandas(df.iloc[:half], preserve_index=False), part / "part-0.parquet")
    pq.write_table(pa.Table.from_pandas(df.iloc[half:], preserve_index=False), part / "part-1.parquet")
    return part


def test_batch_transform_one_prediction_per_scoring_row(models, tmp_path, monkeypatch):
    from mlpipe.config import load_config

    monkeypatch.setenv("MLPIPE__LAKE__ROOT", f"file://{tmp_path}/lake")
    cfg = load_config()
    _gold(tmp_path, n_train=300, n_score=1234)
    layout = LakeLayout.from_config(cfg)
    resolved = {"group": "g", "version": 1, "ds": "2026-11-01", "model_uri": str(models["v1"]),
                "gold_partition": layout.gold(cfg.features.gold.name, "2026-11-01"),
                "predictions": layout.predictions("2026-11-01")}
    out = batch_transform(resolved, cfg)
    assert out["rows"] == 1234
    table = pq.read_table(out["output_file"])
    assert table.num_rows == 1234 and "prediction" in table.column_names
    assert set(table["split"].to_pylist()) == {"score"}
    assert sorted(table["customer_id"].to_pylist()) == list(range(300, 1534))
    # the smoke test's gold rows are valid records for the model
    records = gold_records(cfg, resolved["gold_partition"], 3)
    assert len(records) == 3 and set(records[0]) == {f.name for f in DEFAULT_FEATURES}


def test_registry_resolves_only_approved_versions(models, tmp_path, monkeypatch):
    from mlpipe.config import load_config
    from mlpipe.services.local_registry import LocalModelRegistry
    from mlpipe.tasks.deployment import resolve_version

    monkeypatch.setenv("MLPIPE__LAKE__ROOT", f"file://{tmp_path}/lake")
    cfg = load_config()
    group = cfg.training.registry.model_package_group
    with pytest.raises(MlPipeError, match="no Approved version"):
        resolve_version(cfg, logical_date="2026-11-01")
    reg = LocalModelRegistry.from_config(cfg)
    reg.register(group, model_uri=str(models["v1"]), tuning_job_name="t1")
    event = {"m": [type("Event", (), {"extra": {"version": 1, "ds": "2026-11-01"}})()]}
    with pytest.raises(MlPipeError, match="PendingManualApproval"):
        resolve_version(cfg, triggering_asset_events=event, logical_date="2026-11-01")
    reg.set_status(group, 1, "Approved")
    resolved = resolve_version(cfg, logical_date="2026-11-01")
    assert resolved["version"] == 1 and resolved["status"] == "Approved" and resolved["ds"] == "2026-11-01"
    assert model_dir(resolved, cfg) == models["v1"]
    assert json.loads((model_dir(resolved, cfg) / "feature_schema.json").read_text())
