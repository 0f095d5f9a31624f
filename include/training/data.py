"""Reading a channel, the feature schema, and the time-based split.

A channel is a directory of Parquet or CSV files (with a header), e.g. what Spark writes: every file under it
is read in sorted path order, except names starting with ``.`` or ``_`` (``_SUCCESS``, ``.crc``). The
feature schema is fixed on the training channel: the feature columns in order, each numeric (float32) or
categorical (its categories, sorted); validation, test and serving data are encoded with it, so a category
never seen in training becomes a missing value, never a new code.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz")


class DataError(ValueError):
    """The input data cannot be used as given; the message says what to change."""


def channel_files(path: str) -> list[str]:
    """Data files of a channel directory (or the file itself), sorted, hidden and marker files skipped."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise DataError(f"channel directory {path} does not exist")
    files = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        files.extend(os.path.join(root, n) for n in names if not n.startswith((".", "_")))
    return sorted(files)


def read_channel(path: str, name: str = "channel") -> pd.DataFrame:
    """All rows of a channel as one DataFrame (Parquet through pyarrow, CSV through pandas)."""
    files = channel_files(path)
    parquet = [f for f in files if f.lower().endswith(PARQUET_SUFFIXES)]
    csv = [f for f in files if f.lower().endswith(CSV_SUFFIXES)]
    if not parquet and not csv:
        raise DataError(f"channel '{name}' at {path} holds no .parquet or .csv files (found {len(files)} other files)")
    if parquet and csv:
        raise DataError(f"channel '{name}' at {path} mixes Parquet and CSV files; give one format per channel")
    if parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = [pq.read_table(f) for f in parquet]
        if len(tables) == 1:
            table = tables[0]
        else:
            try:
                table = pa.concat_tables(tables, promote_options="default")
            except TypeError:  # pyarrow < 14 (older framework images)
                table = pa.concat_tables(tables, promote=True)
        return table.to_pandas()
    return pd.concat([pd.read_csv(f) for f in csv], ignore_index=True)


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str                      # "numeric" | "categorical"
    dtype: str                     # the source column's dtype, for the record
    categories: list[str] | None = None


@dataclass(frozen=True)
class FeatureSchema:
    """The model's input: what serving must send, in this order (``feature_schema.json``)."""

    label: str
    features: list[Feature]
    excluded: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def to_dict(self) -> dict[str, object]:
        return {"format": 1, "label": self.label, "excluded": list(self.excluded),
                "features": [{k: v for k, v in asdict(f).items() if v is not None} for f in self.features]}

    @classmethod
    def from_dict(cls, doc: dict[str, object]) -> FeatureSchema:
        feats = [Feature(name=f["name"], kind=f["kind"], dtype=f["dtype"], categories=f.get("categories"))
                 for f in doc["features"]]  # type: ignore[union-attr]
        return cls(label=str(doc["label"]), features=feats, excluded=list(doc.get("excluded") or []))  # type: ignore[arg-type]


def infer_schema(df: pd.DataFrame, label: str, exclude: Sequence[str] = (), features: Sequence[str] = (),
                 categorical: Sequence[str] | None = None) -> FeatureSchema:
    """The schema of a training frame. Raises :class:`DataError` naming the columns at fault."""
    columns = [str(c) for c in df.columns]
    if label not in columns:
        raise DataError(f"label column {label!r} is not in the data; columns are {columns}")
    missing = [c for c in features if c not in columns]
    if missing:
        raise DataError(f"features {missing} are not in the data; columns are {columns}")
    chosen = list(features) if features else [c for c in columns if c != label and c not in set(exclude)]
    if not chosen:
        raise DataError(f"no feature columns left after excluding {list(exclude)} and the label {label!r}")
    forced = set(categorical or [])
    unknown_cat = sorted(forced - set(chosen))
    if unknown_cat:
        raise DataError(f"categorical columns {unknown_cat} are not among the features {chosen}")
    out = []
    for name in chosen:
        col = df[name]
        dtype = str(col.dtype)
        is_text = (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
                   or isinstance(col.dtype, pd.CategoricalDtype))
        if pd.api.types.is_datetime64_any_dtype(col) or _holds_dates(col):
            raise DataError("column {!r} holds dates/times ({}): exclude it (exclude={}) or turn it into a number "
                            "(e.g. days since)".format(name, dtype, ",".join(list(exclude) + [name])))
        if name in forced or (categorical is None and is_text):
            cats = sorted({str(v) for v in col.dropna().unique()})
            out.append(Feature(name=name, kind="categorical", dtype=dtype, categories=cats))
        elif is_text:
            listed = ",".join(categorical or [])
            raise DataError(f"column {name!r} is text ({dtype}) but not listed in categorical={listed}; list it or "
                            f"exclude it")
        else:
            out.append(Feature(name=name, kind="numeric", dtype=dtype))
    return FeatureSchema(label=label, features=out, excluded=[c for c in exclude if c in columns])


def _holds_dates(col: pd.Series) -> bool:
    if not pd.api.types.is_object_dtype(col):
        return False
    sample = col.dropna().head(5)
    return len(sample) > 0 and all(isinstance(v, (dt.date, dt.datetime, pd.Timestamp)) for v in sample)


def encode(df: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """The feature frame XGBoost sees: schema order, float32 numbers, fixed categories (unseen -> missing)."""
    missing = [n for n in schema.names if n not in df.columns]
    if missing:
        raise DataError(f"features {missing} are missing from the data; it has {[str(c) for c in df.columns]}")
    cols = {}
    for f in schema.features:
        col = df[f.name]
        if f.kind == "categorical":
            values = col.astype("object").where(col.notna(), None)
            values = values.map(lambda v: None if v is None else str(v))
            cols[f.name] = pd.Categorical(values, categories=f.categories or [])
        else:
            try:
                cols[f.name] = pd.to_numeric(col, errors="raise").astype("float32")
            except (TypeError, ValueError):
                raise DataError(f"feature {f.name!r} must be numeric, it holds e.g. {col.dropna().iloc[0]!r}") from None
    return pd.DataFrame(cols, index=df.index)


def labels(df: pd.DataFrame, label: str, channel: str = "train") -> np.ndarray:
    """The 0/1 label as float32; missing or non-binary values are an error (counted, with examples)."""
    if label not in df.columns:
        raise DataError(f"channel '{channel}' has no label column {label!r}")
    col = df[label]
    if col.isna().any():
        raise DataError(f"channel '{channel}': {int(col.isna().sum())} rows have no label {label!r}; drop or fill "
                        f"them before training")
    values = pd.to_numeric(col.astype("int64") if col.dtype == bool else col, errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        examples = [v.item() if hasattr(v, "item") else v for v in col[bad].unique()[:5]]
        raise DataError(f"channel '{channel}': label {label!r} must be 0/1 (or true/false), found e.g. {examples}")
    return values.to_numpy(dtype="float32")


def split_by_time(df: pd.DataFrame, time_column: str, windows: dict[str, tuple[dt.date, dt.date]]
                  ) -> dict[str, pd.DataFrame]:
    """Rows per named window ``[start, end)`` of ``time_column`` (dates or timestamps), e.g. the windows of
    ``TrainingConfig.split.windows(ds)``: {'train': (d0, d1), 'validation': (d1, d2), 'test': (d2, d3)}."""
    if time_column not in df.columns:
        raise DataError(f"time column {time_column!r} is not in the data; columns are {list(df.columns)}")
    when = pd.to_datetime(df[time_column])
    if when.dt.tz is not None:
        when = when.dt.tz_convert(None)
    out = {}
    for name, (start, end) in windows.items():
        mask = (when >= pd.Timestamp(start)) & (when < pd.Timestamp(end))
        out[name] = df.loc[mask].reset_index(drop=True)
    return out
