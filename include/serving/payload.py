"""A parsed request (what ``input_fn`` returns) and where one of its rows came from, for messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Payload:
    """The rows of a request, parsed but not yet checked against the schema.

    Exactly one of ``rows`` (positional rows; CSV tokens when ``tokens``), ``records`` (dicts by feature name)
    or ``matrix`` (already numeric, in schema order, e.g. a Parquet chunk) is set."""

    rows: list[Any] | None = None
    records: list[dict] | None = None
    matrix: np.ndarray | None = None
    tokens: bool = False
    source: str = "matrix"
    batch: bool = True
    line_numbers: list[int] | None = field(default=None, repr=False)
    row_offset: int = 0  # rows before this chunk (batch transform), for messages

    @property
    def n_rows(self) -> int:
        if self.matrix is not None:
            return int(self.matrix.shape[0])
        return len(self.records if self.records is not None else self.rows or [])


def row_location(payload: Payload | None, i: int) -> str:
    """Row ``i`` as a message names it: ``CSV line 3``, ``instance 2``, ``the instance``, ``row 10``."""
    if payload is None:
        return f"row {i + 1}"
    if payload.source == "csv":
        return f"CSV line {payload.line_numbers[i] if payload.line_numbers else i + 1}"
    if payload.source == "json":
        return f"instance {i}" if payload.batch else "the instance"
    return f"row {payload.row_offset + i + 1}"
