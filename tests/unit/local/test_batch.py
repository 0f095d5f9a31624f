"""Local batch transform: one prediction per input row, equal to in-process predictions, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlpipe.lake import SUCCESS_MARKER
from mlpipe.local.batch import BatchTransformError, batch_transform
from serving.testing import DEFAULT_FEATURES, make_model_dir, synthetic_features


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("batch") / "model")


@pytest.fixture(scope="module")
def booster(model_dir: Path):
    import xgboost as xgb

    return xgb.Booster(model_file=str(model_dir / "model.json"))


def write_partition(path: Path, sizes: tuple[int, ...] = (1000, 537), seed: int = 0) -> np.ndarray:
    """A gold-like partition: customer_id, the features (nulls where nullable), a target; returns X."""
    path.mkdir(parents=True, exist_ok=True)
    X = synthetic_features(sum(sizes), seed=seed, missing_rate=0.05)
    start = 0
    for i, n in enumerate(sizes):
        cols: dict[str, pa.Array] = {"customer_id": pa.array(np.arange(start, start + n) * 7, pa.int64())}
        for j, f in enumerate(DEFAULT_FEATURES):
            col = X[start:start + n, j]
            mask = np.isnan(col)
            if f.type == "int":
                cols[f.name] = pa.array(np.nan_to_num(col).astype(np.int64), mask=mask)
            elif f.type == "bool":
                cols[f.name] = pa.array(col.astype(bool), mask=mask)
            elif f.type == "category":
                names = np.array(f.categories, dtype=object)[np.nan_to_num(col).astype(int)]
                cols[f.name] = pa.array(names, pa.string(), mask=mask).dictionary_encode() if i % 2 else pa.array(
                    names, pa.string(), mask=mask)  # Spark writes either
            else:
                cols[f.name] = pa.array(col.astype(np.float64), mask=mask)
        cols["churned"] = pa.array(np.zeros(n, dtype=np.int8))
        pq.write_table(pa.table(cols), path / f"part-{i:05d}.parquet")
        start += n
    (path / SUCCESS_MARKER).touch()
    return X


def test_one_prediction_per_row_equal_to_in_process(model_dir: Path, booster, tmp_path: Path) -> None:
    X = write_partition(tmp_path / "gold" / "dt=2026-11-03")
    out = tmp_path / "pred" / "dt=2026-11-03"
    summary = batch_transform(model_dir, f"file://{tmp_path / 'gold' / 'dt=2026-11-03'}", out, chunk_rows=128)
    assert summary.rows_in == summary.rows_out == len(X) == 1537
    assert summary.chunks == 8 + 5  # 1000 rows -> 8 chunks of 128, 537 -> 5
    assert summary.id_columns == ["customer_id"] and summary.prediction_columns == ["prediction"]
    table = pq.read_table(out / "part-00000.parquet")
    assert table.num_rows == len(X)
    assert table.column_names == ["customer_id", "prediction"]
    assert table.column("customer_id").to_pylist() == [i * 7 for i in range(len(X))]
    np.testing.assert_array_equal(table.column("prediction").to_numpy(), booster.inplace_predict(X))
    assert (out / SUCCESS_MARKER).exists()
    assert json.loads((out / "_batch_summary.json").read_text())["rows_out"] == len(X)


def test_rerun_replaces_and_a_failure_leaves_the_partition_as_it_was(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred"
    write_partition(tmp_path / "a", sizes=(300,))
    batch_transform(model_dir, tmp_path / "a", out)
    write_partition(tmp_path / "b", sizes=(50,), seed=4)
    assert batch_transform(model_dir, tmp_path / "b", out).rows_out == 50
    assert pq.read_table(out / "part-00000.parquet").num_rows == 50  # replaced, not appended
    before = (out / "part-00000.parquet").read_bytes()

    bad = tmp_path / "bad"
    write_partition(bad, sizes=(20,))
    t = pq.read_table(bad / "part-00000.parquet")
    idx = t.column_names.index("tenure_days")
    values = [float(v) for v in range(20)]
    values[14] = 1.5
    pq.write_table(t.set_column(idx, "tenure_days", pa.array(values)), bad / "part-00000.parquet")
    with pytest.raises(BatchTransformError, match=r"part-00000.parquet: row 15, feature 'tenure_days' \(column 1\) "
                                                  r"is an integer feature; got 1.5"):
        batch_transform(model_dir, bad, out, chunk_rows=8)  # the row counts across chunks
    assert (out / "part-00000.parquet").read_bytes() == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_missing_and_non_numeric_columns_are_named(model_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_partition(src, sizes=(10,))
    t = pq.read_table(src / "part-00000.parquet")
    pq.write_table(t.drop(["spend_30d"]), src / "part-00000.parquet")
    with pytest.raises(BatchTransformError, match=r"missing column \['spend_30d'\]"):
        batch_transform(model_dir, src, tmp_path / "out")
    idx = t.column_names.index("spend_30d")
    pq.write_table(t.set_column(idx, "spend_30d", pa.array(["x"] * 10)), src / "part-00000.parquet")
    with pytest.raises(BatchTransformError, match="'spend_30d' has Arrow type string"):
        batch_transform(model_dir, src, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # a failed transform writes nothing
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchTransformError, match="no Parquet files"):
        batch_transform(model_dir, tmp_path / "empty", tmp_path / "out")


def test_explicit_id_columns_and_multi_output(tmp_path: Path) -> None:
    import xgboost as xgb

    model_dir = make_model_dir(tmp_path / "multi", num_class=3, num_boost_round=3)
    X = write_partition(tmp_path / "src", sizes=(40,))
    summary = batch_transform(model_dir, tmp_path / "src" / "part-00000.parquet", tmp_path / "out",
                              id_columns=["customer_id", "churned"])
    table = pq.read_table(summary.output_file)
    assert table.column_names == ["customer_id", "churned", "prediction_0", "prediction_1", "prediction_2"]
    expected = xgb.Booster(model_file=str(model_dir / "model.json")).inplace_predict(X)
    got = np.column_stack([table.column(f"prediction_{k}").to_numpy() for k in range(3)])
    np.testing.assert_array_equal(got, expected)


def test_an_empty_partition_gives_an_empty_predictions_file(model_dir: Path, tmp_path: Path) -> None:
    write_partition(tmp_path / "src", sizes=(0,))
    summary = batch_transform(model_dir, tmp_path / "src", tmp_path / "out")
    assert summary.rows_in == summary.rows_out == 0
    assert pq.read_table(summary.output_file).column_names == ["customer_id", "prediction"]
