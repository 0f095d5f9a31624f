"""Checking an AWS request against botocore's own service model, without sending it.

- :func:`validate`: botocore's ParamValidator (types, required and unknown keys, minimum lengths) plus
  :func:`strict_problems`, what ParamValidator skips: maximum lengths, patterns, enums, numeric ranges, and
  :func:`rule_problems`, cross-field rules the model cannot state (InstanceCount 0 with an InstanceType).
- :func:`security_problems`: walks the operation's input shape next to the request; every member whose name
  marks a security setting (KMS keys, SSE, VPC, network isolation, inter-container encryption, EMR security
  configuration, IAM roles) must be set, to the configured value, wherever the configuration has one.
  A member that looks like a security setting but is neither checked nor explicitly excused (with a reason)
  fails too, so a new request cannot slip a setting past the check.
- :func:`record_calls`: every API call any boto3/botocore client makes in the block, as
  ``(service, operation, params)`` (botocore still sends them: run it against moto).

Imported by the tests in tests/aws (tests/aws/conftest.py puts this folder on sys.path).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

ROOT = Path(__file__).resolve().parents[2]
SESSION = botocore.session.get_session()


def input_shape(service: str, operation: str) -> Any:
    return SESSION.get_service_model(service).operation_model(operation).input_shape


def problems(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Everything wrong with the request: botocore's report, then the strict checks."""
    shape = input_shape(service, operation)
    report = ParamValidator().validate(params, shape)
    found = [report.generate_report()] if report.has_errors() else []
    return found + strict_problems(params, shape, operation) + rule_problems(params, operation)


def local_storage(instance_type: Any) -> bool:
    """Whether a SageMaker instance type has local (instance-store) storage (mlpipe.config.instances.FAMILIES)."""
    from mlpipe.config.instances import FAMILIES, family_of

    if not isinstance(instance_type, str) or not instance_type.startswith("ml."):
        return False
    family = FAMILIES.get(family_of(instance_type))
    return bool(family and family.local_storage)


def kms_refused(name: str, parent: dict[str, Any], path: str) -> bool:
    """SageMaker refuses a storage-volume KMS key for an instance type with local storage: ``VolumeKmsKeyId``
    next to such an ``InstanceType`` (ResourceConfig, ProcessingClusterConfig, TransformResources), and
    ``CreateEndpointConfig.KmsKeyId`` when a production variant runs on one."""
    if name == "VolumeKmsKeyId":
        return local_storage(parent.get("InstanceType"))
    if path == "CreateEndpointConfig.KmsKeyId":
        return any(local_storage(v.get("InstanceType")) for v in parent.get("ProductionVariants") or [])
    return False


def rule_problems(value: Any, path: str) -> list[str]:
    """Rules the model cannot express. A SageMaker ``ResourceConfig`` (training, tuning) allows InstanceCount 0
    only with heterogeneous ``InstanceGroups`` (its shape says min 0): with an InstanceType it must be >= 1.
    A storage-volume KMS key for an instance type with local storage is refused (:func:`kms_refused`)."""
    found: list[str] = []
    if isinstance(value, dict):
        if "InstanceType" in value and "InstanceCount" in value and "InstanceGroups" not in value \
                and isinstance(value["InstanceCount"], int) and value["InstanceCount"] < 1:
            found.append(f"{path}.InstanceCount: {value['InstanceCount']} < 1 (an InstanceType runs on >= 1)")
        for key in ("VolumeKmsKeyId", "KmsKeyId"):
            if key in value and kms_refused(key, value, f"{path}.{key}"):
                found.append(f"{path}.{key}: SageMaker refuses a storage-volume KMS key for an instance type with "
                             "local storage (the instance encrypts its NVMe store)")
        for k, v in value.items():
            found += rule_problems(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += rule_problems(v, f"{path}[{i}]")
    return found


def validate(service: str, operation: str, params: dict[str, Any]) -> None:
    shape = input_shape(service, operation)
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), f"{service}.{operation}: {report.generate_report()}"
    found = strict_problems(params, shape, operation) + rule_problems(params, operation)
    assert not found, f"{service}.{operation}: " + "; ".join(found)


def strict_problems(value: Any, shape: Any, path: str) -> list[str]:
    """Maximum lengths, patterns, enums and numeric ranges, which ParamValidator does not check."""
    found: list[str] = []
    meta = shape.metadata
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                found += strict_problems(value[name], member, f"{path}.{name}")
    elif shape.type_name == "list":
        if "max" in meta and len(value) > meta["max"]:
            found.append(f"{path}: {len(value)} items > {meta['max']}")
        for i, item in enumerate(value):
            found += strict_problems(item, shape.member, f"{path}[{i}]")
    elif shape.type_name == "map":
        for k, v in value.items():
            found += strict_problems(k, shape.key, f"{path}.<key {k}>")
            found += strict_problems(v, shape.value, f"{path}[{k}]")
    elif shape.type_name == "string":
        if "max" in meta and len(value) > meta["max"]:
            found.append(f"{path}: {len(value)} chars > {meta['max']}: {value!r}")
        if getattr(shape, "enum", None) and value not in shape.enum:
            found.append(f"{path}: {value!r} not in {shape.enum}")
        pattern = meta.get("pattern")
        if pattern:
            try:
                regex = re.compile(pattern, re.DOTALL)
            except re.error:  # Java-style surrogate ranges Python cannot compile
                regex = None
            if regex and not regex.fullmatch(value):
                found.append(f"{path}: {value!r} does not match {pattern}")
    elif shape.type_name in ("integer", "long", "double", "float"):
        if "min" in meta and value < meta["min"]:
            found.append(f"{path}: {value} < {meta['min']}")
        if "max" in meta and value > meta["max"]:
            found.append(f"{path}: {value} > {meta['max']}")
    return found


# ---- security settings ------------------------------------------------------------------------------------

# A member whose name matches this is a security setting: checked against the config, or excused below.
SECURITY_NAME = re.compile(r"(?i)kms|encrypt|^sse|serversideencryption|role(arn)?$|vpc|securitygroup|subnet"
                           r"|networkisolation|securityconfig")


@dataclass(frozen=True)
class Expect:
    """What the config says a security member must be (``None``: the config sets nothing for it)."""

    value: Any
    check: Callable[[Any, Any], bool]
    what: str


def _equal(got: Any, want: Any) -> bool:
    return got == want


def _one_of(got: Any, want: Any) -> bool:
    return got in want


def _same_vpc(got: Any, want: Any) -> bool:
    return isinstance(got, dict) and set(got.get("Subnets", [])) == set(want["Subnets"]) and \
        set(got.get("SecurityGroupIds", [])) == set(want["SecurityGroupIds"])


def configured_roles(cfg: Any) -> set[str]:
    """Every IAM role (ARN or EMR role name) the config names."""
    roles = {cfg.training.sagemaker.role_arn, cfg.deployment.execution_role_arn}
    if cfg.emr is not None:
        roles |= {cfg.emr.cluster.service_role, cfg.emr.cluster.job_flow_role}
        if cfg.emr.serverless is not None:
            roles.add(cfg.emr.serverless.execution_role_arn)
    return {r for r in roles if r}


def configured_kms_keys(cfg: Any) -> set[str]:
    return {k for k in (cfg.aws.kms_key_arn if cfg.aws else None, cfg.deployment.kms_key_arn) if k}


def security_settings(cfg: Any) -> dict[str, Expect]:
    """Member name -> what the config requires there."""
    kms = configured_kms_keys(cfg) or None
    roles = configured_roles(cfg) or None
    aws = cfg.aws
    vpc = ({"Subnets": list(aws.subnet_ids), "SecurityGroupIds": list(aws.security_group_ids)}
           if aws and aws.subnet_ids and aws.security_group_ids else None)
    sgs = list(aws.security_group_ids) if aws and aws.security_group_ids else None
    key = sorted(kms)[0] if kms and len(kms) == 1 else None
    athena_enc = {"EncryptionOption": "SSE_KMS", "KmsKey": key} if key else None
    emr_sc = cfg.emr.cluster.security_configuration if cfg.emr is not None else None

    def k(what: str) -> Expect:
        return Expect(kms, _one_of, f"a configured KMS key ({what})")

    return {
        # KMS keys: aws.kms_key_arn / deployment.kms_key_arn
        "KmsKeyId": k("output / endpoint storage / capture"),
        "VolumeKmsKeyId": k("ML storage volumes"),
        "SSEKMSKeyId": k("S3 SSE-KMS"),
        "LogEncryptionKmsKeyId": k("EMR logs"),
        "encryptionKeyArn": k("EMR Serverless logs"),
        "diskEncryptionConfiguration": Expect(kms, lambda got, want: got.get("encryptionKeyArn") in want,
                                              "a configured KMS key (EMR Serverless local disks)"),
        "ServerSideEncryption": Expect("aws:kms" if kms else None, _equal, "SSE-KMS"),
        "EncryptionConfiguration": Expect(athena_enc, _equal, "Athena results SSE-KMS"),
        # network
        "VpcConfig": Expect(vpc, _same_vpc, "aws.subnet_ids + aws.security_group_ids"),
        "Ec2SubnetIds": Expect(list(aws.subnet_ids) if aws and aws.subnet_ids else None, _equal, "aws.subnet_ids"),
        "AdditionalMasterSecurityGroups": Expect(sgs, _equal, "aws.security_group_ids"),
        "AdditionalSlaveSecurityGroups": Expect(sgs, _equal, "aws.security_group_ids"),
        "EnableNetworkIsolation": Expect(True, _equal, "network isolation"),
        "EnableInterContainerTrafficEncryption": Expect(True, _equal, "inter-container encryption"),
        # EMR security configuration (encryption at rest and in transit)
        "SecurityConfiguration": Expect(emr_sc, _equal, "emr.cluster.security_configuration"),
        # IAM roles
        "RoleArn": Expect(roles, _one_of, "a configured role"),
        "ExecutionRoleArn": Expect(roles, _one_of, "a configured role"),
        "executionRoleArn": Expect(roles, _one_of, "a configured role"),
        "ServiceRole": Expect(roles, _one_of, "a configured role"),
        "JobFlowRole": Expect(roles, _one_of, "a configured role"),
    }


# Security-looking members that are deliberately not set, by member name or "Operation.path" (no indexes).
EXCUSED: dict[str, str] = {
    # S3
    "SSECustomerAlgorithm": "SSE-C (customer-provided keys): the lake uses SSE-KMS",
    "SSECustomerKey": "SSE-C (customer-provided keys): the lake uses SSE-KMS",
    "SSECustomerKeyMD5": "SSE-C (customer-provided keys): the lake uses SSE-KMS",
    "CopySourceSSECustomerAlgorithm": "SSE-C of the copy source: sources use SSE-KMS, decrypted by S3",
    "CopySourceSSECustomerKey": "SSE-C of the copy source: sources use SSE-KMS, decrypted by S3",
    "CopySourceSSECustomerKeyMD5": "SSE-C of the copy source: sources use SSE-KMS, decrypted by S3",
    "SSEKMSEncryptionContext": "optional extra encryption context; the key policy does not require one",
    # EMR
    "AutoScalingRole": "no EMR automatic scaling policy is used (instance fleets, transient cluster)",
    "EmrManagedMasterSecurityGroup": "EMR creates its managed groups; the config adds aws.security_group_ids",
    "EmrManagedSlaveSecurityGroup": "EMR creates its managed groups; the config adds aws.security_group_ids",
    "ServiceAccessSecurityGroup": "EMR creates its managed groups; the config adds aws.security_group_ids",
    "Ec2SubnetId": "Ec2SubnetIds (plural) is set: instance fleets choose among the subnets",
    "AddJobFlowSteps.ExecutionRoleArn": "no EMR runtime roles: the steps run as the cluster's instance profile",
    "RunJobFlow.StepExecutionRoleArn": "no EMR runtime roles: the steps run as the cluster's instance profile",
    "RunJobFlow.Instances.InstanceFleets.InstanceTypeConfigs.EbsConfiguration": "EBS encryption comes from "
    "the security configuration (local disk encryption)",
    "RunJobFlow.Instances.InstanceGroups": "instance fleets are used",
    "RunJobFlow.ManagedScalingPolicy": "no managed scaling",
    "RunJobFlow.KerberosAttributes": "no Kerberos",
    # Athena: the workgroup's own settings
    "StartQueryExecution.ResultReuseConfiguration": "no result reuse",
    # SageMaker: settings for features the pipeline does not use
    "CreateEndpointConfig.ExecutionRoleArn": "only for inference components; the variant serves a Model, "
    "whose own ExecutionRoleArn is set in CreateModel",
    "CreateEndpointConfig.VpcConfig": "only for inference components; CreateModel carries the VPC",
    "CreateEndpointConfig.EnableNetworkIsolation": "only for inference components; CreateModel sets it",
    "CreateEndpointConfig.AsyncInferenceConfig": "no asynchronous inference",
    "CreateEndpointConfig.ShadowProductionVariants": "no shadow variants",
    "CreateEndpointConfig.ExplainerConfig": "no explainer",
    "CreateModel.PrimaryContainer": "Containers (the model package) is used",
    "CreateModel.InferenceExecutionConfig": "one container",
    "CreateTransformJob.DataCaptureConfig": "no data capture of batch transform (the output is the record)",
    "CreateModelPackage.SecurityConfig": "encrypts model card content in the package; none is attached",
    "CreateModelPackage.ModelCard": "no model card",
    "CreateModelPackage.InferenceSpecification.Containers.ModelDataSource": "ModelDataUrl is used",
    "CreateModelPackage.AdditionalInferenceSpecifications": "one inference specification",
    "CreateModelPackage.ValidationSpecification": "no validation job",
    "CreateModelPackage.SourceAlgorithmSpecification": "an image, not an algorithm",
    "CreateModelPackage.DriftCheckBaselines": "no drift baselines attached",
    "CreateModelPackageGroup": "nothing to encrypt",
    "CreateHyperParameterTuningJob.TrainingJobDefinitions": "one training job definition",
    "CreateHyperParameterTuningJob.TrainingJobDefinition.HyperParameterTuningResourceConfig": "ResourceConfig",
    "CreateHyperParameterTuningJob.WarmStartConfig": "no warm start",
    "CreateHyperParameterTuningJob.Autotune": "no autotune",
    "CreateProcessingJob.NetworkConfig.VpcConfig": "checked whole with VpcConfig",
}


def security_problems(service: str, operation: str, params: dict[str, Any], cfg: Any) -> list[str]:
    """Security members the request lacks or sets to something other than the config's value."""
    settings = security_settings(cfg)
    found: list[str] = []

    def excused(name: str, path: str) -> bool:
        return name in EXCUSED or path in EXCUSED or any(path.startswith(p + ".") for p in EXCUSED if "." in p)

    def walk(value: Any, shape: Any, path: str) -> None:
        if shape.type_name == "list":
            for item in value:
                walk(item, shape.member, path)
            return
        if shape.type_name == "map":
            for item in value.values():
                walk(item, shape.value, path)
            return
        if shape.type_name != "structure":
            return
        for name, member in shape.members.items():
            mpath = f"{path}.{name}"
            if excused(name, mpath) and name not in value:
                continue
            expect = settings.get(name)
            if expect is not None and kms_refused(name, value, mpath):
                continue  # not allowed here: rule_problems reports it when present
            if expect is not None and not excused(name, mpath):
                if expect.value is None:
                    pass  # the config sets nothing for it
                elif name not in value:
                    found.append(f"{service}.{mpath}: missing; the config sets {expect.what}: {expect.value!r}")
                elif not expect.check(value[name], expect.value):
                    found.append(f"{service}.{mpath}: {value[name]!r} is not {expect.what}: {expect.value!r}")
                continue
            if SECURITY_NAME.search(name) and not excused(name, mpath) and expect is None:
                found.append(f"{service}.{mpath}: looks like a security setting; check it in security_settings() "
                             "or excuse it in EXCUSED with the reason")
                continue
            if name in value:
                walk(value[name], member, mpath)

    walk(params, input_shape(service, operation), operation)
    return found


# ---- recording the calls clients make -----------------------------------------------------------------------


@contextlib.contextmanager
def record_calls() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Every ``(service, operation, params)`` a botocore client sends inside the block, with the params as
    botocore validates and serializes them (after its own handlers, e.g. S3's CopySource dict -> string)."""
    import copy

    from botocore.client import BaseClient

    calls: list[tuple[str, str, dict[str, Any]]] = []
    original = BaseClient._convert_to_request_dict

    def recording(self: Any, api_params: dict[str, Any], operation_model: Any, *args: Any, **kwargs: Any) -> Any:
        params = {k: b"" if hasattr(v, "read") else copy.deepcopy(v) for k, v in api_params.items()}  # streams
        calls.append((self.meta.service_model.service_name, operation_model.name, params))
        return original(self, api_params, operation_model, *args, **kwargs)

    BaseClient._convert_to_request_dict = recording
    try:
        yield calls
    finally:
        BaseClient._convert_to_request_dict = original


# ---- IAM actions of API operations --------------------------------------------------------------------------

# S3 operations whose IAM action is not s3:<Operation>
_S3_ACTIONS = {
    "HeadObject": ["s3:GetObject"],
    "ListObjectsV2": ["s3:ListBucket"],
    "ListObjects": ["s3:ListBucket"],
    "HeadBucket": ["s3:ListBucket"],
    "CopyObject": ["s3:GetObject", "s3:PutObject"],
    "DeleteObjects": ["s3:DeleteObject"],
    "CreateMultipartUpload": ["s3:PutObject"],
    "UploadPart": ["s3:PutObject"],
    "CompleteMultipartUpload": ["s3:PutObject"],
    "AbortMultipartUpload": ["s3:AbortMultipartUpload"],
}


def iam_actions(service: str, operation: str) -> list[str]:
    """The IAM action(s) an API call needs (the service's signing name is the IAM prefix)."""
    if service == "s3" and operation in _S3_ACTIONS:
        return _S3_ACTIONS[operation]
    prefix = SESSION.get_service_model(service).signing_name
    return [f"{prefix}:{operation}"]
