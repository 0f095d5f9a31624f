"""Drift statistics (include/monitoring/drift.py) on small synthetic data against baselines built by the
training job's own code (include/training/baseline.py), so the baseline format is the real one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlpipe.sample import catalog
from monitoring import drift
from training.baseline import categorical_stats, numeric_stats, prediction_statistics

TH = drift.Thresholds(min_rows=500)
SCHEMA = {"features": [
    {"name": "amount", "kind": "numeric", "dtype": "float64"},
    {"name": "visits", "kind": "numeric", "dtype": "int64"},
    {"name": "plan", "kind": "categorical", "dtype": "object", "categories": ["basic", "premium", "standard"]},
    {"name": "country", "kind": "categorical", "dtype": "object", "categories": ["DE", "GB", "US"]},
]}
PLANS, PLAN_P = ["basic", "standard", "premium"], [0.5, 0.35, 0.15]
COUNTRIES, COUNTRY_P = ["US", "GB", "DE"], [0.6, 0.25, 0.15]


def population(rng: np.random.Generator, n: int, *, amount_shift: float = 0.0, plan_p=PLAN_P,
               missing: float = 0.05) -> pd.DataFrame:
    amount = rng.gamma(2.0, 10.0, n) + amount_shift
    amount[rng.random(n) < missing] = np.nan
    return pd.DataFrame({"amount": amount, "visits": rng.poisson(4.0, n),
                         "plan": rng.choice(PLANS, n, p=plan_p), "country": rng.choice(COUNTRIES, n, p=COUNTRY_P)})


def baseline_of(df: pd.DataFrame) -> dict:
    feats = {}
    for f in SCHEMA["features"]:
        col = df[f["name"]]
        feats[f["name"]] = categorical_stats(col) if f["kind"] == "categorical" else \
            numeric_stats(col.astype("float32"))
    return {"features": feats}


@pytest.fixture(scope="module")
def baseline() -> dict:
    return baseline_of(population(np.random.default_rng(1), 5_000))


def test_no_alarm_on_two_samples_from_one_distribution(baseline):
    """False-alarm bound: a feature alarms only when its test rejects at p_value (0.001); 4 features with 2 tests
    each give P(any alarm) <= 2 * 4 * 0.001 = 0.008 per comparison (union bound). Over 100 seeded comparisons the
    expected count is <= 0.8; 5 or more would have probability < 0.001 under that bound."""
    alarms = 0
    for seed in range(100):
        live = population(np.random.default_rng(1000 + seed), 800)
        result = drift.population_drift(baseline, SCHEMA, live, TH)
        assert result["status"] in (drift.OK, drift.DRIFT)
        alarms += result["status"] == drift.DRIFT
    assert alarms <= 4, f"{alarms} false alarms in 100 same-distribution comparisons"
    same = drift.population_drift(baseline, SCHEMA, population(np.random.default_rng(7), 800), TH)
    assert same["status"] == drift.OK and same["drifted"] == []
    assert all(r["psi"] < 0.05 for r in same["features"].values())


def test_numeric_mean_shift_alarms(baseline):
    live = population(np.random.default_rng(2), 800, amount_shift=12.0)
    result = drift.population_drift(baseline, SCHEMA, live, TH)
    assert result["status"] == drift.DRIFT and result["drifted"] == ["amount"]
    amount = result["features"]["amount"]
    assert amount["psi"] >= TH.psi and amount["p_value"] < TH.p_value
    assert "PSI" in amount["reasons"][0]


def test_category_mix_shift_alarms(baseline):
    live = population(np.random.default_rng(3), 800, plan_p=[0.2, 0.3, 0.5])
    result = drift.population_drift(baseline, SCHEMA, live, TH)
    assert result["drifted"] == ["plan"]
    plan = result["features"]["plan"]
    assert plan["psi"] >= TH.psi and plan["p_value"] < TH.p_value and plan["new_categories"] == {}


def test_new_and_vanished_categories_alarm(baseline):
    live = population(np.random.default_rng(4), 800)
    live.loc[:39, "country"] = "BR"                       # 5% of rows in a market the model never saw
    live.loc[live["country"] == "DE", "country"] = "US"   # DE (15% in training) is gone
    c = drift.population_drift(baseline, SCHEMA, live, TH)["features"]["country"]
    assert c["status"] == drift.DRIFT
    assert c["new_categories"] == {"BR": 0.05} and c["vanished_categories"] == ["DE"]


def test_missing_rate_jump_alarms(baseline):
    live = population(np.random.default_rng(5), 800, missing=0.3)
    result = drift.population_drift(baseline, SCHEMA, live, TH)
    amount = result["features"]["amount"]
    assert result["drifted"] == ["amount"] and amount["missing"]["drift"]
    assert amount["missing"]["delta"] == pytest.approx(0.25, abs=0.05)
    # a feature the live data lacks entirely is a missing-rate jump too
    gone = drift.population_drift(baseline, SCHEMA, live.drop(columns=["visits"]), TH)
    assert "visits" in gone["drifted"] and gone["features"]["visits"]["missing"]["live"] == 1.0


def test_report_only_features_never_make_the_population_drift(baseline):
    live = population(np.random.default_rng(2), 800, amount_shift=12.0)
    result = drift.population_drift(baseline, SCHEMA, live, TH, report_only=["amount"])
    assert result["status"] == drift.OK and result["report_only_drifted"] == ["amount"]


def test_below_min_rows_is_insufficient_data_never_an_alarm(baseline):
    live = population(np.random.default_rng(6), 100, amount_shift=50.0, plan_p=[0.1, 0.1, 0.8])
    result = drift.population_drift(baseline, SCHEMA, live, TH)
    assert result["status"] == drift.INSUFFICIENT and result["drifted"] == []
    assert {r["status"] for r in result["features"].values()} == {drift.INSUFFICIENT}
    shifted = np.clip(np.random.default_rng(6).beta(5, 2, 100), 0, 1)
    assert drift.prediction_drift({"edges": [0.5], "fractions": [0.9, 0.1]}, shifted, TH)["status"] == drift.INSUFFICIENT
    y = np.r_[np.ones(5), np.zeros(995)]
    perf = drift.performance(y, np.random.default_rng(0).random(1000), 0.8, TH)
    assert perf["status"] == drift.INSUFFICIENT  # 5 positives < min_positives
    assert drift.verdict({"features.gold": result, "performance": perf})["status"] == drift.INSUFFICIENT


def test_prediction_shift_alarms_and_same_scores_do_not():
    rng = np.random.default_rng(8)
    base = prediction_statistics(rng.beta(2, 8, 3_000), threshold=0.5)
    same = drift.prediction_drift(base, rng.beta(2, 8, 1_000), TH)
    assert same["status"] == drift.OK and same["psi"] < 0.05
    shifted = drift.prediction_drift(base, rng.beta(4, 6, 1_000), TH)
    assert shifted["status"] == drift.DRIFT and shifted["psi"] >= TH.prediction_psi and shifted["p_value"] < 1e-6
    assert shifted["mean"] > shifted["baseline_mean"]


def test_auc_decay_on_matured_labels():
    rng = np.random.default_rng(9)
    y = (rng.random(2_000) < 0.2).astype(float)
    good = y * 1.5 + rng.normal(0, 1, 2_000)           # AUC ~0.85
    noisy = y * 0.3 + rng.normal(0, 1, 2_000)          # AUC ~0.58
    ok = drift.performance(y, good, reference_auc=0.85, th=TH)
    assert ok["status"] == drift.OK and abs(ok["auc_drop"]) < TH.auc_drop
    decayed = drift.performance(y, noisy, reference_auc=0.85, th=TH)
    assert decayed["status"] == drift.DRIFT and decayed["auc_drop"] > 0.2
    assert drift.verdict({"performance": decayed})["reasons"][0].startswith("performance: AUC")


def test_the_sample_generators_planted_drift_is_detected():
    """The sample's drift (mlpipe.sample, --drift-from): every active subscription is repriced by
    DRIFT_PRICE_FACTOR and half the new signups come from DRIFT_COUNTRY; the gold features monthly_price and
    country carry it. Baseline and live frames drawn with the generator's own catalog."""
    rng = np.random.default_rng(10)
    schema = {"features": [{"name": "monthly_price", "kind": "numeric", "dtype": "float64"},
                           {"name": "country", "kind": "categorical", "dtype": "object",
                            "categories": sorted(c for c, p in zip(catalog.COUNTRIES, catalog.COUNTRY_PROBS,
                                                                   strict=True) if p > 0)}]}
    probs = np.array(catalog.COUNTRY_PROBS) / sum(catalog.COUNTRY_PROBS)

    def frame(n: int, drifted: bool) -> pd.DataFrame:
        plan = rng.choice(len(catalog.PLANS), n, p=catalog.PLAN_PROBS)
        price = np.array(catalog.PLAN_PRICES)[plan] * (catalog.DRIFT_PRICE_FACTOR if drifted else 1.0)
        country = rng.choice(catalog.COUNTRIES, n, p=probs).astype(object)
        if drifted:  # ~3% of customers are new signups, half of them in the new market
            new = rng.random(n) < 0.03 * catalog.DRIFT_NEW_COUNTRY_SHARE
            country[new] = catalog.DRIFT_COUNTRY
        return pd.DataFrame({"monthly_price": np.round(price, 2), "country": country})

    train = frame(5_000, drifted=False)
    base = {"features": {"monthly_price": numeric_stats(train["monthly_price"].astype("float32")),
                         "country": categorical_stats(train["country"])}}
    calm = drift.population_drift(base, schema, frame(2_000, drifted=False), TH)
    assert calm["status"] == drift.OK
    result = drift.population_drift(base, schema, frame(2_000, drifted=True), TH)
    assert result["status"] == drift.DRIFT and result["drifted"][0] == "monthly_price"
    assert result["features"]["monthly_price"]["psi"] > 1.0
    assert catalog.DRIFT_COUNTRY in result["features"]["country"]["new_categories"]


def test_psi_and_histogram_basics():
    assert drift.psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert drift.psi([0.9, 0.1], [0.1, 0.9]) > 1.0
    assert drift.histogram(np.array([1.0, 2.0, 3.0, 4.0]), [2.0, 3.0]) == [0.5, 0.25, 0.25]
    with pytest.raises(ValueError, match="same bins"):
        drift.psi([1.0], [0.5, 0.5])
