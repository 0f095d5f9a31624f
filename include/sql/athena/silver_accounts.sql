CREATE EXTERNAL TABLE IF NOT EXISTS silver_accounts (
  `customer_id` bigint,
  `company_size` bigint,
  `industry` string,
  `credit_band` string,
  `updated_date` date
)
COMMENT 'silver.accounts of ml_features (columns from the features section of the pipeline config)'
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{ params.lake_root }}/silver/accounts/'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY')
