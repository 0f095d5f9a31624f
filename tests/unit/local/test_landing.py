"""mlpipe.local.landing: the partner's daily drop lands in bronze, validated; reruns replace, never duplicate."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from mlpipe.config.model import DropSource
from mlpipe.errors import ConfigError, MlPipeError, SourceUnavailableError
from mlpipe.lake import LakeLayout, to_path
from mlpipe.local.landing import drop_file_name, drop_path, land_drop

DS = dt.date(2026, 11, 2)
HEADER = "customer_id,company_size,industry,credit_band,updated_date"
ROWS = ["c0001,51-200,retail,B,2026-11-02", "c0002,1-10,tech,A,2026-11-01", 'c0003,"1,000+",finance,C,2026-10-30']


def _source(landing: Path, pattern: str = "accounts_{ds_nodash}.csv") -> DropSource:
    return DropSource(
        kind="drop",
        name="partner",
        table="accounts",
        landing=str(landing),
        file_pattern=pattern,
        required_fields=["customer_id", "company_size", "industry", "credit_band"],
    )


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing" / "partner"
    path.mkdir(parents=True)
    return path


def _drop(landing: Path, text: str) -> Path:
    path = drop_path(_source(landing), DS)
    path.write_text(text)
    return path


def test_file_name_and_path_follow_the_pattern(landing: Path) -> None:
    assert drop_file_name(_source(landing), DS) == "accounts_20261102.csv"
    assert drop_file_name(_source(landing, "{ds}/accounts-{ds}.csv"), DS) == "2026-11-02/accounts-2026-11-02.csv"
    assert drop_path(_source(landing), DS) == landing / "accounts_20261102.csv"


def test_good_drop_lands_under_its_own_name(landing: Path, lake: LakeLayout, snapshot) -> None:
    text = "\n".join([HEADER, *ROWS]) + "\n"
    _drop(landing, text)

    result = land_drop(_source(landing), DS, lake)

    assert (result.files_in, result.files_out, result.files_quarantined) == (1, 1, 0)
    assert (result.rows_in, result.rows_out, result.rows_quarantined) == (3, 3, 0)
    assert result.partition_uri == lake.bronze("partner", "accounts", "2026-11-02")
    assert snapshot(to_path(result.partition_uri)) == {"accounts_20261102.csv": text.encode(), "_SUCCESS": b""}
    assert snapshot(to_path(result.quarantine_uri)) == {"_SUCCESS": b""}
    assert result.details["bytes"] == len(text.encode()) and len(result.details["sha256"]) == 64


def test_bad_rows_are_quarantined_and_counted(landing: Path, lake: LakeLayout, snapshot) -> None:
    _drop(landing, "\n".join([HEADER, ROWS[0], "c0009,,retail,B,2026-11-02", ROWS[1], "c0010,1-10"]) + "\n")

    result = land_drop(_source(landing), DS, lake)

    assert (result.rows_in, result.rows_out, result.rows_quarantined) == (4, 2, 2)
    assert result.details["reasons"] == {"csv_field_count": 1, "null_field:company_size": 1}
    bronze = snapshot(to_path(result.partition_uri))["accounts_20261102.csv"]
    assert bronze.decode() == "\n".join([HEADER, ROWS[0], ROWS[1]]) + "\n"
    rejects = snapshot(to_path(result.quarantine_uri))["accounts_20261102.csv.rejects.jsonl"]
    assert [json.loads(x)["_reason"] for x in rejects.splitlines()] == [
        "null required field 'company_size' (empty value)",
        "CSV row has 2 fields but the header has 5",
    ]


def test_renamed_column_quarantines_the_whole_file(landing: Path, lake: LakeLayout, snapshot) -> None:
    text = "\n".join([HEADER.replace("credit_band", "creditBand"), *ROWS]) + "\n"
    _drop(landing, text)

    result = land_drop(_source(landing), DS, lake)

    assert (result.files_in, result.files_out, result.files_quarantined) == (1, 0, 1)
    assert (result.rows_in, result.rows_out, result.rows_quarantined) == (3, 0, 3)
    reason = result.details["file_reason"]
    assert reason.startswith("missing required columns ['credit_band'] (found ['customer_id', ")
    assert "'creditBand'" in reason and "renamed?" in reason
    assert snapshot(to_path(result.partition_uri)) == {"_SUCCESS": b""}  # nothing of it reaches bronze
    quarantine = snapshot(to_path(result.quarantine_uri))
    assert quarantine["accounts_20261102.csv"] == text.encode()
    assert json.loads(quarantine["accounts_20261102.csv.rejects.jsonl"])["_reason"] == reason


def test_missing_drop_raises_with_a_clear_message(landing: Path, lake: LakeLayout) -> None:
    expected = landing / "accounts_20261102.csv"
    with pytest.raises(MlPipeError, match=r"^partner drop (.*) for 2026-11-02 is missing") as err:
        land_drop(_source(landing), DS, lake)
    assert str(expected) in str(err.value)
    assert not to_path(lake.bronze("partner", "accounts")).exists()


def test_missing_landing_directory_names_the_config_key(tmp_path: Path, lake: LakeLayout) -> None:
    with pytest.raises(
        SourceUnavailableError, match=r"landing directory .* does not exist.*sources\[partner\]\.landing"
    ):
        land_drop(_source(tmp_path / "nowhere"), DS, lake)


def test_s3_landing_is_not_the_local_stacks(lake: LakeLayout) -> None:
    source = _source(Path("unused")).model_copy(update={"landing": "s3://partner-drop/accounts"})
    with pytest.raises(ConfigError, match=r"sources\[partner\]\.landing is s3://"):
        land_drop(source, DS, lake)


def test_rerun_is_identical_and_a_corrected_drop_replaces_the_partition(
    landing: Path, lake: LakeLayout, snapshot
) -> None:
    _drop(landing, "\n".join([HEADER, ROWS[0], "c0010,1-10"]) + "\n")
    first = land_drop(_source(landing), DS, lake)
    bronze, quarantine = snapshot(to_path(first.partition_uri)), snapshot(to_path(first.quarantine_uri))

    again = land_drop(_source(landing), DS, lake)
    assert again.to_dict() == first.to_dict()
    assert snapshot(to_path(again.partition_uri)) == bronze
    assert snapshot(to_path(again.quarantine_uri)) == quarantine

    _drop(landing, "\n".join([HEADER, *ROWS]) + "\n")  # the partner re-delivers a fixed file
    fixed = land_drop(_source(landing), DS, lake)
    assert fixed.rows_quarantined == 0
    assert snapshot(to_path(fixed.quarantine_uri)) == {"_SUCCESS": b""}  # the old rejects are gone
    assert sorted(p.name for p in to_path(lake.bronze("partner", "accounts")).iterdir()) == ["dt=2026-11-02"]
