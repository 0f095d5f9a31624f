"""mlpipe.tasks.ingestion: the bronze Asset events both stacks emit, and the drop file's Jinja template."""

from __future__ import annotations

import datetime as dt

import jinja2
import pytest
from airflow.sdk import Asset
from airflow.sdk.execution_time.context import OutletEventAccessors
from mlpipe.config.model import DropSource
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout
from mlpipe.local.landing import drop_file_name
from mlpipe.manifest import TableLanding
from mlpipe.tasks.ingestion import bronze_event_extra, drop_file_template, emit_bronze_events

LAYOUT = LakeLayout("s3://lake-bucket/lake")
DS = "2026-11-01"


def landing(table: str, rows_out: int, rows_quarantined: int) -> TableLanding:
    return TableLanding(source="oltp", table=table, ds=DS, partition_uri=LAYOUT.bronze("oltp", table, DS),
                        rows_in=rows_out + rows_quarantined, rows_out=rows_out, rows_quarantined=rows_quarantined,
                        files_in=1, files_out=1)


def asset(table: str) -> Asset:
    return Asset(name=f"bronze.oltp.{table}", uri=LAYOUT.bronze("oltp", table))


def test_the_extra_is_the_date_the_partition_and_the_rows():
    assert bronze_event_extra(landing("customers", 7, 2)) == {
        "ds": DS, "partition": "s3://lake-bucket/lake/bronze/oltp/customers/dt=2026-11-01", "rows": 7,
        "rows_quarantined": 2}


def test_each_landing_sets_the_event_of_its_own_outlet():
    events = OutletEventAccessors()
    landings = [landing("customers", 7, 2), landing("payments", 3, 0)]
    out = emit_bronze_events(LAYOUT, landings, [asset("payments"), asset("customers")], events)
    assert out == [item.to_dict() for item in landings]
    assert events[asset("customers")].extra == bronze_event_extra(landings[0])
    assert events[asset("payments")].extra == {**bronze_event_extra(landings[1]), "rows": 3, "rows_quarantined": 0}


def test_a_landing_without_its_outlet_fails_naming_the_table():
    with pytest.raises(MlPipeError, match=r"oltp.payments landed in .*dt=2026-11-01 but this task has no outlet "
                                          r"s3://lake-bucket/lake/bronze/oltp/payments"):
        emit_bronze_events(LAYOUT, [landing("payments", 1, 0)], [asset("customers")], OutletEventAccessors())


@pytest.mark.parametrize("pattern", ["accounts_{ds_nodash}.csv", "{ds}/accounts-{ds}.csv", "a_{ds}_{ds_nodash}.csv"])
def test_the_template_renders_to_the_file_name_of_the_date(pattern):
    source = DropSource(kind="drop", name="partner", table="accounts", landing="s3://drops/partner",
                        file_pattern=pattern)
    day = dt.date(2026, 11, 2)
    rendered = jinja2.Template(drop_file_template(source)).render(ds=day.isoformat(), ds_nodash=f"{day:%Y%m%d}")
    assert rendered == drop_file_name(source, day)
