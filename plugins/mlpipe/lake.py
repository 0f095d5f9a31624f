"""The lake's layout (the same on both stacks) and atomic partition commits on a local filesystem.

:class:`LakeLayout` is the one place a lake path is spelled; every other module asks it::

    <root>/bronze/<source>/<table>/dt=YYYY-MM-DD/        what ingestion landed for that logical date
    <root>/quarantine/<source>/<table>/dt=YYYY-MM-DD/    rejected files/rows, each with its reason
    <root>/manifests/<dag_id>/dt=YYYY-MM-DD.json         rows and files in/out/quarantined per branch
    <root>/_state/<engine>/<source>/...                  bookkeeping of the local DMS/DataSync equivalents
    <root>/_specs/<dag_id>/dt=<ds>/spec.json             the feature job spec the Spark steps read
    <root>/<layer>/<table>/dt=<ds>/                      silver tables and the gold feature table
    <root>/quality/<layer>/<table>/dt=<ds>/result.json   a Spark step's quality verdict (+ report.html)
    <root>/training/<group>/dt=<ds>/                     channels, split.json, tuning/, evaluation/, lineage.json
    <root>/predictions/dt=<ds>/                          batch transform output
    <root>/capture/<endpoint>/<variant>/YYYY/MM/DD/HH/   endpoint data capture (unless configured elsewhere)
    <root>/deployment/<endpoint>/dt=<ds>/deployment.json what ml_deployment deployed
    <root>/<reports_dir>/dt=<ds>/drift.{json,html}       drift reports (monitoring.reports_dir)
    <root>/registry/<group>, <root>/retrain/<group>      the model and retraining Assets' URIs
    <root>/models/<group>/v<version>/                    a model version unpacked (local stack)
    <root>/_staging/<dag_id>/<what>/dt=<ds>/             intermediate inputs of a job (scoring rows)

A partition directory is complete when it holds ``_SUCCESS``; writers build it in a hidden temporary
sibling and swap it in, so a rerun or a backfill replaces a partition and never duplicates it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from mlpipe.paths import local_path

if TYPE_CHECKING:
    from mlpipe.config import PipelineConfig

SUCCESS_MARKER = "_SUCCESS"


@dataclass(frozen=True)
class LakeLayout:
    """URIs of every area of the lake, from its root (file://... or s3://...)."""

    root: str

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> LakeLayout:
        """The lake of a config; a relative local root becomes an absolute file:/// URI."""
        root = cfg.lake.root
        if root.startswith("file://"):
            root = local_path(root).as_uri()
        return cls(root)

    def _join(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def table(self, layer: str, source: str, table: str) -> str:
        return self._join(layer, source, table)

    def partition(self, layer: str, source: str, table: str, ds: str) -> str:
        return self._join(layer, source, table, f"dt={ds}")

    def bronze(self, source: str, table: str, ds: str | None = None) -> str:
        return self.partition("bronze", source, table, ds) if ds else self.table("bronze", source, table)

    def quarantine(self, source: str, table: str, ds: str) -> str:
        return self.partition("quarantine", source, table, ds)

    def manifest(self, dag_id: str, ds: str) -> str:
        return self._join("manifests", dag_id, f"dt={ds}.json")

    def state(self, engine: str, source: str) -> str:
        return self._join("_state", engine, source)

    # ---- ml_features --------------------------------------------------------------------------------------

    def spec(self, dag_id: str, ds: str) -> str:
        """The feature job spec of a date (``write_spec`` writes it, every Spark step reads it)."""
        return self._join("_specs", dag_id, f"dt={ds}", "spec.json")

    def dataset(self, layer: str, table: str, ds: str | None = None) -> str:
        """A silver or gold table (``layer`` 'silver' | 'gold'), or its partition of ``ds``."""
        return self._join(layer, table, f"dt={ds}") if ds else self._join(layer, table)

    def gold(self, name: str, ds: str | None = None) -> str:
        return self.dataset("gold", name, ds)

    def dataset_quarantine(self, layer: str, table: str, ds: str) -> str:
        return self._join("quarantine", layer, table, f"dt={ds}")

    def quality(self, layer: str, table: str, ds: str) -> str:
        """The folder of a dataset's quality verdict (``result.json``) and report (``report.html``)."""
        return self._join("quality", layer, table, f"dt={ds}")

    def quality_result(self, layer: str, table: str, ds: str) -> str:
        return f"{self.quality(layer, table, ds)}/result.json"

    def quality_report(self, layer: str, table: str, ds: str) -> str:
        return f"{self.quality(layer, table, ds)}/report.html"

    def dataset_outputs(self, layer: str, table: str, ds: str) -> dict[str, str]:
        """What a Spark step writes for one dataset and date (the job spec's ``outputs``)."""
        quarantine = self.dataset_quarantine(layer, table, ds)
        return {"partition": self.dataset(layer, table, ds), "quarantine": quarantine,
                "quarantine_rows": f"{quarantine}/rows", "result": self.quality_result(layer, table, ds),
                "report": self.quality_report(layer, table, ds)}

    # ---- ml_training --------------------------------------------------------------------------------------

    def training(self, group: str, ds: str) -> str:
        """The training run of a date: ``{train,validation,test}/``, ``split.json``, ``tuning/``, ``evaluation/``."""
        return self._join("training", group, f"dt={ds}")

    def model_versions(self, group: str) -> str:
        """The model Asset's URI (a new version of the group)."""
        return self._join("registry", group)

    def retrain(self, group: str) -> str:
        """The retraining Asset's URI (drift monitoring requests retraining of the group)."""
        return self._join("retrain", group)

    def local_registry(self) -> str:
        """The local model registry's folder (MLflow's SQLite database)."""
        return self._join("registry")

    def unpacked_model(self, group: str, version: int) -> str:
        """A model version's ``model.tar.gz`` unpacked (as SageMaker unpacks it into /opt/ml/model)."""
        return self._join("models", group, f"v{version}")

    # ---- ml_deployment and ml_monitoring --------------------------------------------------------------------

    def predictions(self, ds: str) -> str:
        return self._join("predictions", f"dt={ds}")

    def staging(self, dag_id: str, what: str, ds: str) -> str:
        return self._join("_staging", dag_id, what, f"dt={ds}")

    def capture(self) -> str:
        """The default data-capture destination (``deployment.data_capture.destination`` overrides it)."""
        return self._join("capture")

    def deployment_record(self, endpoint: str, ds: str) -> str:
        return self._join("deployment", endpoint, f"dt={ds}", "deployment.json")

    def reports(self, reports_dir: str, ds: str | None = None) -> str:
        """Drift reports under ``monitoring.reports_dir``, or the folder of one date."""
        return self._join(reports_dir, f"dt={ds}") if ds else self._join(reports_dir)


def to_path(uri: str) -> Path:
    """The local directory of a file:// lake URI."""
    if not uri.startswith("file://"):
        raise ValueError(f"not a local lake URI: {uri}")
    return Path(unquote(uri.removeprefix("file://"))) if uri.startswith("file:///") else local_path(uri)


@contextlib.contextmanager
def atomic_partition(dest: Path) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces ``dest`` whole, with a _SUCCESS marker.

    On error the temporary directory is removed and ``dest`` is left as it was.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        (tmp / SUCCESS_MARKER).touch()
        old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
        if dest.exists():
            os.rename(dest, old)
        os.rename(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def committed_partitions(table_dir: Path) -> list[Path]:
    """The complete dt=... partitions of a table directory, oldest first."""
    if not table_dir.is_dir():
        return []
    return sorted(p for p in table_dir.glob("dt=*") if (p / SUCCESS_MARKER).exists())
