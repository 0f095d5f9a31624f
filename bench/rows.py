"""The row every benchmark reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Row:
    name: str
    value: float
    unit: str
    target: str
    met: bool
    reference: float | None = None
    reference_name: str | None = None

    @property
    def ratio(self) -> float | None:
        return round(self.value / self.reference, 3) if self.reference else None

    def to_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}
