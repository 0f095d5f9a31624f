CREATE EXTERNAL TABLE IF NOT EXISTS silver_payments (
  `payment_id` bigint,
  `customer_id` bigint,
  `subscription_id` bigint,
  `amount` double,
  `currency` string,
  `status` string,
  `paid_at` timestamp,
  `updated_at` timestamp
)
COMMENT 'silver.payments of ml_features (columns from the features section of the pipeline config)'
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{ params.lake_root }}/silver/payments/'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY')
