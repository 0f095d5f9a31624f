"""Every default value in one place. The config model reads its defaults from here."""

from __future__ import annotations

import datetime as dt

# Which per-environment YAML file (include/config/<env>.yaml) is loaded.
ENV_VAR_ENVIRONMENT = "PIPELINE_ENV"
DEFAULT_ENVIRONMENT = "local"
# Where the YAML files live; overridable for packaging (MWAA keeps them next to the DAGs).
ENV_VAR_CONFIG_DIR = "MLPIPE_CONFIG_DIR"
# Environment variables overriding single keys: MLPIPE__LAKE__ROOT=s3://b/lake, MLPIPE__SOURCES__0__URL=...
ENV_OVERRIDE_PREFIX = "MLPIPE__"
# Where relative local paths resolve (defaults to the project root).
ENV_VAR_HOME = "MLPIPE_HOME"

START_DATE = dt.date(2026, 11, 1)

# DAG hygiene
OWNER = "ml-platform"
RETRIES = 2
RETRY_DELAY_SECONDS = 60
MAX_RETRY_DELAY_SECONDS = 900
EXECUTION_TIMEOUT_MINUTES = 60
DAGRUN_TIMEOUT_MINUTES = 240
MAX_ACTIVE_RUNS = 1

INGEST_SCHEDULE = "@daily"

# S3 drop / landing sensor
DROP_SENSOR_TIMEOUT_SECONDS = 6 * 3600
DROP_POKE_INTERVAL_SECONDS = 60

# Local DMS-equivalent: rows per full-load Parquet file (DMS's default is far larger; kept small to show splitting)
DMS_FULL_LOAD_ROWS_PER_FILE = 500_000
DMS_COMMIT_TS_COLUMN = "_dms_commit_ts"
DMS_CHANGE_SEQ_COLUMN = "_dms_change_seq"
DMS_OP_COLUMN = "Op"

# Sample data
SAMPLE_SEED = 42
SAMPLE_CUSTOMERS = 2_000
SAMPLE_HISTORY_DAYS = 120
SAMPLE_EVENTS = 100_000

AWS_REGION = "us-east-1"
AWS_CONN_ID = "aws_default"
