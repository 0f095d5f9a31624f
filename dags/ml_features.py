"""
### ml_features: bronze -> silver -> gold features, behind two quality gates

Runs when every bronze table of `ml_ingest` has a new partition (its bronze `Asset` events), or for a
logical date (`make dag DAG=ml_features DATE=...`, `airflow backfill create`). The date it builds is the
logical date, else the date carried by the bronze events.

| task | what it does |
|---|---|
| `write_spec` | the job spec for the date (tables, paths, Spark settings) to `_specs/ml_features/dt=<date>/spec.json` |
| `silver` | `include/spark_jobs/main.py --step silver`: bronze DMS/DataSync/drop files to clean silver tables (CDC applied by primary key), each checked by its Great Expectations suite |
| `gate_silver` | reads each silver table's verdict (`quality/silver/<table>/dt=<date>/result.json`); a failed expectation fails the task and nothing downstream runs |
| `gold` | `main.py --step gold`: the gold feature table from silver, checked by its suite |
| `gate_gold` | the gold verdict; only when it passes does the gold `Asset` event fire (training is scheduled on it) |

| stack | how the Spark steps run |
|---|---|
| `aws` | EMR: a transient cluster per run (`create_cluster`, a step + deferrable step sensor per stage, `terminate_cluster` with trigger rule `all_done`, so no cluster outlives its run), or EMR Serverless job runs (`emr.mode`); then `register_partitions` adds the new silver and gold partitions to the Glue Data Catalog with Athena DDL |
| `local` | `spark-submit --master local[*]` of the same `main.py`, its output in the task log |

Failed rows are quarantined (`quarantine/...`), never dropped silently; each verdict links an HTML report.
A failed gate names every failed expectation with its column and observed value, and the quarantine and
report paths. Gold lands in `gold/<name>/dt=<date>/`. `make sql` opens DuckDB on the silver and gold tables.

Configuration: `include/config/$PIPELINE_ENV.yaml` (`features`, `emr` on aws, `lake`, `dag`).
"""

from airflow.sdk import DAG, chain, task
from mlpipe.config import load_config
from mlpipe.dagkit import bronze_assets, dag_kwargs, gold_asset
from mlpipe.stacks import get_stack
from mlpipe.tasks.features import SPEC_TASK_ID, declared_datasets, quality_gate, write_spec

cfg = load_config()
stack = get_stack(cfg)
(gold_name,) = declared_datasets(cfg)["gold"]

with DAG(
    dag_id="ml_features",
    schedule=list(bronze_assets(cfg).values()),
    **dag_kwargs(cfg, doc_md=__doc__, tags=["features", "silver", "gold"]),
) as dag:
    spec = task(write_spec, task_id=SPEC_TASK_ID, multiple_outputs=True)()
    silver = stack.features.step("silver", spec)
    gate_silver = task(quality_gate, task_id="gate_silver")("silver", spec)
    gold = stack.features.step("gold", spec)
    gate_gold = task(quality_gate, task_id="gate_gold", outlets=[gold_asset(cfg, gold_name)])("gold", spec)
    chain(silver, gate_silver, gold, gate_gold, stack.features.publish(spec))
