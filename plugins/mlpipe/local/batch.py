"""Local batch transform: the inference handler over a Parquet partition, in chunks (SageMaker batch
transform's stand-in on the local stack).

``batch_transform(model_dir, input, output_dir)`` reads every Parquet file of the input partition in
chunks of ``chunk_rows`` rows, checks each chunk against the model's feature schema and predicts with the
handler's own ``predict_fn`` (``serving.inference``: the same schema checks and the same XGBoost
prediction as the endpoint; only the decoding differs: Arrow columns instead of CSV/JSON text, categories
mapped to their index by Arrow), and writes a predictions partition::

    <output_dir>/part-00000.parquet     the id columns, then `prediction` (or prediction_0..k-1 for a
                                        multi-output model), one row per input row, in input order
    <output_dir>/_batch_summary.json    the BatchSummary
    <output_dir>/_SUCCESS

atomically (``mlpipe.lake.atomic_partition``): a rerun replaces the partition, a failure leaves the previous
one as it was. Id columns: ``id_columns`` if given, else the schema's ``excluded`` columns (the training job's id
and time columns) that the input has, else every input column that is neither a feature nor the label. A chunk that fails the schema fails the whole transform with
``BatchTransformError`` naming the file, the row and what is wrong (as SageMaker batch transform fails a job
on a 4xx from the container).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from mlpipe.errors import MlPipeError
from mlpipe.lake import atomic_partition, to_path

DEFAULT_CHUNK_ROWS = 65_536
PREDICTION_COLUMN = "prediction"
OUTPUT_FILE = "part-00000.parquet"
SUMMARY_FILE = "_batch_summary.json"


class BatchTransformError(MlPipeError):
    """The input cannot be transformed (missing columns, wrong types, invalid values, no input)."""


@dataclass(frozen=True)
class BatchSummary:
    input_files: list[str]
    output_dir: str
    output_file: str
    rows_in: int
    rows_out: int
    chunks: int
    id_columns: list[str]
    prediction_columns: list[str]
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows_out / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "rows_per_second": round(self.rows_per_second, 1)}


def _input_files(input_uri_or_dir: str | Path) -> list[Path]:
    text = str(input_uri_or_dir)
    if text.startswith("s3://"):
        raise BatchTransformError(f"{text}: the local batch transform reads local partitions; on the aws stack "
                                  f"batch transform runs as a SageMaker transform job")
    path = to_path(text) if text.startswith("file://") else Path(text)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise BatchTransformError(f"input {path} does not exist; pass a Parquet partition directory or file")
    files = sorted(p for p in path.rglob("*.parquet")
                   if not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
    if not files:
        raise BatchTransformError(f"no Parquet files in {path}")
    return files


def _column(table_column, feature, file: Path):  # -> np.ndarray (float32)
    """One feature column as the handler's float32 input: numbers as they are, categories as their index in
    the schema's list (an unseen or missing category is NaN, as the training job encodes it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = table_column.type
    if feature.type == "category":
        if pa.types.is_dictionary(t) or not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            table_column = pc.cast(table_column, pa.string())
        codes = pc.index_in(table_column, value_set=pa.array(list(feature.categories), pa.string()))
        return pc.cast(codes, pa.float32()).to_numpy(zero_copy_only=False)
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
            or pa.types.is_decimal(t) or pa.types.is_null(t)):
        raise BatchTransformError(f"{file}: feature column '{feature.name}' has Arrow type {t}; the model needs "
                                  f"numbers ({feature.type})")
    return pc.cast(table_column, pa.float32(), safe=False).to_numpy(zero_copy_only=False)


def batch_transform(model_dir: str | Path, input_uri_or_dir: str | Path, output_dir: str | Path,
                    chunk_rows: int = DEFAULT_CHUNK_ROWS, *, id_columns: Sequence[str] | None = None,
                    nthread: int | None = None) -> BatchSummary:
    """Predict every row of a Parquet partition; write the predictions partition atomically; summary back.

    ``input_uri_or_dir``: a ``file://`` URI, a directory (its ``*.parquet`` files, hidden and ``_`` files
    skipped) or one file. ``output_dir``: the predictions partition directory (replaced whole).
    ``nthread``: XGBoost threads (default: all cores).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from serving import inference

    if chunk_rows < 1:
        raise BatchTransformError(f"chunk_rows must be >= 1, got {chunk_rows}")
    start = time.perf_counter()
    files = _input_files(input_uri_or_dir)
    try:
        model = inference.load_model(model_dir, nthread=nthread)
    except inference.ModelLoadError as exc:
        raise BatchTransformError(str(exc)) from exc
    schema = model.schema
    features = schema.names

    first = pq.ParquetFile(files[0]).schema_arrow
    if id_columns is not None:
        ids = list(id_columns)
    else:
        ids = [c for c in schema.id_columns if c in first.names] or [
            c for c in first.names if c not in features and c != schema.target]
    out_path = Path(to_path(str(output_dir)) if str(output_dir).startswith("file://") else output_dir)

    rows_in = rows_out = chunks = 0
    pred_cols: list[str] = []
    with atomic_partition(out_path) as tmp:
        writer: pq.ParquetWriter | None = None
        try:
            for file in files:
                pf = pq.ParquetFile(file)
                names = pf.schema_arrow.names
                missing = [c for c in [*features, *ids] if c not in names]
                if missing:
                    raise BatchTransformError(f"{file}: missing column{'s' if len(missing) > 1 else ''} {missing}; "
                                              f"the model needs {features} and the id columns {ids}")
                rows_in += pf.metadata.num_rows
                offset = 0
                for batch in pf.iter_batches(batch_size=chunk_rows, columns=[*ids, *features], use_threads=True):
                    n = batch.num_rows
                    X = np.empty((n, len(features)), dtype=np.float32)
                    for j, feature in enumerate(schema.features):
                        X[:, j] = _column(batch.column(feature.name), feature, file)
                    try:
                        pred = inference.predict_fn(inference.Payload(matrix=X, source="parquet", row_offset=offset),
                                                    model)
                    except inference.InferenceError as exc:
                        raise BatchTransformError(f"{file}: {exc.message}") from exc
                    if len(pred) != n:
                        raise BatchTransformError(f"{file}: {n} rows gave {len(pred)} predictions")
                    if pred.ndim == 1:
                        pred_cols = [PREDICTION_COLUMN]
                        out_cols = [pa.array(pred)]
                    else:
                        pred_cols = [f"{PREDICTION_COLUMN}_{k}" for k in range(pred.shape[1])]
                        out_cols = [pa.array(pred[:, k]) for k in range(pred.shape[1])]
                    table = pa.Table.from_arrays([batch.column(c) for c in ids] + out_cols, names=[*ids, *pred_cols])
                    if writer is None:
                        writer = pq.ParquetWriter(tmp / OUTPUT_FILE, table.schema)
                    writer.write_table(table)
                    rows_out += n
                    offset += n
                    chunks += 1
        finally:
            if writer is not None:
                writer.close()
        if writer is None:  # no rows at all: an empty file with the id columns and the prediction column
            fields = [first.field(c) for c in ids] + [pa.field(PREDICTION_COLUMN, pa.float32())]
            pred_cols = [PREDICTION_COLUMN]
            pq.write_table(pa.schema(fields).empty_table(), tmp / OUTPUT_FILE)
        if rows_out != rows_in:
            raise BatchTransformError(f"{rows_in} rows in but {rows_out} predictions out; nothing was written")
        summary = BatchSummary(input_files=[str(f) for f in files], output_dir=str(out_path),
                               output_file=str(out_path / OUTPUT_FILE), rows_in=rows_in, rows_out=rows_out,
                               chunks=chunks, id_columns=ids, prediction_columns=pred_cols,
                               seconds=round(time.perf_counter() - start, 4))
        (tmp / SUMMARY_FILE).write_text(json.dumps(summary.to_dict(), indent=2))
    return summary
