"""The local stand-in for AWS DMS: full load + CDC from a SQL database into DMS's S3 target layout.

For each configured table and logical date ``ds`` it writes ``bronze/<source>/<table>/dt=<ds>/``:

* the table's first date (recorded in ``_state/dms/<source>/state.json``) gets a **full load**, the
  table *as of the end of that date*: the current rows with every later change undone from the
  change log's before-images. Files ``LOAD00000001.parquet``, ... with ``Op`` = ``I``.
* every later date gets **CDC**: the change-log entries committed in ``[ds, ds + 1 day)``, in commit
  (``seq``) order, in files named after their first commit time (``YYYYMMDD-HHMMSSfff.parquet``),
  ``Op`` = ``I``/``U``/``D`` with the after-image (the before-image for ``D``).

``_dms_change_seq`` is written as DMS writes ``$AR_H_CHANGE_SEQ``: a string, empty for full-load rows and
35 digits for CDC rows (commit time ``YYYYMMDDhhmmsshh`` + the log's ``seq`` as a 19-digit counter, see
:func:`mlpipe.local.cdc.change_seq`). ``_dms_commit_ts`` is the commit time (CDC) or the as-of time (full load).

Files hold at most ``defaults.DMS_FULL_LOAD_ROWS_PER_FILE`` rows (CDC too); a day without changes
lands an empty, committed partition. In the TableLanding, rows_in counts the rows (full load) or the
log entries (CDC) read, files_in the one table or log read, and details carry the mode, the as-of time
or the commit window, and the seq range.

Both are functions of the log and the date only, so a rerun (or a backfill) rewrites the same
partition whatever happened in the database since. Every file has ``Op``, ``_dms_commit_ts`` and
``_dms_change_seq`` first, then the table's columns typed from the database (see :func:`arrow_type`).
Row images that do not fit those types go to the quarantine partition with a ``_reason``.
The change log is installed on the source by :func:`mlpipe.local.cdc.enable_cdc`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mlpipe import defaults
from mlpipe.config.model import DatabaseSource, TableSpec
from mlpipe.errors import ConfigError, MlPipeError, SourceUnavailableError
from mlpipe.lake import LakeLayout, atomic_partition, to_path
from mlpipe.local.cdc import (
    FULL_LOAD_CHANGE_SEQ,
    LOG_TABLE,
    change_seq,
    create_source_engine,
    log_tables,
    masked,
    resolve_url,
    row_image_sql,
)
from mlpipe.manifest import TableLanding

STATE_FILE = "state.json"
QUARANTINE_FILE = "rows.jsonl"
FETCH_ROWS = 10_000
META_SCHEMA = [
    pa.field(defaults.DMS_OP_COLUMN, pa.string(), nullable=False),
    pa.field(defaults.DMS_COMMIT_TS_COLUMN, pa.timestamp("us"), nullable=False),
    pa.field(defaults.DMS_CHANGE_SEQ_COLUMN, pa.string(), nullable=False),
]

Converter = Callable[[Any], Any]
Key = tuple[Any, ...]


class CastError(ValueError):
    """A value of a row image does not fit its column's type."""


# ---------------------------------------------------------------- types


def arrow_type(sa_type: sa.types.TypeEngine[Any]) -> pa.DataType:
    """The Arrow type bronze uses for a reflected SQL column type."""
    if isinstance(sa_type, sa.Boolean):
        return pa.bool_()
    if isinstance(sa_type, sa.DateTime):
        return pa.timestamp("us")
    if isinstance(sa_type, sa.Date):
        return pa.date32()
    if isinstance(sa_type, sa.Integer):
        return pa.int64()
    if isinstance(sa_type, sa.Numeric):  # Float and Double are Numeric too
        return pa.float64()
    return pa.string()


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                number = float("nan")
            if number.is_integer():
                return int(number)
    raise CastError(f"{value!r} is not an integer")


def _to_float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise CastError(f"{value!r} is not a number")


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, sort_keys=True)
    raise CastError(f"{value!r} is not text")


def _to_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise CastError(f"{value!r} is not an ISO timestamp") from None
    else:
        raise CastError(f"{value!r} is not a timestamp")
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CastError(f"{value!r} is not an ISO date")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "t", "1", "false", "f", "0"}:
        return value.strip().lower() in {"true", "t", "1"}
    raise CastError(f"{value!r} is not a boolean")


_CONVERTERS: dict[pa.DataType, Converter] = {
    pa.int64(): _to_int,
    pa.float64(): _to_float,
    pa.string(): _to_str,
    pa.timestamp("us"): _to_timestamp,
    pa.date32(): _to_date,
    pa.bool_(): _to_bool,
}


@dataclass(frozen=True)
class TableShape:
    """The reflected columns of one source table, their Arrow types and its primary key."""

    name: str
    columns: list[str]
    types: list[pa.DataType]
    primary_key: list[str]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(META_SCHEMA + [pa.field(c, t) for c, t in zip(self.columns, self.types, strict=True)])

    def key(self, image: dict[str, Any]) -> Key:
        return tuple(image.get(c) for c in self.primary_key)

    def cast(self, image: dict[str, Any]) -> tuple[Any, ...]:
        """The row's typed values in column order; raises CastError naming the column."""
        if not isinstance(image, dict):
            raise CastError(f"row image is not a JSON object: {image!r}")
        unknown = sorted(set(image) - set(self.columns))
        if unknown:
            raise CastError(f"columns {unknown} are not in the table")
        out = []
        for column, arrow in zip(self.columns, self.types, strict=True):
            value = image.get(column)
            if value is None:
                if column in self.primary_key:
                    raise CastError(f"primary key column {column!r} is null")
                out.append(None)
                continue
            try:
                out.append(_CONVERTERS[arrow](value))
            except CastError as exc:
                raise CastError(f"column {column!r} ({arrow}): {exc}") from None
        return tuple(out)


# ---------------------------------------------------------------- collected rows


@dataclass
class _Rows:
    """Typed rows (with their DMS metadata) and quarantined images of one table and date."""

    shape: TableShape
    good: list[tuple[Any, ...]]
    bad: list[dict[str, Any]]

    def add(self, op: str, ts: dt.datetime, seq: str, image: Any) -> bool:
        try:
            self.good.append((op, ts, seq, *self.shape.cast(image)))
            return True
        except CastError as exc:
            row = dict(image) if isinstance(image, dict) else {"_image": image}
            meta = {
                defaults.DMS_OP_COLUMN: op,
                defaults.DMS_COMMIT_TS_COLUMN: ts.isoformat(),
                defaults.DMS_CHANGE_SEQ_COLUMN: seq,
            }
            self.bad.append({**meta, **row, "_reason": str(exc)})
            return False

    def to_table(self, rows: Sequence[tuple[Any, ...]] | None = None) -> pa.Table:
        rows = self.good if rows is None else rows
        schema = self.shape.schema
        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
        return pa.Table.from_arrays([pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)],
                                    schema=schema)


# ---------------------------------------------------------------- public entry point


def replicate(
    source: DatabaseSource, ds: dt.date, lake: LakeLayout, *, rows_per_file: int | None = None
) -> list[TableLanding]:
    """Land every table of ``source`` for logical date ``ds`` (full load on its first date, else CDC).

    Raises SourceUnavailableError when the database or a table cannot be read, MlPipeError for a
    date before a table's recorded full load.
    """
    if source.url is None:
        raise ConfigError(f"sources[{source.name}].url: required on the local stack (a SQLAlchemy URL)")
    rows_per_file = rows_per_file or defaults.DMS_FULL_LOAD_ROWS_PER_FILE
    state_path = to_path(lake.state("dms", source.name)) / STATE_FILE
    state = _load_state(state_path)
    modes = {spec.name: _mode(state, source, spec.name, ds, lake) for spec in source.tables}
    _check_sqlite_file(source)
    engine = create_source_engine(source.url)
    landings: list[TableLanding] = []
    try:
        with _source_errors(source, None):
            conn = engine.connect()
        with conn:
            with _source_errors(source, None):
                _require_log(conn, source)
            for spec in source.tables:
                with _source_errors(source, spec.name):
                    shape = _reflect(conn, source, spec)
                    if modes[spec.name] == "full_load":
                        rows, details = _full_load(conn, source, shape, ds)
                    else:
                        rows, details = _cdc(conn, source, shape, ds)
                landing = _land(source, ds, lake, rows, details, rows_per_file)
                landings.append(landing)
                _record(state, spec.name, ds, modes[spec.name])
                _save_state(state_path, state)
    finally:
        engine.dispose()
    return landings


# ---------------------------------------------------------------- state and modes


def _load_state(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"tables": {}}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise MlPipeError(f"{path}: not valid JSON ({exc}); delete it and the bronze tables to start over") from None


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _mode(state: dict[str, Any], source: DatabaseSource, table: str, ds: dt.date, lake: LakeLayout) -> str:
    recorded = state["tables"].get(table, {}).get("full_load_ds")
    if recorded is None or recorded == ds.isoformat():
        return "full_load"
    if ds.isoformat() < recorded:
        state_file = to_path(lake.state("dms", source.name)) / STATE_FILE
        raise MlPipeError(
            f"{source.name}.{table}: {ds} is before the table's full load on {recorded}; CDC can only land "
            f"dates from then on. To start over from an earlier date, delete {state_file} and "
            f"{to_path(lake.bronze(source.name, table))}, then run the earliest date first"
        )
    return "cdc"


def _record(state: dict[str, Any], table: str, ds: dt.date, mode: str) -> None:
    entry = state["tables"].setdefault(table, {})
    if mode == "full_load":
        entry["full_load_ds"] = ds.isoformat()
    entry["last_ds"] = max(entry.get("last_ds", ""), ds.isoformat())


# ---------------------------------------------------------------- reading the source


@contextlib.contextmanager
def _source_errors(source: DatabaseSource, table: str | None) -> Iterator[None]:
    """Turn database errors into SourceUnavailableError naming the source, the table and what to check."""
    try:
        yield
    except sa.exc.NoSuchTableError as exc:
        raise _unavailable(source, table, f"the table {exc} does not exist") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise _unavailable(source, table, exc) from exc


def _unavailable(source: DatabaseSource, table: str | None, reason: Any) -> SourceUnavailableError:
    text = " ".join(str(reason).split("(Background on this error")[0].split())
    where = "" if table is None else f", table {source.db_schema + '.' if source.db_schema else ''}{table}"
    return SourceUnavailableError(
        f"source '{source.name}': cannot read {masked(source.url or '')}{where}: {text}. "
        f"Check sources[{source.name}].url in the pipeline config (or its MLPIPE__SOURCES__<i>__URL override), "
        "that the database server is running and reachable, and that the table exists"
    )


def _check_sqlite_file(source: DatabaseSource) -> None:
    url = resolve_url(source.url or "")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        if not path.is_file():
            raise _unavailable(source, None, f"the SQLite file {path} does not exist")


def _require_log(conn: Connection, source: DatabaseSource) -> None:
    if not sa.inspect(conn).has_table(LOG_TABLE, schema=source.db_schema):
        raise SourceUnavailableError(
            f"source '{source.name}' ({masked(source.url or '')}) has no change log ({LOG_TABLE}): change capture "
            "is not enabled. Enable it once with mlpipe.local.cdc.enable_cdc(engine, tables) (the sample "
            "generator does this), as DMS needs binary logging / logical replication on its source"
        )


def _reflect(conn: Connection, source: DatabaseSource, spec: TableSpec) -> TableShape:
    table = sa.Table(spec.name, sa.MetaData(schema=source.db_schema), autoload_with=conn)
    missing = [c for c in spec.primary_key if c not in table.c]
    if missing:
        raise ConfigError(
            f"sources[{source.name}].tables[{spec.name}].primary_key: columns {missing} are not in the table "
            f"(it has {list(table.c.keys())})"
        )
    return TableShape(spec.name, list(table.c.keys()), [arrow_type(c.type) for c in table.c], list(spec.primary_key))


def _log_entries(conn: Connection, source: DatabaseSource, table: str, start: dt.datetime,
                 end: dt.datetime | None) -> Iterator[sa.Row[Any]]:
    log, _ = log_tables(source.db_schema)
    query = sa.select(log.c.seq, log.c.op, log.c.old_row, log.c.new_row, log.c.commit_ts).where(
        log.c.table_name == table, log.c.commit_ts >= start
    )
    if end is not None:
        query = query.where(log.c.commit_ts < end)
    result = conn.execution_options(stream_results=True).execute(query.order_by(log.c.seq))
    while batch := result.fetchmany(FETCH_ROWS):
        yield from batch


def _images(conn: Connection, source: DatabaseSource, shape: TableShape) -> Iterator[dict[str, Any]]:
    result = conn.execution_options(stream_results=True).exec_driver_sql(
        row_image_sql(conn, shape.name, shape.columns, source.db_schema)
    )
    while batch := result.fetchmany(FETCH_ROWS):
        for (text,) in batch:
            yield json.loads(text) if isinstance(text, str) else text


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _day_bounds(ds: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(ds, dt.time())
    return start, start + dt.timedelta(days=1)


# ---------------------------------------------------------------- full load and CDC


_ABSENT = object()


def _full_load(conn: Connection, source: DatabaseSource, shape: TableShape,
               ds: dt.date) -> tuple[_Rows, dict[str, Any]]:
    """The table as of the end of ``ds``: current rows, then later changes undone (the oldest one wins)."""
    _, end = _day_bounds(ds)
    as_of = end - dt.timedelta(microseconds=1)
    current = _Rows(shape, [], [])
    keys: list[Key] = []
    bad_keys: list[Key] = []
    for image in _images(conn, source, shape):
        key = shape.key(image) if isinstance(image, dict) else ()
        (keys if current.add("I", as_of, FULL_LOAD_CHANGE_SEQ, image) else bad_keys).append(key)
    # Read the log after the table: a change made meanwhile is then undone too, never half-applied.
    overrides: dict[Key, Any] = {}
    undone = 0
    for entry in reversed(list(_log_entries(conn, source, shape.name, end, None))):
        undone += 1
        old, new = _json(entry.old_row), _json(entry.new_row)
        if entry.op in ("I", "U") and isinstance(new, dict):
            overrides[shape.key(new)] = _ABSENT
        if entry.op in ("U", "D") and isinstance(old, dict):
            overrides[shape.key(old)] = old
    rows = _Rows(shape, [], [])
    rows.good = [row for key, row in zip(keys, current.good, strict=True) if key not in overrides]
    rows.bad = [row for key, row in zip(bad_keys, current.bad, strict=True) if key not in overrides]
    for image in overrides.values():
        if image is not _ABSENT:
            rows.add("I", as_of, FULL_LOAD_CHANGE_SEQ, image)
    pk_index = [3 + shape.columns.index(c) for c in shape.primary_key]
    rows.good.sort(key=lambda r: tuple(r[i] for i in pk_index))
    rows.bad.sort(key=lambda r: json.dumps(r, sort_keys=True, default=str))
    details = {"mode": "full_load", "as_of": as_of.isoformat(), "changes_undone": undone}
    return rows, details


def _cdc(conn: Connection, source: DatabaseSource, shape: TableShape, ds: dt.date) -> tuple[_Rows, dict[str, Any]]:
    """Log entries committed during ``ds``, in seq order (after-image; before-image for deletes)."""
    start, end = _day_bounds(ds)
    rows = _Rows(shape, [], [])
    seqs: list[str] = []
    for entry in _log_entries(conn, source, shape.name, start, end):
        image = _json(entry.old_row if entry.op == "D" else entry.new_row)
        seq = change_seq(entry.commit_ts, int(entry.seq))
        rows.add(entry.op, entry.commit_ts, seq, image)
        seqs.append(seq)
    details: dict[str, Any] = {"mode": "cdc", "window": [start.isoformat(), end.isoformat()]}
    details["seq_min"], details["seq_max"] = (min(seqs), max(seqs)) if seqs else (None, None)
    return rows, details


# ---------------------------------------------------------------- writing


def _land(source: DatabaseSource, ds: dt.date, lake: LakeLayout, rows: _Rows, details: dict[str, Any],
          rows_per_file: int) -> TableLanding:
    table = rows.shape.name
    partition_uri = lake.bronze(source.name, table, ds.isoformat())
    full_load = details["mode"] == "full_load"
    with atomic_partition(to_path(partition_uri)) as tmp:
        files = _write_files(rows, tmp, rows_per_file, full_load)
    quarantine_uri = lake.quarantine(source.name, table, ds.isoformat())
    quarantine_dir = to_path(quarantine_uri)
    if rows.bad:
        with atomic_partition(quarantine_dir) as tmp:
            with (tmp / QUARANTINE_FILE).open("w") as fh:
                fh.writelines(json.dumps(r, sort_keys=True, default=str) + "\n" for r in rows.bad)
    elif quarantine_dir.exists():
        shutil.rmtree(quarantine_dir)  # a rerun replaces the partition's quarantine too
    details = {**details, "files": files}
    return TableLanding(
        source=source.name,
        table=table,
        ds=ds.isoformat(),
        partition_uri=partition_uri,
        files_in=1,
        files_out=len(files),
        rows_in=len(rows.good) + len(rows.bad),
        rows_out=len(rows.good),
        rows_quarantined=len(rows.bad),
        quarantine_uri=quarantine_uri if rows.bad else None,
        details=details,
    )


def _write_files(rows: _Rows, directory: Path, rows_per_file: int, full_load: bool) -> list[str]:
    names: list[str] = []
    chunks: Iterable[Sequence[tuple[Any, ...]]] = [
        rows.good[i:i + rows_per_file] for i in range(0, len(rows.good), rows_per_file)
    ]
    if full_load and not rows.good:
        chunks = [[]]  # an empty table still lands one (empty) file carrying its schema
    for number, chunk in enumerate(chunks, start=1):
        name = f"LOAD{number:08d}.parquet" if full_load else _cdc_file_name(chunk[0][1], names)
        pq.write_table(rows.to_table(chunk), directory / name)
        names.append(name)
    return names


def _cdc_file_name(first_commit: dt.datetime, taken: list[str]) -> str:
    stem = first_commit.strftime("%Y%m%d-%H%M%S") + f"{first_commit.microsecond // 1000:03d}"
    name, n = f"{stem}.parquet", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.parquet"
    return name
