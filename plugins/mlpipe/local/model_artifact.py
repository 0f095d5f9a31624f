"""A model version's directory on this machine (what SageMaker unpacks ModelDataUrl into, /opt/ml/model).

:func:`model_dir_of`: the training trial's own directory when it is on this machine, else the model artifact
itself when it is a directory, else its ``model.tar.gz`` fetched through the lake's storage (``file://`` or
``s3://``) and unpacked once into ``dest``.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpipe.errors import MlPipeError
from mlpipe.lake import to_path

if TYPE_CHECKING:
    from mlpipe.services.storage import Storage

SCHEMA_FILE = "feature_schema.json"   # include/training/train.py writes it beside every model


def artifact_uri(uri: str) -> str:
    """A model URI as a storage URI (a bare local path becomes ``file://``)."""
    return uri if "://" in uri else Path(uri).resolve().as_uri()


def model_dir_of(package: dict[str, Any], storage: Storage, dest: Path) -> Path:
    """The directory of ``package`` (a :meth:`ModelPackage.to_dict`), unpacking its artifact into ``dest``."""
    trial_dir = ((package.get("lineage") or {}).get("best_trial") or {}).get("model_dir")
    if trial_dir and (Path(trial_dir) / SCHEMA_FILE).is_file():
        return Path(trial_dir)
    uri = artifact_uri(str(package["model_uri"]))
    if uri.startswith("file://") and to_path(uri).is_dir():
        return to_path(uri)
    if (dest / SCHEMA_FILE).is_file():
        return dest
    if not storage.exists(uri):
        raise MlPipeError(f"version {package['version']} of {package['group']}: model artifact {uri} does not exist")
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        with storage.local_file(uri) as tar_path, tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter="data")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest
