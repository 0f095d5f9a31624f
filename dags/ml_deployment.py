"""
### ml_deployment: the Approved model version -> real-time endpoint (blue/green) and/or batch transform

Runs on the `model.<group>` `Asset` (ml_training's `register` emits it with extra `{version, status, ds}`). An event
for an Approved version (auto-approve) deploys it; an event for a PendingManualApproval version skips the run with
the reason. Approving later (`make approve VERSION=n` locally, UpdateModelPackage on AWS) emits no Airflow event:
trigger the DAG after it (`make dag DAG=ml_deployment DATE=...` or the UI); without an event the run deploys the
newest Approved version and fails clearly when there is none. Only Approved versions are ever deployed.

| task | what it does |
|---|---|
| `resolve_version` | the Approved version, the run's date, retry-safe names (`mlpipe.naming.job_name` of the date + a hash of the package and `deployment:`) |
| `deploy_endpoint` | (mode `endpoint`/`both`) the version behind `deployment.endpoint_name`, blue/green, rollback when the new version fails |
| `smoke_test` | the configured sample requests (+ `gold_rows` scoring rows) through boto3 `sagemaker-runtime` `invoke_endpoint`: one valid score per row |
| `batch_transform` | (mode `batch`/`both`) the gold partition's scoring rows -> `predictions/dt=<ds>/`, one prediction per row |

| stack | endpoint / batch |
|---|---|
| `aws` | `create_model` (ModelPackageName, role, VPC, network isolation) -> `create_endpoint_config` (variant, data capture to S3 + KMS) -> `deploy_endpoint` (CreateEndpoint, or UpdateEndpoint with a blue/green canary DeploymentConfig and alarm auto-rollback; deferrable; a rolled-back update fails the task, the previous config keeps serving); `prepare_transform_input` + `find_transform_job` (the retry-safe job name: wait for a running job, reuse a completed one, `-r2` after a failed one) + `batch_transform` (SageMakerTransformOperator, KMS) |
| `local` | the local uvicorn endpoint: the new version starts beside the old one, is smoke-tested, `data/run/endpoints/<name>.live.json` switches, the old one drains and stops; data capture to `<lake>/capture/<endpoint>/`; `mlpipe.local.batch` |

Configuration: `include/config/$PIPELINE_ENV.yaml` (`deployment`, `training.registry`, `aws` on aws, `lake`, `dag`).
"""

from airflow.sdk import DAG, task
from mlpipe.config import load_config
from mlpipe.dagkit import dag_kwargs, model_asset
from mlpipe.stacks import get_stack
from mlpipe.tasks.deployment import RESOLVE_TASK_ID, resolve_version

cfg = load_config()
stack = get_stack(cfg)

with DAG(
    dag_id="ml_deployment",
    schedule=[model_asset(cfg)],
    **dag_kwargs(cfg, doc_md=__doc__, tags=["deployment", "endpoint", "batch"]),
) as dag:
    resolved = task(resolve_version, task_id=RESOLVE_TASK_ID)()
    if cfg.deployment.endpoint:
        stack.deployment.endpoint(resolved)
    if cfg.deployment.batch:
        stack.deployment.batch(resolved)
