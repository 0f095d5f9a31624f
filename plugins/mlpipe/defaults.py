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
# The folder holding include/ (config, SQL, quality suites, training code) when it is not the checkout's root:
# on MWAA, include/ ships inside the DAG folder and the startup script sets this to it.
ENV_VAR_CODE_ROOT = "MLPIPE_CODE_ROOT"

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

# DataSync (aws stack): a reschedule-mode sensor checks the task execution (no worker slot held between checks);
# it gives up after the timeout (keep it below dag.dagrun_timeout_minutes, or raise that too)
DATASYNC_POKE_INTERVAL_SECONDS = 60
DATASYNC_TRANSFER_TIMEOUT_SECONDS = 3 * 3600

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
# EMR 7.x runs Spark 3.5 (3.5.5 on emr-7.9.0): the spark_jobs must not need Spark 4 APIs on EMR. Its nodes have
# Python 3.9 (/usr/bin/python3, too old for great-expectations 1.24.1) and, from emr-7.1.0 on, 3.11: PySpark runs
# on 3.11 (spark-env and spark-defaults of the cluster; the bootstrap action installs into it).
EMR_RELEASE_LABEL = "emr-7.9.0"
EMR_MIN_RELEASE = (7, 1, 0)        # the first 7.x with Python 3.11
EMR_PYSPARK_PYTHON = "/usr/bin/python3.11"
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
# Python packages the bootstrap action installs on every node with python3.11 -m pip, and the EMR Serverless
# virtualenv holds (the spark_jobs' gate uses GX; pandas and numpy pinned so every node computes alike);
# runtimes/emr/requirements.txt lists exactly these beside pyspark (tests/runtimes/test_emr_parity.py).
EMR_PYTHON_PACKAGES = ("great-expectations==1.24.1", "pandas==2.2.3", "numpy==1.26.4")
# One Spark step (silver or gold): how long it may run, and how often Airflow polls it (deferred).
EMR_STEP_TIMEOUT_MINUTES = 180
EMR_STEP_POLL_SECONDS = 60
# Cluster start-up (STARTING -> BOOTSTRAPPING -> WAITING).
EMR_CLUSTER_READY_TIMEOUT_MINUTES = 45
EMR_CLUSTER_POLL_SECONDS = 30
ATHENA_WORKGROUP = "primary"
ATHENA_DATABASE = "mlpipe"
ATHENA_POLL_SECONDS = 10

# ---- Training: SageMaker HPO of include/training/train.py (aws) / the same script as local trials (local) -----
# The gold table's label and its non-feature columns (features.gold: <entity key>, as_of, split, ..., label).
TRAINING_LABEL = "churned"
TRAINING_ID_COLUMNS = ("customer_id", "as_of", "split")
TRAINING_TIME_COLUMN = "as_of"
# Time-based split of the gold snapshots (as_of = ds-30, ds-37, ... ds-79 with the default features.gold.as_of),
# in days before the run's logical date: train [ds-80, ds-51), validation [ds-51, ds-37), test [ds-37, ds-29).
# Snapshots newer than ds-30 have no 30-day label yet.
TRAINING_SPLIT_TRAIN_START_DAYS = 80
TRAINING_SPLIT_VALIDATION_START_DAYS = 51
TRAINING_SPLIT_TEST_START_DAYS = 37
TRAINING_SPLIT_END_DAYS = 29
TRAINING_NUM_ROUND = 500
TRAINING_EARLY_STOPPING_ROUNDS = 30
TRAINING_CHECKPOINT_INTERVAL = 10
TRAINING_SEED = 42
TRAINING_STATIC_HYPERPARAMETERS = {"eval_metric": "auc,logloss", "max_bin": 256}
TRAINING_OBJECTIVE_METRIC = "validation:auc"
TRAINING_OBJECTIVE_TYPE = "Maximize"
TRAINING_STRATEGY = "Bayesian"
TRAINING_MAX_JOBS = 20
TRAINING_MAX_PARALLEL_JOBS = 2
TRAINING_EARLY_STOPPING_TYPE = "Off"
TRAINING_HYPERPARAMETER_RANGES = {
    "eta": {"type": "continuous", "min_value": 0.01, "max_value": 0.3, "scaling": "Logarithmic"},
    "max_depth": {"type": "integer", "min_value": 2, "max_value": 10, "scaling": "Linear"},
    "min_child_weight": {"type": "continuous", "min_value": 1.0, "max_value": 50.0, "scaling": "Logarithmic"},
    "subsample": {"type": "continuous", "min_value": 0.5, "max_value": 1.0, "scaling": "Linear"},
    "colsample_bytree": {"type": "continuous", "min_value": 0.5, "max_value": 1.0, "scaling": "Linear"},
    "lambda": {"type": "continuous", "min_value": 0.01, "max_value": 10.0, "scaling": "Logarithmic"},
    "gamma": {"type": "continuous", "min_value": 0.0, "max_value": 5.0, "scaling": "Linear"},
}
# MetricDefinitions (name, regex) of the tuning job; train.py prints "<channel>:<metric>=<number>;" each round
# and a final line with the values of the model it writes (the latest value is the job's final metric).
TRAINING_METRIC_DEFINITIONS = (
    ("validation:auc", r"validation:auc=([0-9\.]+);"),
    ("validation:logloss", r"validation:logloss=([0-9\.]+);"),
    ("validation:aucpr", r"validation:aucpr=([0-9\.]+);"),
    ("validation:f1", r"validation:f1=([0-9\.]+);"),
    ("train:auc", r"train:auc=([0-9\.]+);"),
    ("train:logloss", r"train:logloss=([0-9\.]+);"),
)
TRAINING_DECISION_THRESHOLD = 0.5
TRAINING_BASELINE_MARGIN = 0.05
TRAINING_CHAMPION_TOLERANCE = 0.01
MODEL_PACKAGE_GROUP = "mlpipe-churn"
TRAINING_AUTO_APPROVE = False
# The SageMaker XGBoost framework image (script mode) of us-east-1; other regions have their own account id
# (sagemaker.image_uris.retrieve("xgboost", region, version="3.0-5") prints it).
SAGEMAKER_TRAINING_IMAGE_URI = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
SAGEMAKER_TRAINING_INSTANCE_TYPE = "ml.g5.xlarge"
SAGEMAKER_TRAINING_VOLUME_GB = 30
SAGEMAKER_USE_SPOT = True
SAGEMAKER_MAX_RUNTIME_SECONDS = 3600
SAGEMAKER_MAX_WAIT_SECONDS = 7200
# The registered model package's serving environment: the XGBoost image's script-mode serving imports
# SAGEMAKER_PROGRAM from SAGEMAKER_SUBMIT_DIRECTORY; the training job writes that module into model.tar.gz's
# code/ (include/training/model_code.py: ENTRY_MODULE in CODE_DIR; a test ties the two), which SageMaker
# unpacks to /opt/ml/model. Without them the image serves its built-in algorithm, never the project's handler.
SAGEMAKER_SERVING_PROGRAM = "inference.py"
SAGEMAKER_SERVING_SUBMIT_DIRECTORY = "/opt/ml/model/code"
LOCAL_TUNING_THREADS_PER_TRIAL = 1

# ---- Deployment (ml_deployment): SageMaker endpoint + batch transform (aws) / local endpoint + batch (local) -----
DEPLOYMENT_MODE = "both"
DEPLOYMENT_ENDPOINT_NAME = "mlpipe-churn"
DEPLOYMENT_VARIANT_NAME = "AllTraffic"
DEPLOYMENT_INSTANCE_TYPE = "ml.m5.large"
DEPLOYMENT_INSTANCE_COUNT = 1
DEPLOYMENT_CAPTURE_PERCENTAGE = 100
DEPLOYMENT_CANARY_PERCENT = 10
DEPLOYMENT_CANARY_WAIT_SECONDS = 600
DEPLOYMENT_TERMINATION_WAIT_SECONDS = 600
DEPLOYMENT_MAX_EXECUTION_SECONDS = 3600
DEPLOYMENT_LOCAL_DRAIN_SECONDS = 2.0
DEPLOYMENT_SMOKE_GOLD_ROWS = 3
DEPLOYMENT_SMOKE_TIMEOUT_SECONDS = 30.0
DEPLOYMENT_TRANSFORM_INSTANCE_TYPE = "ml.m5.xlarge"
DEPLOYMENT_TRANSFORM_MAX_PAYLOAD_MB = 6
DEPLOYMENT_TRANSFORM_CHUNK_ROWS = 65_536
DEPLOYMENT_TRANSFORM_MAX_RUNTIME_SECONDS = 3600
DEPLOYMENT_LOCAL_PORT = 8080
DEPLOYMENT_LOCAL_RUN_DIR = "data/run/endpoints"

# ---- Monitoring (ml_monitoring): drift of live data and predictions vs the training baseline, retraining trigger ---
MONITORING_SCHEDULE = "@daily"
# Below this many live rows (predictions, labelled rows) a check says "insufficient_data", never "drift".
MONITORING_MIN_ROWS = 500
MONITORING_MIN_POSITIVES = 10       # the AUC needs this many rows of each class
# A feature drifts when its effect size crosses the threshold AND its test (KS / chi-square / z) has p < P_VALUE.
MONITORING_PSI = 0.2                # 0.1-0.2 moderate, > 0.2 major shift (the usual PSI reading)
MONITORING_P_VALUE = 0.001
MONITORING_MISSING_RATE_DELTA = 0.1
MONITORING_NEW_CATEGORY_SHARE = 0.005
MONITORING_PREDICTION_PSI = 0.2
MONITORING_AUC_DROP = 0.05          # AUC on matured labels this far below the model's test AUC: decay
MONITORING_MIN_DRIFTED_FEATURES = 1
# No second retraining request within this many hours of logical time after one (retraining storms).
MONITORING_COOLDOWN_HOURS = 72
# Matured labels: the newest N labelled snapshots (as_of) of the gold partition, scored with the serving model.
MONITORING_LABEL_SNAPSHOTS = 1
# Captured endpoint traffic: the logical date's UTC day (SageMaker's YYYY/MM/DD/HH folders), or the newest days
# present ("latest": for the local stack, whose endpoint traffic carries today's wall-clock time).
MONITORING_CAPTURE_WINDOW = "logical_date"
MONITORING_CAPTURE_DAYS = 1
MONITORING_REPORTS_DIR = "reports/monitoring"
