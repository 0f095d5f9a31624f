CREATE EXTERNAL TABLE IF NOT EXISTS gold_customer_features (
  `customer_id` bigint,
  `as_of` date,
  `split` string,
  `tenure_days` int,
  `plan` string,
  `monthly_price` double,
  `country` string,
  `events_7d` bigint,
  `events_30d` bigint,
  `events_90d` bigint,
  `support_events_30d` bigint,
  `cancel_page_views_30d` bigint,
  `days_since_last_event` int,
  `days_since_last_payment` int,
  `payments_90d` bigint,
  `monetary_90d` double,
  `payment_failures_30d` bigint,
  `payment_failures_90d` bigint,
  `company_size` bigint,
  `industry` string,
  `credit_band` string,
  `churned` int
)
COMMENT 'gold.customer_features of ml_features (columns from the features section of the pipeline config)'
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{ params.lake_root }}/gold/customer_features/'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY')
