"""The SageMaker instance families the pipeline accepts, and whether each has local (instance-store) storage.

SageMaker refuses a ``VolumeKmsKeyId`` (training, tuning, processing, transform: ``ResourceConfig``,
``ProcessingClusterConfig``, ``TransformResources``) and an endpoint config's ``KmsKeyId`` for an instance type
with local storage: "Certain Nitro-based instances include local storage ... encrypted using a hardware module
on the instance. You can't request a VolumeKmsKeyId when using an instance type with local storage" (SageMaker
API reference, ``ResourceConfig.VolumeKmsKeyId``; the same sentence on ``ProcessingClusterConfig``,
``TransformResources`` and ``CreateEndpointConfig.KmsKeyId``). On those types SageMaker mounts the NVMe instance
store instead of an EBS volume, and the instance encrypts it (XTS-AES-256, keys destroyed with the instance).

:data:`FAMILIES` is the one table of it; the config's instance-type fields accept exactly its families (for the
kind of job: training and tuning, processing, batch transform, endpoints, as SageMaker offers each family:
tests/aws/test_training_requests.py checks ``jobs`` against botocore's ``*InstanceType`` enums), and every request
builder asks :func:`volume_kms` whether to set the key. Sources of the storage column:

- EC2 user guide, "Instance store volumes" table (awsdocs/amazon-ec2-user-guide, doc_source/InstanceStorage.md,
  last revision before the repository was archived in June 2023): the table lists every instance type with an
  instance store. Listed (NVMe SSD): c5d, m5d, r5d, g4dn, g5, p3dn, p4d, p4de, trn1, trn1n. Not listed although
  the same guide documents the type (so EBS-only): c4, c5, c5n, c6i, m4, m5, m6i, r5, r6i, t2, t3, p2, p3, inf1,
  inf2. SageMaker's developer guide ("Managing storage paths for different types of instance local storage")
  names ml.p4d, ml.g4dn and ml.g5 as NVMe families and ml.c5 and ml.p2 as EBS families.
- p5 (launched July 2023, after that table): 8 x 3.84 TB SSD per p5.48xlarge (silicon.fr's report of the EC2
  Capacity Blocks for ML launch, which lists the P5's specification); the issue that asked for this table
  (issue 13) names p5 among the local-storage families too. Not checked against an AWS page.

Left out because no source at hand says which storage they have: g6, g6e, g7e, p5e, p5en, p6-*, trn2, m7i, c7i,
r7i. Add a family here (with its source) to allow it.
"""

from __future__ import annotations

from dataclasses import dataclass

TRAINING, PROCESSING, TRANSFORM, HOSTING = "training", "processing", "transform", "hosting"
_T, _P, _X, _H = TRAINING, PROCESSING, TRANSFORM, HOSTING


@dataclass(frozen=True)
class InstanceFamily:
    name: str
    local_storage: bool
    jobs: frozenset[str]   # where SageMaker offers the family (botocore's *InstanceType enums; tested)
    what: str


def _f(name: str, local: bool, jobs: str, what: str) -> InstanceFamily:
    kinds = {"t": _T, "p": _P, "x": _X, "h": _H}
    return InstanceFamily(name, local, frozenset(kinds[c] for c in jobs), what)


FAMILIES: dict[str, InstanceFamily] = {f.name: f for f in (
    # EBS-only: the storage volume is EBS and takes VolumeKmsKeyId
    # jobs: t training/tuning, p processing, x batch transform, h endpoints
    _f("t2", False, "h", "burstable, general purpose"),
    _f("t3", False, "tp", "burstable, general purpose"),
    _f("m4", False, "tpxh", "general purpose"),
    _f("m5", False, "tpxh", "general purpose"),
    _f("m6i", False, "tpxh", "general purpose"),
    _f("c4", False, "tpxh", "compute optimized"),
    _f("c5", False, "tpxh", "compute optimized"),
    _f("c5n", False, "t", "compute optimized, network"),
    _f("c6i", False, "tpxh", "compute optimized"),
    _f("r5", False, "tph", "memory optimized"),
    _f("r6i", False, "xh", "memory optimized"),
    _f("p2", False, "tpxh", "GPU (K80)"),
    _f("p3", False, "tpxh", "GPU (V100)"),
    _f("inf1", False, "h", "Inferentia"),
    _f("inf2", False, "xh", "Inferentia2"),
    # local NVMe instance store: no VolumeKmsKeyId (the instance encrypts it)
    _f("m5d", True, "h", "general purpose, NVMe"),
    _f("c5d", True, "h", "compute optimized, NVMe"),
    _f("r5d", True, "tph", "memory optimized, NVMe"),
    _f("g4dn", True, "tpxh", "GPU (T4), NVMe"),
    _f("g5", True, "tpxh", "GPU (A10G), NVMe"),
    _f("p3dn", True, "t", "GPU (V100 32 GB), NVMe"),
    _f("p4d", True, "th", "GPU (A100 40 GB), NVMe"),
    _f("p4de", True, "th", "GPU (A100 80 GB), NVMe"),
    _f("p5", True, "tph", "GPU (H100), NVMe"),
    _f("trn1", True, "txh", "Trainium, NVMe"),
    _f("trn1n", True, "th", "Trainium, NVMe"),
)}


def accepted(kind: str) -> list[str]:
    """The families a ``kind`` of job accepts, sorted."""
    return sorted(f for f, v in FAMILIES.items() if kind in v.jobs)


def family_of(instance_type: str) -> str:
    """``'ml.g5.xlarge'`` -> ``'g5'``."""
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml":
        raise ValueError(f"{instance_type!r} is not a SageMaker instance type (ml.<family>.<size>)")
    return parts[1]


def check_instance_type(instance_type: str, kind: str) -> str:
    """The type, if its family is in :data:`FAMILIES` for ``kind``; :class:`ValueError` listing them otherwise."""
    family = family_of(instance_type)
    if family not in FAMILIES or kind not in FAMILIES[family].jobs:
        names = accepted(kind)
        local = [f for f in names if FAMILIES[f].local_storage]
        ebs = [f for f in names if not FAMILIES[f].local_storage]
        raise ValueError(
            f"{instance_type}: family '{family}' is not one mlpipe.config.instances.FAMILIES accepts for {kind} "
            f"(the table records whether a family has local instance storage, where SageMaker refuses a "
            f"VolumeKmsKeyId); {kind} accepts: EBS storage {ebs}, local NVMe storage {local}")
    return instance_type


def has_local_storage(instance_type: str) -> bool:
    family = family_of(instance_type)
    if family not in FAMILIES:
        raise ValueError(f"{instance_type}: family '{family}' is not in mlpipe.config.instances.FAMILIES")
    return FAMILIES[family].local_storage


def volume_kms(instance_type: str, key: str | None, field: str = "VolumeKmsKeyId") -> dict[str, str]:
    """``{field: key}`` where SageMaker accepts a KMS key for the instance's storage volume, else ``{}`` (no key
    configured, or the instance type has local storage, which the instance encrypts itself)."""
    if not key or has_local_storage(instance_type):
        return {}
    return {field: key}


__all__ = ["FAMILIES", "HOSTING", "PROCESSING", "TRAINING", "TRANSFORM", "InstanceFamily", "accepted",
           "check_instance_type", "family_of", "has_local_storage",
           "volume_kms"]
