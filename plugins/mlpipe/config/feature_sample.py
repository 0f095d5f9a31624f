"""The sample business's ``features:`` section: what ``FeaturesConfig.sample()`` validates, and the default of a
configuration that leaves the section out (include/config/local.yaml spells the same section out).

Five silver tables from the three sample sources (``oltp``: customers, subscriptions, payments;
``clickstream``: events; ``partner``: accounts) and the gold table ``customer_features``: one row per customer
and weekly as-of date, labelled ``churned`` when the subscription is cancelled within 30 days.
"""

from __future__ import annotations

from typing import Any

SAMPLE_FEATURES: dict[str, Any] = {
    "silver": [
        {"name": "customers", "source": "oltp", "event_time": "updated_at",
         "columns": {"customer_id": "bigint", "email": "string", "name": "string", "country": "string",
                     "signup_ts": "timestamp", "marketing_opt_in": "boolean", "updated_at": "timestamp"}},
        {"name": "subscriptions", "source": "oltp", "event_time": "updated_at",
         "columns": {"subscription_id": "bigint", "customer_id": "bigint", "plan": "string",
                     "monthly_price": "double", "status": "string", "started_at": "timestamp",
                     "cancelled_at": "timestamp", "updated_at": "timestamp"}},
        {"name": "payments", "source": "oltp", "event_time": "updated_at",
         "columns": {"payment_id": "bigint", "customer_id": "bigint", "subscription_id": "bigint",
                     "amount": "double", "currency": "string", "status": "string", "paid_at": "timestamp",
                     "updated_at": "timestamp"}},
        {"name": "events", "source": "clickstream", "key": ["event_id"], "event_time": "event_ts",
         "columns": {"event_id": "string", "customer_id": "bigint", "session_id": "string", "event_type": "string",
                     "page": "string", "device": "string", "event_ts": "timestamp"}},
        {"name": "accounts", "source": "partner", "key": ["customer_id"], "order_by": ["updated_date"],
         "event_time": "updated_date",
         "columns": {"customer_id": "bigint", "company_size": "bigint", "industry": "string",
                     "credit_band": "string", "updated_date": "date"}},
    ],
    "gold": {
        "name": "customer_features",
        "entity": {"table": "customers", "key": "customer_id", "time": "signup_ts"},
        "population": {"table": "subscriptions", "start": "started_at", "end": "cancelled_at"},
        "as_of": {"every_days": 7, "snapshots": 8},
        "label": {"kind": "event", "name": "churned", "table": "subscriptions", "time": "cancelled_at",
                  "horizon_days": 30},
        "features": [
            {"kind": "days_since", "name": "tenure_days", "table": "customers", "column": "signup_ts"},
            {"kind": "attribute", "name": "plan", "table": "subscriptions", "column": "plan", "time": "started_at"},
            {"kind": "attribute", "name": "monthly_price", "table": "subscriptions", "column": "monthly_price",
             "time": "started_at"},
            {"kind": "attribute", "name": "country", "table": "customers", "column": "country", "time": "signup_ts"},
            {"kind": "aggregate", "name": "events", "table": "events", "time": "event_ts", "agg": "count",
             "windows": [7, 30, 90]},
            {"kind": "aggregate", "name": "support_events", "table": "events", "time": "event_ts", "agg": "count",
             "where": "event_type = 'support_contact'", "windows": [30]},
            {"kind": "aggregate", "name": "cancel_page_views", "table": "events", "time": "event_ts",
             "agg": "count", "where": "event_type = 'cancel_flow_view'", "windows": [30]},
            {"kind": "recency", "name": "days_since_last_event", "table": "events", "time": "event_ts"},
            {"kind": "recency", "name": "days_since_last_payment", "table": "payments", "time": "paid_at",
             "where": "status = 'succeeded'"},
            {"kind": "aggregate", "name": "payments", "table": "payments", "time": "paid_at", "agg": "count",
             "where": "status = 'succeeded'", "windows": [90]},
            {"kind": "aggregate", "name": "monetary", "table": "payments", "time": "paid_at", "agg": "sum",
             "column": "amount", "where": "status = 'succeeded'", "windows": [90]},
            {"kind": "aggregate", "name": "payment_failures", "table": "payments", "time": "paid_at",
             "agg": "count", "where": "status = 'failed'", "windows": [30, 90]},
            {"kind": "attribute", "name": "company_size", "table": "accounts", "column": "company_size",
             "time": "updated_date"},
            {"kind": "attribute", "name": "industry", "table": "accounts", "column": "industry",
             "time": "updated_date"},
            {"kind": "attribute", "name": "credit_band", "table": "accounts", "column": "credit_band",
             "time": "updated_date"},
        ],
    },
}
