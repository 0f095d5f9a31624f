"""
### ml_monitoring: live data and predictions vs the serving model's training baseline -> retraining request

Runs daily (`schedules.monitoring`) for the day that ended (the run on day D+1 has logical date D,
`mlpipe.dagkit.data_interval_schedule`), after ml_features has built that date's gold partition.

| task | what it does |
|---|---|
| `check_drift` | the serving model version (the endpoint's, else the newest Approved) and its `baseline.json`; per feature PSI + KS (numbers) / chi-square (categories), missing-rate and new/vanished-category drift of the gold partition's scoring rows and of the endpoint's captured requests; drift of the model's scores and of the captured responses; AUC on the newest matured labels vs the model's test AUC. Fewer than `monitoring.min_rows` rows: `insufficient_data`, never an alarm. Writes `reports/monitoring/dt=<date>/drift.json` and `drift.html` and logs their paths |
| `request_retraining` | emits the `retrain.<group>` `Asset` event (ml_training runs on it; extra: `ds`, `trigger`, `reasons`, `report`) when the verdict is drift or decay, or the training / feature config hash differs from the serving model's; **skipped** with the reason otherwise, or when a request was made less than `monitoring.cooldown_hours` of logical time before (`reports/monitoring/_state.json`) |

| stack | serving model / capture |
|---|---|
| `aws` | DescribeEndpoint -> EndpointConfig -> Model -> its model package (else the newest Approved package); `model.tar.gz` from S3; capture from `deployment.data_capture.destination` in S3 (the logical date's `YYYY/MM/DD/HH` folders) |
| `local` | the live endpoint's state file and the local registry; capture from `<lake>/capture/<endpoint>/<variant>/` (`monitoring.capture.window: latest`, as the local endpoint's traffic carries today's time) |

Configuration: `include/config/$PIPELINE_ENV.yaml` (`monitoring`, `schedules.monitoring`, `deployment`, `training`, `lake`, `dag`).
"""

from airflow.sdk import DAG
from mlpipe.config import load_config
from mlpipe.dagkit import dag_kwargs, data_interval_schedule
from mlpipe.stacks import get_stack

cfg = load_config()
stack = get_stack(cfg)

with DAG(
    dag_id="ml_monitoring",
    schedule=data_interval_schedule(cfg.schedules.monitoring),
    **dag_kwargs(cfg, doc_md=__doc__, tags=["monitoring", "drift", "retraining"]),
) as dag:
    stack.monitoring.request_retraining(stack.monitoring.check_drift())
