"""Streaming validation of ingested files: good records go on, bad ones go to quarantine with their reason.

One pass over a file, line by line, with buffered writes, so a file of any size runs in constant memory.

- **jsonl**: every non-blank line must be a JSON object whose required fields are present and not null.
- **csv**: the header must name every required column; every row must have as many fields as the header
  and a non-empty value in each required column. The good output keeps the header.

A bad record becomes one line of the quarantine file (JSON lines)::

    {"_source_file": "2026/11/01/events-0000.jsonl", "_line": 17, "_reason": "missing required field 'event_ts'",
     "_reason_code": "missing_field:event_ts", "_raw": "<the original line or CSV record>"}

A file is quarantined *whole* (no good output at all) when it is empty, is not valid UTF-8, or is a CSV whose
header lacks required columns; the quarantine file then holds one record with ``"_scope": "file"`` and the
original bytes are copied to ``raw_copy`` when given. Blank lines are not records: they are skipped and counted
in ``blank_lines``. Whatever happens, ``rows_in == rows_out + rows_quarantined``.
"""

from __future__ import annotations

import csv
import io
import json
import operator
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

Format = Literal["jsonl", "csv"]
REJECTS_SUFFIX = ".rejects.jsonl"  # a quarantined file's records: <name>.rejects.jsonl beside it

_BUFFER = 1 << 20  # bytes per read/write buffer
_BOM = "\ufeff"
_MISSING = object()


@dataclass
class SplitResult:
    """The counts of one file's split. ``reasons`` tallies ``_reason_code`` values."""

    source_file: str
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    blank_lines: int = 0
    file_quarantined: bool = False
    file_reason: str | None = None
    reasons: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_file": self.source_file,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_quarantined": self.rows_quarantined,
            "blank_lines": self.blank_lines,
            "file_quarantined": self.file_quarantined,
            "file_reason": self.file_reason,
            "reasons": dict(sorted(self.reasons.items())),
        }


class _FileRejected(Exception):
    """Raised inside a pass when the whole file must be quarantined."""

    def __init__(self, code: str, reason: str, rows: int) -> None:
        super().__init__(reason)
        self.code, self.reason, self.rows = code, reason, rows


class _Rejects:
    """The quarantine JSON-lines file, opened on the first rejected record."""

    def __init__(self, path: Path, source_file: str) -> None:
        self.path, self.source_file = path, source_file
        self._fh: IO[str] | None = None

    def write(self, line: int | None, code: str, reason: str, raw: str | None, **extra: Any) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", encoding="utf-8", buffering=_BUFFER)  # noqa: SIM115
        record: dict[str, Any] = {
            "_source_file": self.source_file,
            "_line": line,
            "_reason": reason,
            "_reason_code": code,
            **extra,
        }
        if raw is not None:
            record["_raw"] = raw
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def split_file(
    src: Path,
    good: Path,
    bad: Path,
    *,
    fmt: Format,
    required_fields: Sequence[str] = (),
    source_file: str | None = None,
    raw_copy: Path | None = None,
) -> SplitResult:
    """Validate ``src`` record by record: good records to ``good`` (same format), bad ones to ``bad`` (JSON lines).

    ``source_file`` is the name recorded in quarantine records (default: ``src.name``; pass the path relative
    to the source so reruns write identical output). ``bad`` is only created when something is rejected;
    ``good`` is not created when the file is quarantined whole, in which case its bytes are copied to
    ``raw_copy`` (if given).
    """
    label = source_file if source_file is not None else src.name
    result = SplitResult(source_file=label)
    rejects = _Rejects(bad, label)
    good.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(good, "wb", buffering=_BUFFER) as out:
            if fmt == "jsonl":
                _split_jsonl(src, out, rejects, tuple(required_fields), result)
            elif fmt == "csv":
                _split_csv(src, out, rejects, tuple(required_fields), result)
            else:
                raise ValueError(f"unknown format {fmt!r}; expected 'jsonl' or 'csv'")
    except _FileRejected as rejected:
        good.unlink(missing_ok=True)
        rejects.discard()
        result = SplitResult(
            source_file=label,
            rows_in=rejected.rows,
            rows_quarantined=rejected.rows,
            file_quarantined=True,
            file_reason=rejected.reason,
            reasons=Counter({rejected.code: 1}),
        )
        rejects = _Rejects(bad, label)
        rejects.write(
            None, rejected.code, rejected.reason, None, _scope="file", _rows=rejected.rows, _bytes=src.stat().st_size
        )
        if raw_copy is not None:
            raw_copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, raw_copy)
    except BaseException:
        good.unlink(missing_ok=True)
        rejects.discard()
        raise
    finally:
        rejects.close()
    assert result.rows_in == result.rows_out + result.rows_quarantined
    return result


def _split_jsonl(src: Path, out: IO[bytes], rejects: _Rejects, required: tuple[str, ...], res: SplitResult) -> None:
    rows_in = rows_out = blank = 0
    reasons, write = res.reasons, out.write
    fast_check = _fast_json_check(required)
    with open(src, "rb", buffering=_BUFFER) as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _not_utf8(src, lineno, exc) from None
            if lineno == 1 and text.startswith(_BOM):
                text, raw = text[1:], raw[3:]
            if raw.isspace() or not raw:
                blank += 1
                continue
            rows_in += 1
            try:
                fast_check(raw)  # C speed; raises on anything doubtful, then the standard library decides
                problem = None
            except Exception:
                problem = _json_problem(text.rstrip("\r\n"), required)
            if problem is None:
                write(raw if raw.endswith(b"\n") else raw + b"\n")
                rows_out += 1
            else:
                reasons[problem[0]] += 1
                rejects.write(lineno, problem[0], problem[1], text.rstrip("\r\n"))
    if rows_in == 0:
        raise _FileRejected("empty_file", _empty_reason(src, blank), 0)
    res.rows_in, res.rows_out, res.rows_quarantined, res.blank_lines = rows_in, rows_out, rows_in - rows_out, blank


def _fast_json_check(required: tuple[str, ...]) -> Callable[[bytes], object]:
    """A checker that returns when a line is a JSON object with every required field present and not null.

    It uses msgspec (an Airflow dependency) to decode only the required fields, in C; it may raise on a line
    the standard library accepts (NaN, a lone surrogate escape), which is why its failures are re-judged by
    :func:`_json_problem`. Without msgspec every line takes the standard library's path.
    """
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec ships with Airflow

        def check(raw: bytes) -> object:
            raise ValueError("no fast path")

        return check
    not_null = str | int | float | bool | list | dict
    struct = msgspec.defstruct(
        "RequiredFields",
        [(f"f{i}", not_null) for i in range(len(required))],
        rename={f"f{i}": name for i, name in enumerate(required)},
    )
    return msgspec.json.Decoder(struct).decode


def _json_problem(text: str, required: tuple[str, ...]) -> tuple[str, str] | None:
    """(reason code, reason) of what is wrong with one JSON line, or None when it is a good record."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return "invalid_json", f"invalid JSON at column {exc.pos + 1}: {exc.msg}"
    if type(obj) is not dict:
        return "not_json_object", f"not a JSON object (a JSON {_json_type(obj)})"
    for name in required:
        value = obj.get(name, _MISSING)
        if value is _MISSING:
            return f"missing_field:{name}", f"missing required field '{name}'"
        if value is None:
            return f"null_field:{name}", f"null required field '{name}'"
    return None


def _split_csv(src: Path, out: IO[bytes], rejects: _Rejects, required: tuple[str, ...], res: SplitResult) -> None:
    rows_in = rows_out = blank = 0
    text_out = io.TextIOWrapper(out, encoding="utf-8", newline="")  # encodes in bulk, not row by row
    reasons, write = res.reasons, text_out.write
    try:
        with open(src, encoding="utf-8", newline="", buffering=_BUFFER) as fh:
            records = _csv_records(fh)
            raw_header, header = "", []  # the header is the first non-blank record
            for _, raw, row in records:
                if row:
                    raw_header, header = raw, row
                    break
                blank += 1
            if not header:
                raise _FileRejected("empty_file", _empty_reason(src, blank), 0)
            if isinstance(header, str):
                rows = sum(1 for _, _, row in records if row)
                raise _FileRejected("csv_header", f"unreadable CSV header: {header}", rows)
            missing = [name for name in required if name not in header]
            if missing:
                rows = sum(1 for _, _, row in records if row)
                raise _FileRejected("missing_columns", _missing_columns_reason(missing, header), rows)
            eol = "\r\n" if raw_header.endswith("\r\n") else "\n"
            write(raw_header if raw_header.endswith("\n") else raw_header + eol)
            width = len(header)
            required_values = _getter([header.index(name) for name in required])
            for lineno, raw, row in records:
                if not row:
                    blank += 1
                    continue
                rows_in += 1
                if isinstance(row, str):
                    code, reason = "csv_error", f"CSV parse error: {row}"
                elif len(row) != width:
                    code, reason = "csv_field_count", f"CSV row has {len(row)} fields but the header has {width}"
                elif "" not in required_values(row):
                    write(raw if raw.endswith("\n") else raw + eol)
                    rows_out += 1
                    continue
                else:
                    name = next(name for name in required if not row[header.index(name)])
                    code, reason = f"null_field:{name}", f"null required field '{name}' (empty value)"
                reasons[code] += 1
                rejects.write(lineno, code, reason, raw.rstrip("\r\n"))
    except UnicodeDecodeError:
        raise _locate_bad_utf8(src) from None
    finally:
        text_out.flush()
        text_out.detach()
    res.rows_in, res.rows_out, res.rows_quarantined, res.blank_lines = rows_in, rows_out, rows_in - rows_out, blank


def _csv_records(fh: IO[str]) -> Iterator[tuple[int, str, list[str] | str]]:
    """(first line number, raw text, fields or a parse error) of each CSV record; a blank line has no fields.

    A line without a quote character is split on commas (what csv.reader would do, faster); a line with one
    goes through csv.reader, which pulls continuation lines while a quoted field spans line breaks.
    """
    lines = iter(fh)
    lineno = 0
    for line in lines:
        lineno += 1
        if lineno == 1:
            line = line.removeprefix(_BOM)
        if '"' not in line:
            body = line.rstrip("\r\n")
            yield lineno, line, (body.split(",") if body else [])
            continue
        physical = [line]

        def record_lines(first: str = line, physical: list[str] = physical) -> Iterator[str]:
            yield first
            for more in lines:
                physical.append(more)
                yield more

        row: list[str] | str
        try:
            row = next(csv.reader(record_lines(), strict=True), [])
        except csv.Error as exc:
            row = str(exc)
        yield lineno, "".join(physical), row
        lineno += len(physical) - 1


def _getter(indexes: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """A function returning a row's values at ``indexes`` as a tuple, in one C call."""
    if not indexes:
        return lambda row: ()
    if len(indexes) == 1:
        index = indexes[0]
        return lambda row: (row[index],)
    return operator.itemgetter(*indexes)


def _json_type(obj: object) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(obj), "null")


def _empty_reason(src: Path, blank_lines: int) -> str:
    size = src.stat().st_size
    return "empty file (0 bytes)" if size == 0 else f"empty file: no records ({blank_lines} blank lines, {size} bytes)"


def _not_utf8(src: Path, lineno: int, exc: UnicodeDecodeError) -> _FileRejected:
    rows = _count_nonblank_lines(src)
    bad = exc.object[exc.start : exc.start + 1].hex()
    return _FileRejected(
        "invalid_utf8", f"not valid UTF-8: byte 0x{bad} at line {lineno}, byte position {exc.start + 1}", rows
    )


def _locate_bad_utf8(src: Path) -> _FileRejected:
    with open(src, "rb", buffering=_BUFFER) as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return _not_utf8(src, lineno, exc)
    return _FileRejected("invalid_utf8", "not valid UTF-8", _count_nonblank_lines(src))


def _count_nonblank_lines(src: Path) -> int:
    with open(src, "rb", buffering=_BUFFER) as fh:
        return sum(1 for raw in fh if raw.strip())


def _missing_columns_reason(missing: list[str], header: list[str]) -> str:
    reason = f"missing required columns {missing} (found {header}"
    squash = {_squash(col): col for col in header if col not in missing}
    renamed = [f"'{squash[_squash(m)]}' looks like '{m}'" for m in missing if _squash(m) in squash]
    return reason + (f"; renamed? {', '.join(renamed)})" if renamed else ")")


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def validate_file(
    src: Path,
    good: Path,
    bad: Path,
    *,
    fmt: Format,
    required_fields: Sequence[str] = (),
    source_name: str | None = None,
    raw_copy: Path | None = None,
) -> SplitResult:
    """:func:`split_file` under the name the stacks call; ``source_name`` becomes each reject's ``_source_file``."""
    return split_file(
        src, good, bad, fmt=fmt, required_fields=required_fields, source_file=source_name, raw_copy=raw_copy
    )
