CREATE EXTERNAL TABLE IF NOT EXISTS silver_customers (
  `customer_id` bigint,
  `email` string,
  `name` string,
  `country` string,
  `signup_ts` timestamp,
  `marketing_opt_in` boolean,
  `updated_at` timestamp
)
COMMENT 'silver.customers of ml_features (columns from the features section of the pipeline config)'
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{ params.lake_root }}/silver/customers/'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY')
