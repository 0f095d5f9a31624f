"""A sensor for the local landing directory (the local stand-in for the S3 key sensor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowSensorTimeout


class LandingFileSensor(BaseSensorOperator):
    """Waits for ``<landing>/<file_pattern>`` of the logical date; on timeout fails with what was missing."""

    template_fields = ("filepath",)

    def __init__(self, *, filepath: str, source_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filepath = filepath
        self.source_name = source_name

    def poke(self, context: Any) -> bool:
        found = Path(self.filepath).is_file()
        self.log.info("%s drop %s: %s", self.source_name, self.filepath, "found" if found else "not there yet")
        return found

    def execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        except AirflowSensorTimeout as exc:
            raise AirflowSensorTimeout(
                f"the {self.source_name} drop {self.filepath} did not arrive within {self.timeout:.0f} s "
                f"(sources[{self.source_name}].sensor_timeout_seconds). Ask the sender, then clear this task "
                "to wait again; nothing downstream ran for this date."
            ) from exc
