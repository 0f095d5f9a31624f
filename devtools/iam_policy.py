"""Least-privilege IAM policy documents for the aws stack, generated from the pipeline config (dev-time tool; never
shipped to MWAA).

    python -m devtools.iam_policy [--env aws-dev] [--mwaa-environment NAME] [--mwaa-bucket BUCKET] [--out DIR]
    make iam-policy [BUCKET=<MWAA bucket>] [MWAA_ENV=<environment name>]

One document per role:

- ``mwaa-execution-role``: what the DAGs call (DMS, DataSync, S3, EMR / EMR Serverless, Athena + Glue, SageMaker,
  SageMaker Runtime, KMS, iam:PassRole) plus what MWAA itself needs (its bucket, logs, metrics, the Celery queue);
- ``sagemaker-training-role`` (``training.sagemaker.role_arn``): the tuning and processing jobs;
- ``sagemaker-inference-role`` (``deployment.execution_role_arn``): the model behind the endpoint / transform;
- ``emr-instance-role`` (``emr.cluster.job_flow_role``, the nodes' instance profile) and
  ``emr-serverless-execution-role`` (``emr.serverless.execution_role_arn``): the Spark jobs.
  The EMR service role (``emr.cluster.service_role``) keeps AWS's managed ``AmazonEMRServicePolicy_v2``.

The job roles' S3 scopes (:func:`training_access`, :func:`inference_access`, :func:`spark_access`) are read off the
same request builders the DAGs use (tuning, processing, transform, the EMR steps and the job spec), with ``*`` for
the date and the job names: each prefix gets only the actions its jobs need, ListBucket only with an ``s3:prefix``
condition. Resources are the configured buckets and prefixes, the KMS key, the job-name prefixes (:mod:`mlpipe.naming`),
the model package group and the endpoint. ``iam:PassRole`` names only the configured roles, each with an
``iam:PassedToService`` condition. ``"Resource": "*"`` appears only for the actions in :data:`NO_RESOURCE_LEVEL`
(they support no resource-level permissions), each with its reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlpipe.config import PipelineConfig, load_config
from mlpipe.naming import job_name
from mlpipe.stacks.aws.code import CodeLocation

# actions that support no resource-level permissions (the Service Authorization Reference lists no resource
# type for them), so their statements say "Resource": "*"; nothing else may.
NO_RESOURCE_LEVEL: dict[str, str] = {
    "dms:DescribeReplicationTasks": "a Describe* of DMS filtered by ARN in the request, not by resource",
    "elasticmapreduce:RunJobFlow": "creates the cluster (no ARN yet); limited by the request-tag condition",
    "elasticmapreduce:ListClusters": "List* (the reattach of a retried create_cluster looks its name up)",
    "sagemaker:ListProcessingJobs": "List* (the processing operator checks for a job of the same name)",
    "sagemaker:ListTransformJobs": "List* (the transform operator checks for a job of the same name)",
    "sagemaker:ListModelPackages": "List* of a group given in the request (champion, approved version)",
    "ecr:GetAuthorizationToken": "the registry login token is account-wide",
    "cloudwatch:PutMetricData": "metrics have no ARN (limited by the cloudwatch:namespace condition)",
    "logs:DescribeLogGroups": "List* of log groups (MWAA)",
    "s3:GetAccountPublicAccessBlock": "an account-level setting MWAA checks on its bucket",
    "ec2:DescribeNetworkInterfaces": "Describe* (jobs in the VPC create their network interfaces)",
    "ec2:DescribeVpcs": "Describe* (jobs in the VPC)",
    "ec2:DescribeDhcpOptions": "Describe* (jobs in the VPC)",
    "ec2:DescribeSubnets": "Describe* (jobs in the VPC)",
    "ec2:DescribeSecurityGroups": "Describe* (jobs in the VPC)",
}
TAG_PROJECT = "mlpipe"   # the tag every EMR cluster of the pipeline carries (mlpipe.stacks.aws.emr.tags)


def _s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key.strip("/")


def _objects(uri: str) -> str:
    bucket, prefix = _s3(uri)
    return f"arn:aws:s3:::{bucket}/{prefix + '/' if prefix else ''}*"


def _buckets(*uris: str) -> list[str]:
    return sorted({f"arn:aws:s3:::{_s3(u)[0]}" for u in uris})


def _statement(sid: str, actions: list[str], resources: list[str] | str, **condition: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)),
                           "Resource": resources if isinstance(resources, str) else sorted(set(resources))}
    if condition:
        out["Condition"] = condition
    return out


def _doc(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _prefix(kind: str, dag_id: str) -> str:
    """The name prefix of every job ``kind`` of ``dag_id`` (:func:`mlpipe.naming.job_name`), ending in '*'."""
    name = job_name(kind, dag_id, "2000-01-01", "000000")
    return name[: -len("-20000101-000000")] + "-*"


def _role_arn(cfg: PipelineConfig, role: str) -> str:
    return role if role.startswith("arn:") else f"arn:aws:iam::{cfg.aws.account_id}:role/{role}"


class _Scope:
    """The ARNs the config names."""

    def __init__(self, cfg: PipelineConfig) -> None:
        if cfg.stack != "aws" or cfg.aws is None:
            raise SystemExit(f"environment {cfg.environment} is on the {cfg.stack} stack: no IAM policy to make")
        self.cfg = cfg
        aws = cfg.aws
        self.region, self.account = aws.region, aws.account_id
        self.kms = [k for k in {aws.kms_key_arn, cfg.deployment.kms_key_arn} if k]
        self.lake = cfg.lake.root
        self.sources = [s for s in cfg.sources]
        self.code = CodeLocation.from_config(cfg)

    def sm(self, resource: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource}"

    def raw_prefixes(self) -> list[str]:
        out = []
        for s in self.sources:
            for attr in ("dms_target_prefix", "datasync_target_prefix", "landing"):
                value = getattr(s, attr, None)
                if value and value.startswith("s3://"):
                    out.append(value)
        return out


def _kms_use(sc: _Scope, sid: str) -> list[dict[str, Any]]:
    if not sc.kms:
        return []
    return [
        _statement(sid, ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], sc.kms),
        _statement(sid + "Grants", ["kms:CreateGrant"], sc.kms, Bool={"kms:GrantIsForAWSResource": "true"}),
    ]


def _vpc_statements(sc: _Scope) -> list[dict[str, Any]]:
    aws = sc.cfg.aws
    if not aws.subnet_ids:
        return []
    ec2 = f"arn:aws:ec2:{sc.region}:{sc.account}"
    resources = [f"{ec2}:network-interface/*"] + [f"{ec2}:subnet/{s}" for s in aws.subnet_ids] + \
        [f"{ec2}:security-group/{g}" for g in aws.security_group_ids]
    return [
        _statement("VpcEnis", ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                               "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"], resources),
        _statement("VpcDescribe", ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                                   "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"], "*"),
    ]


def _container_basics(sc: _Scope, image: str | None, log_group: str) -> list[dict[str, Any]]:
    out = []
    if image and ".dkr.ecr." in image:
        registry, _, repo = image.partition("/")
        account, region = registry.split(".")[0], registry.split(".")[3]
        repo_arn = f"arn:aws:ecr:{region}:{account}:repository/{repo.split(':')[0].split('@')[0]}"
        out += [_statement("EcrPull", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                                       "ecr:GetDownloadUrlForLayer"], [repo_arn]),
                _statement("EcrLogin", ["ecr:GetAuthorizationToken"], "*")]
    out += [
        _statement("Logs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams",
                            "logs:PutLogEvents"], [f"arn:aws:logs:{sc.region}:{sc.account}:log-group:{log_group}*"]),
        _statement("Metrics", ["cloudwatch:PutMetricData"], "*",
                   StringLike={"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}),
    ]
    return out


# ---- the roles ------------------------------------------------------------------------------------------------


def mwaa_execution_role(cfg: PipelineConfig, environment: str, bucket: str) -> dict[str, Any]:
    sc = _Scope(cfg)
    r, a = sc.region, sc.account
    tr, dep, emr = cfg.training, cfg.deployment, cfg.emr
    st: list[dict[str, Any]] = []

    # MWAA itself (AWS's documented execution-role policy, scoped to this environment)
    st += [
        _statement("MwaaMetrics", ["airflow:PublishMetrics"], [f"arn:aws:airflow:{r}:{a}:environment/{environment}"]),
        _statement("MwaaBucket", ["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation",
                                  "s3:GetBucketVersioning", "s3:GetBucketPublicAccessBlock",
                                  "s3:GetEncryptionConfiguration", "s3:ListBucket"],
                   [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]),
        _statement("MwaaPublicAccessCheck", ["s3:GetAccountPublicAccessBlock"], "*"),
        _statement("MwaaLogs", ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:PutLogEvents", "logs:GetLogEvents",
                                "logs:GetLogRecord", "logs:GetLogGroupFields", "logs:GetQueryResults"],
                   [f"arn:aws:logs:{r}:{a}:log-group:airflow-{environment}-*"]),
        _statement("MwaaLogGroups", ["logs:DescribeLogGroups"], "*"),
        _statement("MwaaMetricData", ["cloudwatch:PutMetricData"], "*",
                   StringEquals={"cloudwatch:namespace": "AmazonMWAA"}),
        _statement("MwaaCeleryQueue", ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                       "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"],
                   [f"arn:aws:sqs:{r}:*:airflow-celery-*"]),
    ]

    # the lake: read and write under the lake root; read what the ingestion engines delivered
    raw = sc.raw_prefixes()
    athena_out = emr.athena.output_location if emr and emr.athena else None
    code_reads = [f"s3://{sc.code.bucket}/training/"]
    # ml_monitoring reads the endpoint's data capture (deployment.data_capture.destination, which may lie
    # outside the lake)
    from mlpipe.services.endpoints import capture_root

    if dep.endpoint and dep.data_capture.enabled and cfg.monitoring.capture.enabled:
        code_reads.append(capture_root(cfg))
    st += [
        _statement("LakeReadWrite", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                   [_objects(sc.lake)] + ([_objects(athena_out)] if athena_out else [])),
        _statement("IngestedRead", ["s3:GetObject"], [_objects(u) for u in raw] + [_objects(u) for u in code_reads]),
        _statement("ListBuckets", ["s3:ListBucket", "s3:GetBucketLocation"],
                   _buckets(sc.lake, *raw, *code_reads, *([athena_out] if athena_out else []))),
    ]
    st += _kms_use(sc, "LakeKms")

    # ingestion
    dms = [s.dms_task_arn for s in sc.sources if getattr(s, "dms_task_arn", None)]
    sync = [s.datasync_task_arn for s in sc.sources if getattr(s, "datasync_task_arn", None)]
    if dms:
        st += [_statement("DmsStart", ["dms:StartReplicationTask", "dms:StopReplicationTask"], dms),
               _statement("DmsDescribe", ["dms:DescribeReplicationTasks"], "*")]
    if sync:
        st += [_statement("DataSyncRun", ["datasync:StartTaskExecution", "datasync:DescribeTask"], sync),
               _statement("DataSyncExecutions", ["datasync:DescribeTaskExecution", "datasync:CancelTaskExecution"],
                          [f"{t}/execution/*" for t in sync])]

    # features: EMR (transient cluster or Serverless), Athena + Glue
    if emr is not None:
        cluster_arn = f"arn:aws:elasticmapreduce:{r}:{a}:cluster/*"
        tagged = {"StringEquals": {"elasticmapreduce:ResourceTag/project": TAG_PROJECT,
                                   "elasticmapreduce:ResourceTag/environment": cfg.environment}}
        st += [
            _statement("EmrCreate", ["elasticmapreduce:RunJobFlow"], "*",
                       StringEquals={"aws:RequestTag/project": TAG_PROJECT,
                                     "aws:RequestTag/environment": cfg.environment}),
            _statement("EmrTagOnCreate", ["elasticmapreduce:AddTags"], [cluster_arn],
                       StringEquals={"aws:RequestTag/project": TAG_PROJECT}),
            {**_statement("EmrOwnClusters", ["elasticmapreduce:DescribeCluster", "elasticmapreduce:AddJobFlowSteps",
                                             "elasticmapreduce:ListSteps", "elasticmapreduce:DescribeStep",
                                             "elasticmapreduce:CancelSteps", "elasticmapreduce:TerminateJobFlows"],
                          [cluster_arn]), "Condition": tagged},
            _statement("EmrFind", ["elasticmapreduce:ListClusters"], "*"),
            _statement("EmrPassRoles", ["iam:PassRole"], [_role_arn(cfg, emr.cluster.service_role)],
                       StringEquals={"iam:PassedToService": "elasticmapreduce.amazonaws.com"}),
            _statement("EmrPassInstanceRole", ["iam:PassRole"], [_role_arn(cfg, emr.cluster.job_flow_role)],
                       StringEquals={"iam:PassedToService": "ec2.amazonaws.com"}),
        ]
        if emr.serverless is not None:
            app = f"arn:aws:emr-serverless:{r}:{a}:/applications/{emr.serverless.application_id}"
            st += [
                _statement("EmrServerlessApp", ["emr-serverless:GetApplication", "emr-serverless:StartApplication",
                                                "emr-serverless:StartJobRun", "emr-serverless:ListJobRuns",
                                                "emr-serverless:TagResource"], [app]),
                _statement("EmrServerlessJobRuns", ["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun",
                                                    "emr-serverless:TagResource"], [f"{app}/jobruns/*"]),
                _statement("EmrServerlessPassRole", ["iam:PassRole"], [emr.serverless.execution_role_arn],
                           StringEquals={"iam:PassedToService": "emr-serverless.amazonaws.com"}),
            ]
        if emr.athena is not None:
            db = emr.athena.database
            st += [
                _statement("Athena", ["athena:StartQueryExecution", "athena:GetQueryExecution",
                                      "athena:StopQueryExecution"],
                           [f"arn:aws:athena:{r}:{a}:workgroup/{emr.athena.workgroup}"]),
                _statement("GlueTables", ["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable",
                                          "glue:GetPartition", "glue:GetPartitions", "glue:CreatePartition",
                                          "glue:BatchCreatePartition"],
                           [f"arn:aws:glue:{r}:{a}:catalog", f"arn:aws:glue:{r}:{a}:database/{db}",
                            f"arn:aws:glue:{r}:{a}:table/{db}/*"]),
            ]

    # training: tuning, its training jobs, evaluation processing job, the Model Registry
    group = tr.registry.model_package_group
    training_prefix = _prefix("training_job", "ml_training")
    st += [
        _statement("SageMakerTraining", [
            "sagemaker:CreateHyperParameterTuningJob", "sagemaker:DescribeHyperParameterTuningJob",
            "sagemaker:StopHyperParameterTuningJob", "sagemaker:DescribeTrainingJob", "sagemaker:CreateProcessingJob",
            "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob", "sagemaker:AddTags"],
            [sc.sm(f"hyper-parameter-tuning-job/{_prefix('tuning_job', 'ml_training')}"),
             sc.sm(f"training-job/{training_prefix}"), sc.sm(f"processing-job/{training_prefix}")]),
        _statement("SageMakerRegistry", [
            "sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup",
            "sagemaker:DeleteModelPackageGroup", "sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
            "sagemaker:AddTags"],
            [sc.sm(f"model-package-group/{group}"), sc.sm(f"model-package/{group}/*")]),
        _statement("SageMakerList", ["sagemaker:ListProcessingJobs", "sagemaker:ListTransformJobs",
                                     "sagemaker:ListModelPackages"], "*"),
    ]
    # deployment: model, endpoint config, endpoint (blue/green), transform, smoke test
    dep_model, dep_config = _prefix("model", "ml_deployment"), _prefix("endpoint_config", "ml_deployment")
    st += [
        _statement("SageMakerDeploy", [
            "sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateEndpointConfig",
            "sagemaker:DescribeEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint",
            "sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint", "sagemaker:CreateTransformJob",
            "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob", "sagemaker:AddTags"],
            [sc.sm(f"model/{dep_model}"), sc.sm(f"endpoint-config/{dep_config}"),
             sc.sm(f"endpoint/{dep.endpoint_name}"),
             sc.sm(f"transform-job/{_prefix('transform_job', 'ml_deployment')}")]),
    ]
    passed = [x for x in (tr.sagemaker.role_arn, dep.execution_role_arn) if x]
    if passed:
        st.append(_statement("SageMakerPassRoles", ["iam:PassRole"], passed,
                             StringEquals={"iam:PassedToService": "sagemaker.amazonaws.com"}))
    return _doc(st)


# ---- S3 scopes of the job roles, derived from the requests the DAGs send (one date and job name as "*") ----------

ANY = "*"   # stands for the date (dt=*), a job's name: every run of the pipeline


class S3Access:
    """The S3 objects a role's jobs read and write: ``s3://`` URIs, a trailing '/' for a prefix (every key under
    it), none for one key; ``*`` in them stands for any date or job name."""

    def __init__(self) -> None:
        self.grants: dict[str, set[str]] = {}

    def add(self, actions: tuple[str, ...], *uris: str) -> S3Access:
        for uri in uris:
            self.grants.setdefault(uri, set()).update(actions)
        return self

    def read(self, *uris: str) -> S3Access:
        return self.add(READ, *uris)

    def write(self, *uris: str) -> S3Access:
        return self.add(WRITE, *uris)

    def directories(self, actions: tuple[str, ...], *uris: str) -> S3Access:
        """Directories a Hadoop file system (EMRFS on EMR, S3A) uses: every key under ``<dir>/``, and the keys
        it probes or creates beside it: ``<dir>`` (a HEAD before listing: without the grant a 403, not a 404) and
        EMRFS's ``<dir>_$folder$`` marker."""
        for uri in uris:
            base = uri.rstrip("/")
            self.add(actions, base + "/", base, base + "_$folder$")
        return self

    def statements(self, sid: str) -> list[dict[str, Any]]:
        """One statement per set of actions (object ARNs), and ListBucket limited to the prefixes used."""
        by_actions: dict[tuple[str, ...], list[str]] = {}
        for uri, actions in self.grants.items():
            by_actions.setdefault(tuple(sorted(actions)), []).append(_object_arn(uri))
        names = {tuple(sorted(READ)): "Read", tuple(sorted(WRITE)): "Write", tuple(sorted(READ + WRITE)): "ReadWrite",
                 tuple(sorted(REPLACE)): "Replace"}
        out = [_statement(f"{sid}{names.get(actions, 'Use')}", list(actions), arns)
               for actions, arns in sorted(by_actions.items())]
        buckets: dict[str, set[str]] = {}
        for uri in self.grants:
            bucket, key = _s3(uri)
            buckets.setdefault(bucket, set()).add(key + ("/*" if uri.endswith("/") else "*"))
        for i, (bucket, prefixes) in enumerate(sorted(buckets.items())):
            out.append(_statement(f"{sid}List{i + 1}", ["s3:ListBucket"], [f"arn:aws:s3:::{bucket}"],
                                  StringLike={"s3:prefix": sorted(prefixes)}))
        out.append(_statement(f"{sid}Location", ["s3:GetBucketLocation"], [f"arn:aws:s3:::{b}" for b in buckets]))
        return out


READ = ("s3:GetObject",)
WRITE = ("s3:PutObject", "s3:AbortMultipartUpload")
REPLACE = ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject")   # atomic partition swaps


def _object_arn(uri: str) -> str:
    """``s3://b/p/`` -> ``arn:aws:s3:::b/p/*`` (every key under the prefix); ``s3://b/p/k`` -> the key's ARN."""
    bucket, key = _s3(uri)
    return f"arn:aws:s3:::{bucket}/{key}/*" if uri.endswith("/") else f"arn:aws:s3:::{bucket}/{key}"


def _as_prefix(uri: str) -> str:
    return uri.rstrip("/") + "/"


def training_access(cfg: PipelineConfig) -> S3Access:
    """The tuning job's training jobs and the evaluation Processing job (``training.sagemaker.role_arn``): what
    CreateHyperParameterTuningJob and CreateProcessingJob name, for any date."""
    from mlpipe.stacks.aws.training import processing_config, tuning_config
    from mlpipe.tasks.training import training_root
    from mlpipe.tasks.training_aws import model_artifact_uri

    root = training_root(cfg, ANY)
    definition = tuning_config(cfg, ANY, root)["TrainingJobDefinition"]
    access = S3Access()
    access.read(*(c["DataSource"]["S3DataSource"]["S3Uri"] for c in definition["InputDataConfig"]))
    access.write(_as_prefix(definition["OutputDataConfig"]["S3OutputPath"]))
    access.add(READ + WRITE, _as_prefix(definition["CheckpointConfig"]["S3Uri"]))   # synced up, restored on restart
    processing = processing_config(cfg, ANY, root, model_artifact_uri(root, ANY), "")
    access.read(*(i["S3Input"]["S3Uri"] for i in processing["ProcessingInputs"]))
    access.write(*(_as_prefix(o["S3Output"]["S3Uri"]) for o in processing["ProcessingOutputConfig"]["Outputs"]))
    return access


def inference_access(cfg: PipelineConfig) -> S3Access:
    """The model's execution role (``deployment.execution_role_arn``), which the endpoint and the batch transform
    job run with: the registered model artifact, the endpoint's data capture, the transform job's staged input
    and its ``predictions/`` output, for any date."""
    from mlpipe.lake import LakeLayout
    from mlpipe.services.endpoints import capture_root
    from mlpipe.tasks.deployment_aws import transform_input_prefix
    from mlpipe.tasks.training import training_root
    from mlpipe.tasks.training_aws import model_artifact_uri

    access = S3Access().read(model_artifact_uri(training_root(cfg, ANY), ANY))
    dep = cfg.deployment
    if dep.endpoint and dep.data_capture.enabled:
        access.write(_as_prefix(capture_root(cfg)))
    if dep.batch:
        access.read(_as_prefix(transform_input_prefix(cfg, ANY)))
        access.write(_as_prefix(LakeLayout.from_config(cfg).predictions(ANY)))
    return access


def spark_access(cfg: PipelineConfig, serverless: bool) -> S3Access:
    """The Spark jobs' role (the EMR nodes' instance profile, or the EMR Serverless job role): the code the steps
    run (and the bootstrap script / the packed virtualenv), the date's job spec, what the spec reads (bronze and
    ingestion quarantine of each table, silver for gold) and writes (silver, gold, their quarantine and quality
    verdicts: each dataset's directory, where partitions are swapped in through hidden siblings), and the logs."""
    from mlpipe.lake import LakeLayout
    from mlpipe.tasks.feature_spec import job_spec
    from mlpipe.tasks.features import DAG_ID

    code = CodeLocation.from_config(cfg)
    access = S3Access().read(code.main, code.py_files, code.serverless_venv if serverless else code.bootstrap)
    access.read(LakeLayout.from_config(cfg).spec(DAG_ID, ANY))
    spec = job_spec(cfg, "2000-01-01")   # which tables and datasets; every date has the same

    def dataset_dir(uri: str) -> str:
        return uri.rstrip("/").rsplit("/", 1)[0] + "/"

    for table in spec["silver"]["tables"]:
        access.directories(READ, table["bronze_uri"], table["ingest_quarantine_uri"])
    for table in [*spec["silver"]["tables"], spec["gold"]]:
        out = table["outputs"]
        access.directories(REPLACE, dataset_dir(out["partition"]), dataset_dir(out["quarantine"]),
                           dataset_dir(dataset_dir(out["result"])))
    access.write(_as_prefix(f"{cfg.emr.log_uri}{'serverless/' if serverless else 'clusters/'}"))   # pushed, never read
    return access


def sagemaker_training_role(cfg: PipelineConfig) -> dict[str, Any]:
    sc = _Scope(cfg)
    return _doc(training_access(cfg).statements("S3") + _kms_use(sc, "Kms") + _vpc_statements(sc) +
                _container_basics(sc, cfg.training.sagemaker.image_uri, "/aws/sagemaker/"))


def sagemaker_inference_role(cfg: PipelineConfig) -> dict[str, Any]:
    sc = _Scope(cfg)
    return _doc(inference_access(cfg).statements("S3") + _kms_use(sc, "Kms") + _vpc_statements(sc) +
                _container_basics(sc, cfg.training.sagemaker.image_uri, "/aws/sagemaker/"))


def _spark_role(cfg: PipelineConfig, serverless: bool) -> dict[str, Any]:
    sc = _Scope(cfg)
    return _doc(spark_access(cfg, serverless).statements("S3") + _kms_use(sc, "Kms"))


def policies(cfg: PipelineConfig, environment: str | None = None, bucket: str | None = None) -> dict[str, Any]:
    """Role name -> policy document."""
    environment = environment or f"mlpipe-{cfg.environment}"
    bucket = bucket or f"{environment}-mwaa"
    out = {"mwaa-execution-role": mwaa_execution_role(cfg, environment, bucket),
           "sagemaker-training-role": sagemaker_training_role(cfg),
           "sagemaker-inference-role": sagemaker_inference_role(cfg)}
    if cfg.emr is not None:
        out["emr-instance-role"] = _spark_role(cfg, serverless=False)
        if cfg.emr.serverless is not None:
            out["emr-serverless-execution-role"] = _spark_role(cfg, serverless=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default=None, help="PIPELINE_ENV (default: $PIPELINE_ENV, else aws-dev)")
    parser.add_argument("--mwaa-environment", default=None, help="MWAA environment name (default mlpipe-<env>)")
    parser.add_argument("--mwaa-bucket", default=None, help="the MWAA environment's S3 bucket")
    parser.add_argument("--out", default=None, help="write <role>.json files there (default: print them)")
    args = parser.parse_args(argv)
    import os

    env = args.env or (os.environ.get("PIPELINE_ENV") if os.environ.get("PIPELINE_ENV") not in (None, "local")
                       else "aws-dev")
    docs = policies(load_config(env), args.mwaa_environment, args.mwaa_bucket)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for role, doc in docs.items():
            (out / f"{role}.json").write_text(json.dumps(doc, indent=2) + "\n")
            print(out / f"{role}.json")
    else:
        json.dump(docs, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
