CREATE EXTERNAL TABLE IF NOT EXISTS silver_subscriptions (
  `subscription_id` bigint,
  `customer_id` bigint,
  `plan` string,
  `monthly_price` double,
  `status` string,
  `started_at` timestamp,
  `cancelled_at` timestamp,
  `updated_at` timestamp
)
COMMENT 'silver.subscriptions of ml_features (columns from the features section of the pipeline config)'
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{ params.lake_root }}/silver/subscriptions/'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY')
