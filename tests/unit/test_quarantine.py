"""mlpipe.quarantine: every rejection reason, the counts, CSV headers, whole-file rejection and streaming speed."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
from mlpipe import quarantine
from mlpipe.quarantine import SplitResult, split_file, validate_file

REQUIRED = ["event_id", "customer_id"]


def _split(tmp_path: Path, name: str, data: bytes, fmt: str = "jsonl", required=REQUIRED) -> SplitResult:
    src = tmp_path / "in" / name
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(data)
    return split_file(
        src,
        tmp_path / "good" / name,
        tmp_path / "bad" / f"{name}.rejects.jsonl",
        fmt=fmt,  # type: ignore[arg-type]
        required_fields=required,
        source_file=f"share/{name}",
        raw_copy=tmp_path / "raw" / name,
    )


def _rejects(tmp_path: Path, name: str) -> list[dict]:
    path = tmp_path / "bad" / f"{name}.rejects.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _balanced(result: SplitResult) -> None:
    assert result.rows_in == result.rows_out + result.rows_quarantined
    assert sum(result.reasons.values()) == (1 if result.file_quarantined else result.rows_quarantined)


# --- JSON lines ---------------------------------------------------------------------------------------------


def test_jsonl_each_bad_line_is_quarantined_with_its_exact_reason(tmp_path: Path) -> None:
    lines = [
        b'{"event_id": "e1", "customer_id": "c1", "page": "/"}',
        b'{"event_id": "e2", "customer_id": ',
        b'["e3", "c3"]',
        b'"just a string"',
        b'{"event_id": "e5"}',
        b'{"event_id": "e6", "customer_id": null}',
        b'{"event_id": "e7", "customer_id": "c7"}',
    ]
    result = _split(tmp_path, "events.jsonl", b"\n".join(lines) + b"\n")

    assert (result.rows_in, result.rows_out, result.rows_quarantined) == (7, 2, 5)
    assert not result.file_quarantined
    _balanced(result)
    assert result.reasons == {
        "invalid_json": 1,
        "not_json_object": 2,
        "missing_field:customer_id": 1,
        "null_field:customer_id": 1,
    }
    assert (tmp_path / "good" / "events.jsonl").read_bytes() == lines[0] + b"\n" + lines[6] + b"\n"
    rejects = _rejects(tmp_path, "events.jsonl")
    assert [(r["_line"], r["_reason"]) for r in rejects] == [
        (2, "invalid JSON at column 35: Expecting value"),
        (3, "not a JSON object (a JSON array)"),
        (4, "not a JSON object (a JSON string)"),
        (5, "missing required field 'customer_id'"),
        (6, "null required field 'customer_id'"),
    ]
    assert [r["_raw"] for r in rejects] == [line.decode() for line in lines[1:6]]
    assert {r["_source_file"] for r in rejects} == {"share/events.jsonl"}


def test_jsonl_good_file_keeps_bytes_and_blank_lines_are_not_records(tmp_path: Path) -> None:
    data = '\ufeff{"event_id": "é", "customer_id": "c1"}\r\n\n   \n{"customer_id": "c2", "event_id": 2}'.encode()
    result = _split(tmp_path, "e.jsonl", data)

    assert (result.rows_in, result.rows_out, result.blank_lines) == (2, 2, 2)
    assert not (tmp_path / "bad" / "e.jsonl.rejects.jsonl").exists()  # created only when something is rejected
    good = (tmp_path / "good" / "e.jsonl").read_bytes()
    assert good == '{"event_id": "é", "customer_id": "c1"}\r\n{"customer_id": "c2", "event_id": 2}\n'.encode()


def test_jsonl_fast_path_agrees_with_the_standard_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """msgspec's verdicts are only a shortcut: with it disabled the split must be byte-identical."""
    lines = [
        '{"event_id": "e1", "customer_id": "c1"}',
        '{"event_id": NaN, "customer_id": "c1"}',  # stdlib accepts NaN; msgspec does not
        '{"event_id": "\\ud800", "customer_id": "c1"}',  # lone surrogate escape: same
        '{"event_id": "e1", "customer_id": "c1", "event_id": null}',  # duplicate key: the last one wins
        '{"event_id": 0, "customer_id": false}',  # falsy is not null
        '{"event_id": "e1", "customer_id": "c1"} trailing',
        "{}",
        "null",
        '{"event_id": "e1", "customer_id": "tab\there"}',  # raw control character inside a string
    ]
    data = ("\n".join(lines) + "\n").encode()
    fast = _split(tmp_path / "fast", "e.jsonl", data)

    def no_fast_path(required: tuple[str, ...]):
        def check(raw: bytes) -> object:
            raise ValueError("disabled")

        return check

    monkeypatch.setattr(quarantine, "_fast_json_check", no_fast_path)
    slow = _split(tmp_path / "slow", "e.jsonl", data)

    assert fast.to_dict() == slow.to_dict()
    for part in ("good/e.jsonl", "bad/e.jsonl.rejects.jsonl"):
        assert (tmp_path / "fast" / part).read_bytes() == (tmp_path / "slow" / part).read_bytes()
    assert (fast.rows_out, fast.rows_quarantined) == (4, 5)


def test_empty_file_is_quarantined_whole(tmp_path: Path) -> None:
    result = _split(tmp_path, "empty.jsonl", b"")

    assert result.file_quarantined and result.file_reason == "empty file (0 bytes)"
    assert (result.rows_in, result.rows_out, result.rows_quarantined) == (0, 0, 0)
    assert not (tmp_path / "good" / "empty.jsonl").exists()
    [record] = _rejects(tmp_path, "empty.jsonl")
    assert record["_scope"] == "file" and record["_reason_code"] == "empty_file"
    assert (tmp_path / "raw" / "empty.jsonl").read_bytes() == b""

    blank = _split(tmp_path, "blank.jsonl", b"\n \n")
    assert blank.file_quarantined and blank.file_reason == "empty file: no records (2 blank lines, 3 bytes)"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_file_that_is_not_utf8_is_quarantined_whole_with_the_position(tmp_path: Path, fmt: str) -> None:
    if fmt == "jsonl":
        data = b'{"event_id": "e1", "customer_id": "c1"}\n{"event_id": "caf\xe9", "customer_id": "c2"}\n'
    else:
        data = b"event_id,customer_id\ne1,c1\ncaf\xe9,c2\n"
    name = f"latin1.{fmt}"
    result = _split(tmp_path, name, data, fmt=fmt)

    assert result.file_quarantined
    assert result.file_reason is not None and result.file_reason.startswith("not valid UTF-8: byte 0xe9 at line ")
    assert (result.rows_in, result.rows_out, result.rows_quarantined) == ((2, 0, 2) if fmt == "jsonl" else (3, 0, 3))
    assert not (tmp_path / "good" / name).exists()  # the good line written before the bad byte is gone too
    assert (tmp_path / "raw" / name).read_bytes() == data
    assert result.reasons == {"invalid_utf8": 1}


# --- CSV ----------------------------------------------------------------------------------------------------

HEADER = "customer_id,company_size,industry,credit_band,updated_date"
CSV_REQUIRED = ["customer_id", "company_size", "industry", "credit_band"]


def test_csv_keeps_header_and_quarantines_bad_rows(tmp_path: Path) -> None:
    rows = [
        HEADER,
        "c1,51-200,retail,B,2026-11-01",
        "c2,51-200,retail,2026-11-01",  # 4 fields
        'c3,"1,000+","retail\nand more",A,2026-11-01',  # quoted comma and line break: good, 2 lines
        "c4,,retail,A,2026-11-01",  # empty required value
        "c5,11-50,retail,A,",  # empty optional value: fine
        "",
        "c6,11-50,retail,A,2026-11-01,extra",
    ]
    data = "\n".join(rows).encode()  # no final line break
    result = _split(tmp_path, "accounts.csv", data, fmt="csv", required=CSV_REQUIRED)

    assert (result.rows_in, result.rows_out, result.rows_quarantined, result.blank_lines) == (6, 3, 3, 1)
    _balanced(result)
    assert result.reasons == {"csv_field_count": 2, "null_field:company_size": 1}
    good = (tmp_path / "good" / "accounts.csv").read_text()
    assert good == "\n".join([rows[0], rows[1], rows[3], rows[5]]) + "\n"
    rejects = _rejects(tmp_path, "accounts.csv")
    assert [(r["_line"], r["_reason"], r["_raw"]) for r in rejects] == [
        (3, "CSV row has 4 fields but the header has 5", rows[2]),
        (6, "null required field 'company_size' (empty value)", rows[4]),
        (9, "CSV row has 6 fields but the header has 5", rows[7]),
    ]


def test_csv_parse_errors_are_row_rejections(tmp_path: Path) -> None:
    big = "x" * 200_000
    rows = [
        HEADER,
        f'c1,"{big}",retail,A,2026-11-01',
        'c2,"1-10" x,retail,A,',
        "c3,1-10,retail,A,",
        'c4,"1-10,retail,A,',
    ]
    result = _split(tmp_path, "a.csv", ("\n".join(rows) + "\n").encode(), fmt="csv", required=CSV_REQUIRED)

    assert (result.rows_in, result.rows_out, result.rows_quarantined) == (4, 1, 3)
    rejects = _rejects(tmp_path, "a.csv")
    assert [(r["_line"], r["_reason"]) for r in rejects] == [
        (2, "CSV parse error: field larger than field limit (131072)"),
        (3, "CSV parse error: ',' expected after '\"'"),
        (5, "CSV parse error: unexpected end of data"),  # an unterminated quote runs to the end of the file
    ]
    assert rejects[2]["_raw"] == rows[4]


def test_csv_header_with_renamed_column_quarantines_the_whole_file(tmp_path: Path) -> None:
    header = "customer_id,company_size,industry,creditBand,updated_date"
    data = f"{header}\r\nc1,51-200,retail,B,2026-11-01\r\nc2,1-10,tech,C,2026-11-01\r\n".encode()
    result = _split(tmp_path, "accounts.csv", data, fmt="csv", required=CSV_REQUIRED)

    assert result.file_quarantined
    assert result.file_reason == (
        "missing required columns ['credit_band'] (found ['customer_id', 'company_size', 'industry', "
        "'creditBand', 'updated_date']; renamed? 'creditBand' looks like 'credit_band')"
    )
    assert (result.rows_in, result.rows_out, result.rows_quarantined) == (2, 0, 2)
    assert result.reasons == {"missing_columns": 1}
    assert not (tmp_path / "good" / "accounts.csv").exists()
    assert (tmp_path / "raw" / "accounts.csv").read_bytes() == data
    [record] = _rejects(tmp_path, "accounts.csv")
    assert record == {
        "_source_file": "share/accounts.csv",
        "_line": None,
        "_reason": result.file_reason,
        "_reason_code": "missing_columns",
        "_scope": "file",
        "_rows": 2,
        "_bytes": len(data),
    }


def test_csv_missing_column_without_lookalike_has_no_rename_hint(tmp_path: Path) -> None:
    result = _split(tmp_path, "a.csv", b"customer_id,industry\nc1,retail\n", fmt="csv", required=CSV_REQUIRED)
    assert result.file_reason == (
        "missing required columns ['company_size', 'credit_band'] (found ['customer_id', 'industry'])"
    )


def test_csv_crlf_bom_and_header_only(tmp_path: Path) -> None:
    data = ("\ufeff" + HEADER + "\r\nc1,1-10,retail,A,2026-11-01").encode()
    result = _split(tmp_path, "a.csv", data, fmt="csv", required=CSV_REQUIRED)
    assert (result.rows_in, result.rows_out) == (1, 1)
    assert (tmp_path / "good" / "a.csv").read_bytes() == (HEADER + "\r\nc1,1-10,retail,A,2026-11-01\r\n").encode()

    header_only = _split(tmp_path, "h.csv", (HEADER + "\n").encode(), fmt="csv", required=CSV_REQUIRED)
    assert not header_only.file_quarantined and header_only.rows_in == 0
    assert (tmp_path / "good" / "h.csv").read_text() == HEADER + "\n"

    empty = _split(tmp_path, "e.csv", b"\n\n", fmt="csv", required=CSV_REQUIRED)
    assert empty.file_quarantined and empty.file_reason == "empty file: no records (2 blank lines, 2 bytes)"


def test_validate_file_is_split_file_with_the_source_name(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text('{"event_id": 1, "customer_id": 2}\n{"event_id": 1}\n')
    result = validate_file(
        src, tmp_path / "g", tmp_path / "b", fmt="jsonl", required_fields=REQUIRED, source_name="s3://b/a.jsonl"
    )
    assert (result.rows_out, result.rows_quarantined) == (1, 1)
    assert json.loads((tmp_path / "b").read_text())["_source_file"] == "s3://b/a.jsonl"


# --- streaming ----------------------------------------------------------------------------------------------

EVENT = (
    '{{"event_id": "e{i:09d}", "customer_id": "c{c:05d}", "session_id": "s{s:08d}", "event_type": "page_view", '
    '"page": "/pricing", "device": "mobile", "event_ts": "2026-11-01T12:34:56Z"}}\n'
)


def _write_events(path: Path, n: int, bad_every: int = 0) -> None:
    with open(path, "w", buffering=1 << 20) as fh:
        for i in range(n):
            if bad_every and i % bad_every == 0:
                fh.write('{"event_id": "broken\n')
            else:
                fh.write(EVENT.format(i=i, c=i % 2000, s=i // 7))


def test_one_million_lines_stream_fast(tmp_path: Path) -> None:
    n = 1_000_000
    src = tmp_path / "events.jsonl"
    _write_events(src, n, bad_every=10_000)
    required = ["event_id", "customer_id", "event_type", "event_ts"]

    start = time.perf_counter()
    result = split_file(src, tmp_path / "good.jsonl", tmp_path / "bad.jsonl", fmt="jsonl", required_fields=required)
    seconds = time.perf_counter() - start

    assert (result.rows_in, result.rows_out, result.rows_quarantined) == (n, n - 100, 100)
    print(
        f"\nquarantine.split_file jsonl: {n:,} lines, {src.stat().st_size / 1e6:.0f} MB in {seconds:.2f} s "
        f"= {n / seconds:,.0f} rows/s"
    )
    assert seconds < 15, f"{n:,} lines took {seconds:.1f} s ({n / seconds:,.0f} rows/s); expected a few seconds"


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    src = tmp_path / "events.jsonl"
    _write_events(src, 100_000, bad_every=1_000)  # 18 MB
    tracemalloc.start()
    try:
        split_file(src, tmp_path / "g.jsonl", tmp_path / "b.jsonl", fmt="jsonl", required_fields=["event_id"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB for a {src.stat().st_size / 2**20:.0f} MiB file"
