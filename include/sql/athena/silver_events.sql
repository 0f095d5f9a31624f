CREATE EXTERNAL TABLE IF NOT EXISTS silver_events (
  `event_id` string,
  `customer_id` bigint,
  `session_id` string,
  `event_type` string,
  `page` string,
  `device` string,
  `event_ts` timestamp
)
COMMENT 'silver.events of ml_features (columns from the features section of the pipeline config)'
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{ params.lake_root }}/silver/events/'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY')
