"""mlpipe.local.datasync: CHANGED transfers, verification, PRESERVE, quarantine and identical reruns."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
from mlpipe.config.model import FileShareSource
from mlpipe.errors import MlPipeError, SourceUnavailableError
from mlpipe.lake import LakeLayout, to_path
from mlpipe.local import datasync
from mlpipe.local.datasync import sync_share

D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
REQUIRED = ["event_id", "customer_id", "event_type", "event_ts"]


def _event(i: int, day: str = "2026-11-01") -> str:
    return json.dumps(
        {
            "event_id": f"e{i:06d}",
            "customer_id": f"c{i % 50:04d}",
            "session_id": f"s{i // 5:05d}",
            "event_type": "page_view",
            "page": "/pricing",
            "device": "mobile",
            "event_ts": f"{day}T10:{i % 60:02d}:00Z",
        }
    )


def _noon(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC).timestamp() * 1e9)


def _write(share: Path, rel: str, lines: list[str], day: dt.date = D1) -> Path:
    """Write a share file as if it was written at noon of ``day`` (the sync sees the share as of a date)."""
    path = share / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    os.utime(path, ns=(_noon(day), _noon(day)))
    return path


def _source(share: Path) -> FileShareSource:
    return FileShareSource(
        kind="file_share", name="clickstream", table="events", path=str(share), required_fields=REQUIRED
    )


@pytest.fixture
def share(tmp_path: Path) -> Path:
    share = tmp_path / "share"
    _write(share, "2026/11/01/events-0000.jsonl", [_event(i) for i in range(0, 10)])
    _write(share, "2026/11/01/events-0001.jsonl", [_event(i) for i in range(10, 25)])
    _write(share, "2026/10/31/events-0000.jsonl", [_event(i, "2026-10-31") for i in range(25, 30)])
    return share


def _partition(lake: LakeLayout, day: dt.date, snapshot) -> dict[str, bytes]:
    return snapshot(to_path(lake.bronze("clickstream", "events", day.isoformat())))


def test_first_sync_transfers_the_whole_history(share: Path, lake: LakeLayout, snapshot) -> None:
    landing = sync_share(_source(share), D1, lake)

    assert (landing.files_in, landing.files_out, landing.files_quarantined) == (3, 3, 0)
    assert (landing.rows_in, landing.rows_out, landing.rows_quarantined) == (30, 30, 0)
    assert landing.details["files_skipped_unchanged"] == 0
    assert landing.details["compared_with"] is None
    assert landing.details["verified"] is True
    assert landing.details["bytes_transferred"] == sum(p.stat().st_size for p in share.rglob("*.jsonl"))
    assert landing.partition_uri == lake.bronze("clickstream", "events", "2026-11-01")
    files = _partition(lake, D1, snapshot)
    assert files == {**snapshot(share), "_SUCCESS": b""}  # good files keep their relative paths, byte for byte
    inventory = to_path(lake.state("datasync", "clickstream")) / "inventory" / "dt=2026-11-01.json"
    assert sorted(json.loads(inventory.read_text())["files"]) == sorted(snapshot(share))


def test_next_date_transfers_only_the_new_and_the_changed_file(share: Path, lake: LakeLayout, snapshot) -> None:
    sync_share(_source(share), D1, lake)
    day1 = _partition(lake, D1, snapshot)
    _write(share, "2026/11/01/events-0001.jsonl", [_event(i) for i in range(10, 26)], D2)  # changed: one more line
    _write(share, "2026/11/02/events-0000.jsonl", [_event(i, "2026-11-02") for i in range(100, 107)], D2)  # new
    unchanged = share / "2026/11/01/events-0000.jsonl"
    os.utime(unchanged, ns=(0, unchanged.stat().st_mtime_ns + 10**9))  # touched, same bytes: not a change

    landing = sync_share(_source(share), D2, lake)

    assert landing.files_in == 2
    assert landing.details["files_new"] == ["2026/11/02/events-0000.jsonl"]
    assert landing.details["files_changed"] == ["2026/11/01/events-0001.jsonl"]
    assert landing.details["files_skipped_unchanged"] == 2
    assert landing.details["compared_with"] == "2026-11-01"
    assert (landing.rows_in, landing.rows_out) == (16 + 7, 16 + 7)
    assert landing.details["bytes_transferred"] == sum(
        (share / rel).stat().st_size for rel in ("2026/11/01/events-0001.jsonl", "2026/11/02/events-0000.jsonl")
    )
    files = _partition(lake, D2, snapshot)
    assert sorted(files) == ["2026/11/01/events-0001.jsonl", "2026/11/02/events-0000.jsonl", "_SUCCESS"]
    assert files["2026/11/01/events-0001.jsonl"] == (share / "2026/11/01/events-0001.jsonl").read_bytes()
    assert _partition(lake, D1, snapshot) == day1  # the earlier partition is untouched


def test_nothing_changed_transfers_nothing(share: Path, lake: LakeLayout, snapshot) -> None:
    sync_share(_source(share), D1, lake)
    landing = sync_share(_source(share), D2, lake)

    assert (landing.files_in, landing.rows_in, landing.details["files_skipped_unchanged"]) == (0, 0, 3)
    assert landing.details["bytes_transferred"] == 0
    assert _partition(lake, D2, snapshot) == {"_SUCCESS": b""}


def test_rerun_of_a_date_gives_an_identical_partition(share: Path, lake: LakeLayout, snapshot) -> None:
    sync_share(_source(share), D1, lake)
    _write(share, "2026/11/01/events-0001.jsonl", [_event(i) for i in range(10, 20)] + ["{oops"], D2)
    _write(share, "2026/11/02/events-0000.jsonl", [_event(i, "2026-11-02") for i in range(100, 107)], D2)
    first = sync_share(_source(share), D2, lake)
    bronze, quarantine = _partition(lake, D2, snapshot), snapshot(to_path(first.quarantine_uri))

    again = sync_share(_source(share), D2, lake)  # same ds, same share: compared with D1 again, not with itself
    sync_share(_source(share), D3, lake)
    after_next_day = sync_share(_source(share), D2, lake)  # a later date's inventory does not matter either

    for landing in (again, after_next_day):
        assert landing.to_dict() == first.to_dict()
        assert _partition(lake, D2, snapshot) == bronze
        assert snapshot(to_path(landing.quarantine_uri)) == quarantine
    assert sorted(bronze) == ["2026/11/01/events-0001.jsonl", "2026/11/02/events-0000.jsonl", "_SUCCESS"]
    table = to_path(lake.bronze("clickstream", "events"))
    assert sorted(p.name for p in table.iterdir()) == ["dt=2026-11-01", "dt=2026-11-02", "dt=2026-11-03"]


def test_malformed_line_is_quarantined_with_its_reason(share: Path, lake: LakeLayout, snapshot) -> None:
    lines = [_event(1), '{"event_id": "e2", "customer_id": "c2", "event_type": "click"', _event(3)]
    _write(share, "2026/11/01/events-0002.jsonl", lines)
    _write(share, "2026/11/01/events-0003.jsonl", [json.dumps({"event_id": "e4", "customer_id": None})])

    landing = sync_share(_source(share), D1, lake)

    assert (landing.rows_in, landing.rows_out, landing.rows_quarantined) == (30 + 3 + 1, 30 + 2, 2)
    assert landing.details["reasons"] == {"invalid_json": 1, "null_field:customer_id": 1}
    quarantine = snapshot(to_path(landing.quarantine_uri))
    assert sorted(quarantine) == [
        "2026/11/01/events-0002.jsonl.rejects.jsonl",
        "2026/11/01/events-0003.jsonl.rejects.jsonl",
        "_SUCCESS",
    ]
    [reject] = [json.loads(x) for x in quarantine["2026/11/01/events-0002.jsonl.rejects.jsonl"].splitlines()]
    assert reject["_source_file"] == "2026/11/01/events-0002.jsonl"
    assert (reject["_line"], reject["_raw"]) == (2, lines[1])
    assert reject["_reason"] == "invalid JSON at column 62: Expecting ',' delimiter"
    good = _partition(lake, D1, snapshot)["2026/11/01/events-0002.jsonl"]
    assert good == (lines[0] + "\n" + lines[2] + "\n").encode()


def test_file_rejected_whole_is_copied_to_quarantine(share: Path, lake: LakeLayout, snapshot) -> None:
    _write(share, "2026/11/01/empty.jsonl", [])

    landing = sync_share(_source(share), D1, lake)

    assert (landing.files_in, landing.files_out, landing.files_quarantined) == (4, 3, 1)
    assert landing.details["files_quarantined_whole"] == {"2026/11/01/empty.jsonl": "empty file (0 bytes)"}
    assert "2026/11/01/empty.jsonl" not in _partition(lake, D1, snapshot)
    quarantine = snapshot(to_path(landing.quarantine_uri))
    assert quarantine["2026/11/01/empty.jsonl"] == b""
    assert b'"_scope": "file"' in quarantine["2026/11/01/empty.jsonl.rejects.jsonl"]


def test_files_deleted_at_the_source_are_preserved_and_reported(share: Path, lake: LakeLayout, snapshot) -> None:
    sync_share(_source(share), D1, lake)
    (share / "2026/10/31/events-0000.jsonl").unlink()

    landing = sync_share(_source(share), D2, lake)

    assert landing.details["files_deleted_at_source"] == ["2026/10/31/events-0000.jsonl"]
    assert landing.files_in == 0
    assert "2026/10/31/events-0000.jsonl" in _partition(lake, D1, snapshot)  # PRESERVE: the lake keeps it
    assert sync_share(_source(share), D3, lake).details["files_deleted_at_source"] == []  # reported once


def test_hidden_files_are_not_part_of_the_share(share: Path, lake: LakeLayout, snapshot) -> None:
    _write(share, "2026/11/01/.events-0009.jsonl.partial", ["{half"])
    _write(share, ".snapshot/2026/events.jsonl", [_event(1)])

    landing = sync_share(_source(share), D1, lake)

    assert landing.files_in == 3
    assert not any("/." in "/" + rel for rel in _partition(lake, D1, snapshot))


def test_a_corrupted_copy_is_retried_once(
    share: Path, lake: LakeLayout, snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies: list[str] = []

    def flaky_copy(src: Path, dest: Path) -> None:
        shutil.copyfile(src, dest)
        copies.append(src.name)
        if len(copies) == 1:
            with open(dest, "ab") as fh:
                fh.write(b"garbage")

    monkeypatch.setattr(datasync, "_copy_file", flaky_copy)
    landing = sync_share(_source(share), D1, lake)

    assert len(copies) == 4  # 3 files, the first copied twice
    assert landing.rows_quarantined == 0
    assert _partition(lake, D1, snapshot) == {**snapshot(share), "_SUCCESS": b""}


def test_a_copy_that_never_verifies_fails_and_commits_nothing(
    share: Path, lake: LakeLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def corrupting_copy(src: Path, dest: Path) -> None:
        dest.write_bytes(src.read_bytes()[:-1])

    monkeypatch.setattr(datasync, "_copy_file", corrupting_copy)
    with pytest.raises(MlPipeError, match=r"verification failed for .*events-0000\.jsonl: .* twice"):
        sync_share(_source(share), D1, lake)

    lake_dir = to_path(lake.root)
    leftovers = [p.relative_to(lake_dir).as_posix() for p in lake_dir.rglob("*") if p.is_file()]
    assert leftovers == []  # no partition, no quarantine, no inventory, no temporary directory


def test_missing_share_raises_source_unavailable_with_the_config_key(tmp_path: Path, lake: LakeLayout) -> None:
    missing = tmp_path / "not-mounted"
    with pytest.raises(SourceUnavailableError) as err:
        sync_share(_source(missing), D1, lake)
    assert str(missing) in str(err.value) and "does not exist" in str(err.value)
    assert "sources[clickstream].path" in str(err.value)

    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(SourceUnavailableError, match=r"is not a directory.*sources\[clickstream\]\.path"):
        sync_share(_source(a_file), D1, lake)


def test_unreadable_share_raises_source_unavailable(
    share: Path, lake: LakeLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = share / "2026" / "11"
    real_scandir = os.scandir

    def scandir(path):  # what a directory without read permission does (chmod would not stop root)
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(
        SourceUnavailableError, match=r"cannot be listed .*Permission denied.*sources\[clickstream\]\.path"
    ):
        sync_share(_source(share), D1, lake)
    assert not to_path(lake.bronze("clickstream", "events")).exists()


def test_a_date_sees_the_share_as_of_its_end(share: Path, lake: LakeLayout) -> None:
    """Files written after the logical date are not there yet for it; they land with the date they appeared."""
    _write(share, "2026/11/02/events-0000.jsonl", [_event(i, "2026-11-02") for i in range(100, 107)], D2)
    _write(share, "2026/11/01/events-0000.jsonl", [_event(i) for i in range(0, 12)], D3)  # rewritten on D3

    day1 = sync_share(_source(share), D1, lake)
    day2 = sync_share(_source(share), D2, lake)
    day3 = sync_share(_source(share), D3, lake)

    assert day1.files_in == 2 and day1.rows_in == 20  # the D1 version of events-0000 (10 rows) is not seen
    assert day1.details["files_new"] == ["2026/10/31/events-0000.jsonl", "2026/11/01/events-0001.jsonl"]
    assert day2.details["files_new"] == ["2026/11/02/events-0000.jsonl"] and day2.rows_in == 7
    assert day3.details["files_new"] == ["2026/11/01/events-0000.jsonl"] and day3.rows_in == 12
