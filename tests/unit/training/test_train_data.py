"""Channels, the feature schema and the time split."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from training.data import DataError, encode, infer_schema, labels, read_channel, split_by_time


def frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3, 4], "as_of": pd.to_datetime(["2026-01-01"] * 4),
                         "x": [1.0, None, 3.0, 4.0], "n": [1, 2, 3, 4], "flag": [True, False, True, False],
                         "plan": ["a", "b", None, "a"], "y": [0, 1, 0, 1]})


def test_schema_order_kinds_and_categories():
    s = infer_schema(frame(), "y", exclude=["id", "as_of"])
    assert s.names == ["x", "n", "flag", "plan"]
    assert [f.kind for f in s.features] == ["numeric", "numeric", "numeric", "categorical"]
    assert s.features[3].categories == ["a", "b"]
    assert s.to_dict()["excluded"] == ["id", "as_of"]
    assert type(s).from_dict(s.to_dict()) == s


def test_encode_fixes_order_dtypes_and_unseen_categories():
    s = infer_schema(frame(), "y", exclude=["id", "as_of"])
    new = frame().iloc[[0, 1]].assign(plan=["a", "zzz"])[["plan", "flag", "n", "x", "y"]]
    X = encode(new, s)
    assert list(X.columns) == s.names and X["x"].dtype == np.float32
    assert list(X["plan"].cat.categories) == ["a", "b"] and X["plan"].isna().tolist() == [False, True]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"label": "churn"}, "label column 'churn' is not in the data; columns are"),
    ({"label": "y", "exclude": ["id"]}, "column 'as_of' holds dates/times"),
    ({"label": "y", "exclude": ["id", "as_of"], "features": ["x", "nope"]}, "features ['nope'] are not in the data"),
    ({"label": "y", "exclude": ["id", "as_of"], "categorical": ["n", "q"]}, "categorical columns ['q'] are not among"),
    ({"label": "y", "exclude": ["id", "as_of"], "categorical": ["n"]}, "column 'plan' is text"),
])
def test_schema_errors_name_the_column(kwargs, message):
    with pytest.raises(DataError, match=re.escape(message)):
        infer_schema(frame(), **kwargs)


def test_label_must_be_binary_and_present():
    assert labels(frame(), "y").tolist() == [0, 1, 0, 1]
    assert labels(frame().assign(y=[True, False, True, True]), "y").tolist() == [1, 0, 1, 1]
    with pytest.raises(DataError, match="2 rows have no label 'y'"):
        labels(frame().assign(y=[0, None, None, 1]), "y")
    with pytest.raises(DataError, match=r"label 'y' must be 0/1 \(or true/false\), found e.g. \[2\]"):
        labels(frame().assign(y=[0, 2, 1, 1]), "y")


def test_channels_read_parquet_and_csv_and_refuse_a_mix(tmp_path):
    pq_dir, csv_dir, mixed, empty = (tmp_path / n for n in ("pq", "csv", "mixed", "empty"))
    for d in (pq_dir, csv_dir, mixed, empty, pq_dir / "dt=2026-01-02"):
        d.mkdir(parents=True, exist_ok=True)
    df = frame().drop(columns=["as_of"])
    df.iloc[:2].to_parquet(pq_dir / "part-1.parquet")
    df.iloc[2:].to_parquet(pq_dir / "dt=2026-01-02" / "part-2.parquet")
    (pq_dir / "_SUCCESS").touch()
    (pq_dir / ".part-1.parquet.crc").write_text("x")
    df.to_csv(csv_dir / "a.csv", index=False)
    df.to_csv(mixed / "a.csv", index=False)
    df.to_parquet(mixed / "b.parquet")
    (empty / "readme.txt").write_text("nothing")
    assert read_channel(str(pq_dir))["id"].tolist() == [3, 4, 1, 2]  # sorted paths: dt=.../part-2 first
    assert read_channel(str(csv_dir))["plan"].tolist()[:2] == ["a", "b"]
    with pytest.raises(DataError, match="mixes Parquet and CSV"):
        read_channel(str(mixed), "train")
    with pytest.raises(DataError, match="channel 'train' at .* holds no .parquet or .csv files"):
        read_channel(str(empty), "train")
    with pytest.raises(DataError, match="does not exist"):
        read_channel(str(tmp_path / "missing"))


def test_split_by_time_windows_are_half_open():
    days = pd.to_datetime(["2026-01-01", "2026-01-05", "2026-01-10", "2026-01-15", "2026-01-20"])
    df = pd.DataFrame({"as_of": days, "v": range(5)})
    d = dt.date
    parts = split_by_time(df, "as_of", {"train": (d(2026, 1, 1), d(2026, 1, 10)),
                                        "validation": (d(2026, 1, 10), d(2026, 1, 15)),
                                        "test": (d(2026, 1, 15), d(2026, 1, 20))})
    assert {k: v["v"].tolist() for k, v in parts.items()} == {"train": [0, 1], "validation": [2], "test": [3]}
