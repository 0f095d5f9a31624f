"""A different dataset by configuration alone: include/config/local-csv.yaml (a CRM's daily CSV with its own
churn label, through a drop source) runs through ingestion, silver, gold and the gate."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from features_helpers import path
from mlpipe.config import load_config
from mlpipe.lake import LakeLayout
from mlpipe.local.landing import land_drop
from mlpipe.tasks.feature_spec import job_spec
from spark_jobs import steps

D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
COLUMNS = ["customer_id", "signup_date", "region", "plan", "monthly_charges", "support_tickets", "last_active_date",
           "churned", "updated_date"]


def export(rng: np.random.Generator, ids: range, day: dt.date) -> list[list[str]]:
    rows = []
    for i in ids:
        signup = day - dt.timedelta(days=int(rng.integers(30, 900)))
        known = rng.random() < 0.7
        rows.append([str(i), signup.isoformat(), str(rng.choice(["north", "south", "east", "west"])),
                     str(rng.choice(["basic", "pro"])), f"{rng.uniform(5, 80):.2f}", str(int(rng.poisson(1.5))),
                     (day - dt.timedelta(days=int(rng.integers(0, 60)))).isoformat(),
                     str(int(rng.random() < 0.25)) if known else "", day.isoformat()])
    return rows


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("crm")
    landing = root / "landing"
    landing.mkdir()
    cfg = load_config("local-csv", environ={"MLPIPE__LAKE__ROOT": f"file://{root}/lake",
                                            "MLPIPE__SOURCES__0__LANDING": str(landing)})
    rng = np.random.default_rng(5)
    exports = {D1: export(rng, range(1, 301), D1), D2: export(rng, range(250, 331), D2)}  # 51 changed, 30 new
    lake = LakeLayout.from_config(cfg)
    for day, rows in exports.items():
        with open(landing / f"customers_{day.isoformat()}.csv", "w", newline="") as fh:
            csv.writer(fh).writerows([COLUMNS, *rows])
        land_drop(cfg.source("crm"), day, lake)
    return {"cfg": cfg, "exports": exports, "spec": json.loads(json.dumps(job_spec(cfg, D2)))}


def test_second_dataset_runs_through_silver_gold_and_the_gate(spark, crm):
    spec = crm["spec"]
    [silver] = steps.run_silver(spark, spec)
    assert silver["dataset"] == "silver.crm_customers" and silver["success"], silver["failed"]
    assert silver["rows"] == 330  # the latest record of each customer
    assert silver["reconciliation"] == {"rows_in": 381, "rows_out": 381, "rows_quarantined": 0}
    latest = {r["customer_id"]: r for r in spark.read.parquet(silver["partition_uri"]).collect()}
    changed = next(r for r in crm["exports"][D2] if r[0] == "260")
    assert latest[260]["updated_date"] == D2 and latest[260]["plan"] == changed[3]

    [gold] = steps.run_gold(spark, spec)
    assert gold["dataset"] == "gold.crm_churn_features" and gold["success"], gold["failed"]
    df = spark.read.parquet(gold["partition_uri"])
    assert df.columns == ["customer_id", "as_of", "split", "tenure_days", "days_since_active", "plan", "region",
                          "monthly_charges", "support_tickets", "churned"]
    rows = {r["customer_id"]: r for r in df.collect()}
    assert len(rows) == 330 and {r["as_of"] for r in rows.values()} == {D2}
    for cid, r in rows.items():  # rows with a known label train, the others are scored
        assert r["split"] == ("train" if latest[cid]["churned"] is not None else "score")
        assert r["churned"] == latest[cid]["churned"]
        assert r["tenure_days"] == (D2 - latest[cid]["signup_date"]).days
    assert (path(gold["partition_uri"]) / "_SUCCESS").is_file()


def test_a_bad_value_in_the_export_is_quarantined_as_a_row(spark, crm, tmp_path: Path):
    cfg, spec = crm["cfg"], dict(crm["spec"])
    day = D2 + dt.timedelta(days=1)
    landing = Path(cfg.source("crm").landing)
    rows = export(np.random.default_rng(9), range(400, 420), day)
    rows[3][4] = "twelve"  # monthly_charges is a double
    with open(landing / f"customers_{day.isoformat()}.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([COLUMNS, *rows])
    land_drop(cfg.source("crm"), day, LakeLayout.from_config(cfg))
    spec = json.loads(json.dumps(job_spec(cfg, day)))
    [doc] = steps.run_silver(spark, spec)
    assert not doc["success"]  # 1 of 20 records of the day set aside: over the suite's 1% limit
    assert [f["expectation"] for f in doc["failed"]] == ["quarantined_rows"]
    assert doc["failed"][0]["details"]["reasons"] == {"wrong_type:monthly_charges": 1}
    assert doc["reconciliation"] == {"rows_in": 401, "rows_out": 400, "rows_quarantined": 1}
    [bad] = spark.read.parquet(spec["silver"]["tables"][0]["outputs"]["quarantine_rows"]).collect()
    assert bad["_reason_code"] == "wrong_type:monthly_charges" and "twelve" in bad["_raw"]
