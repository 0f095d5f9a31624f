"""What each ingestion branch reports, and the run manifest that collects the reports of one DAG run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TableLanding:
    """What one branch landed for one table and logical date (counts are never silently dropped)."""

    source: str
    table: str
    ds: str
    partition_uri: str
    files_in: int = 0
    files_out: int = 0
    files_quarantined: int = 0
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    quarantine_uri: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rows_in != self.rows_out + self.rows_quarantined:
            raise ValueError(
                f"{self.source}.{self.table} {self.ds}: rows_in ({self.rows_in}) != rows_out ({self.rows_out}) "
                f"+ rows_quarantined ({self.rows_quarantined}); a row was lost"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableLanding:
        return cls(**data)


def build_manifest(dag_id: str, ds: str, landings: list[TableLanding]) -> dict[str, Any]:
    """The run manifest: per table what came in, what landed and what was quarantined, plus totals."""
    return {
        "dag_id": dag_id,
        "ds": ds,
        "tables": [landing.to_dict() for landing in landings],
        "totals": {
            key: sum(getattr(landing, key) for landing in landings)
            for key in ("files_in", "files_out", "files_quarantined", "rows_in", "rows_out", "rows_quarantined")
        },
    }
