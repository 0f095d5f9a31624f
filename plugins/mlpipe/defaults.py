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

# ---- Features on the aws stack: EMR (transient cluster or Serverless) and the Athena/Glue catalog ----------
EMR_MODE = "transient"
# EMR 7.x runs Spark 3.5 (Python 3.9+ on the nodes): the spark_jobs must not need Spark 4 APIs on EMR.
EMR_RELEASE_LABEL = "emr-7.9.0"
EMR_SERVICE_ROLE = "EMR_DefaultRole_V2"
EMR_JOB_FLOW_ROLE = "EMR_EC2_DefaultRole"
EMR_PRIMARY_INSTANCE_TYPES = ("m7g.xlarge", "m6g.xlarge", "m5.xlarge")
EMR_CORE_INSTANCE_TYPES = ("r7g.2xlarge", "r6g.2xlarge", "r5.2xlarge")
EMR_CORE_ON_DEMAND_CAPACITY = 2
EMR_TASK_INSTANCE_TYPES = ("r7g.2xlarge", "r6g.2xlarge", "r5.2xlarge", "r5a.2xlarge")
EMR_TASK_SPOT_CAPACITY = 4
EMR_SPOT_ALLOCATION_STRATEGY = "price-capacity-optimized"
EMR_SPOT_TIMEOUT_MINUTES = 20
EMR_SPOT_TIMEOUT_ACTION = "SWITCH_TO_ON_DEMAND"
EMR_EBS_VOLUME_GB = 64
# Backstop against a leaked cluster (e.g. the Airflow worker died before the terminate task ran).
EMR_IDLE_TIMEOUT_MINUTES = 60
# Python packages the bootstrap action installs on every node (the spark_jobs' gate uses GX).
EMR_PYTHON_PACKAGES = ("great-expectations==1.24.1",)
# One Spark step (silver or gold): how long it may run, and how often Airflow polls it (deferred).
EMR_STEP_TIMEOUT_MINUTES = 180
EMR_STEP_POLL_SECONDS = 60
# Cluster start-up (STARTING -> BOOTSTRAPPING -> WAITING).
EMR_CLUSTER_READY_TIMEOUT_MINUTES = 45
EMR_CLUSTER_POLL_SECONDS = 30
ATHENA_WORKGROUP = "primary"
ATHENA_DATABASE = "mlpipe"
ATHENA_POLL_SECONDS = 10
