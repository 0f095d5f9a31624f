"""A seeded churn-like dataset with learnable signal, shaped like the gold feature table.

For tests, benchmarks and smoke runs of the training container when no gold table is at hand: one row per
customer and ``as_of`` date, the label ``churned``, numeric features with missing values, two categorical
features, and noise columns. Churn rises with payment failures, inactivity and support tickets, falls with
tenure, and depends on interactions (a premium plan with little use churns most), so a tree ensemble beats
any single feature clearly.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

PLANS = ["basic", "standard", "premium"]
SIZES = ["1-10", "11-50", "51-200", "200+"]


def churn_frame(rows: int = 4000, seed: int = 0, noise_features: int = 4, start: dt.date = dt.date(2026, 8, 1),
                days: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 1500, rows)
    plan = rng.choice(PLANS, rows, p=[0.5, 0.35, 0.15])
    size = rng.choice(SIZES, rows)
    sessions_30d = rng.poisson(np.where(plan == "premium", 14, 9), rows)
    sessions_7d = rng.binomial(sessions_30d, 0.25)
    days_since_last = np.minimum(rng.exponential(6, rows) + np.where(sessions_7d == 0, 8, 0), 90).round(1)
    failures = rng.poisson(0.35, rows)
    tickets = rng.poisson(0.6, rows)
    spend = rng.gamma(2.0, 30.0, rows) * np.where(plan == "premium", 3, np.where(plan == "standard", 1.8, 1))
    logit = (
        -0.9
        + 1.1 * failures
        - 0.8 * np.log1p(tenure / 60)
        + 0.09 * days_since_last
        - 0.12 * sessions_7d
        + 0.45 * tickets
        + np.where((plan == "premium") & (sessions_30d < 10), 2.5, 0.0)
        + np.where((size == "1-10") & (failures > 0), 1.2, 0.0)
        + 0.004 * np.maximum(spend - 250, 0)
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    spend_col = pd.Series(spend.round(2))
    spend_col[rng.random(rows) < 0.05] = np.nan
    frame = pd.DataFrame({
        "customer_id": np.arange(1, rows + 1),
        "as_of": pd.to_datetime(start) + pd.to_timedelta(rng.integers(0, days, rows), unit="D"),
        "tenure_days": tenure,
        "sessions_7d": sessions_7d,
        "sessions_30d": sessions_30d,
        "days_since_last_session": days_since_last,
        "payment_failures_90d": failures,
        "support_tickets_30d": tickets,
        "monthly_spend": spend_col,
        "plan": plan,
        "company_size": size,
    })
    for i in range(noise_features):
        frame[f"noise_{i}"] = rng.normal(size=rows).astype("float32")
    frame["churned"] = churned.astype("int8")
    return frame
