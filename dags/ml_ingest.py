"""
### ml_ingest: sources -> bronze lake (daily)

Lands every configured source in `bronze/<source>/<table>/dt=<logical date>/`, one branch per source. A scheduled
run processes the day that ended: the run at `schedules.ingest` on day D+1 has logical date (`ds`) D
(`mlpipe.dagkit.data_interval_schedule`); `make dag DATE=D` and backfills process D too.

| source kind | `aws` stack | `local` stack |
|---|---|---|
| `database` | DMS replication task started (first run) or resumed with a CDC stop position at the end of the logical date, then copied from the DMS target into bronze | full load on the first date, then the date's CDC, read from the SQL database and written in DMS's S3 target layout (`Op`, commit timestamp, change sequence) |
| `file_share` | DataSync task execution, then the transferred files copied into bronze | incremental checksum sync of the share directory (DataSync semantics) |
| `drop` | deferrable S3 key sensor, then a copy into bronze | the landing directory, watched by a sensor |

Each partition is written atomically, so a rerun or `airflow backfill create` replaces it and never
duplicates rows. Malformed files and rows go to `quarantine/<source>/<table>/dt=.../` with their reason
and are counted. Each branch emits a bronze `Asset` event per table (`ml_features` is scheduled on them);
`record_manifest` writes `manifests/ml_ingest/dt=<date>.json` with rows and files in, out and quarantined.

Configuration: `include/config/$PIPELINE_ENV.yaml` (`sources`, `lake`, `schedules.ingest`, `dag`).
"""

from airflow.sdk import DAG, TaskGroup, task
from mlpipe.config import load_config
from mlpipe.dagkit import dag_kwargs, data_interval_schedule
from mlpipe.stacks import get_stack
from mlpipe.tasks.manifest import record_manifest

cfg = load_config()
stack = get_stack(cfg)

with DAG(
    dag_id="ml_ingest",
    schedule=data_interval_schedule(cfg.schedules.ingest),
    **dag_kwargs(cfg, doc_md=__doc__, tags=["ingest", "bronze"]),
) as dag:
    landed = []
    for source in cfg.sources:
        with TaskGroup(group_id=source.name, tooltip=f"{source.kind} source {source.name}"):
            landed.append(stack.ingestion.ingest(source))
    task(record_manifest, task_id="record_manifest")(landed)
