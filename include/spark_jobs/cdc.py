"""DMS full load + CDC -> the table's current state, by primary key in commit order.

Order: ``_dms_change_seq``, then ``_dms_commit_ts`` (full-load rows carry seq 0, so any change wins over
them). The last change of a key decides: ``I``/``U`` give its after-image, ``D`` removes the key. Because
the order comes from the records and not from file names or arrival, files landed out of order apply
correctly; a replayed file repeats (key, seq) pairs, which :mod:`spark_jobs.silver` sets aside first.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.bronze import CHANGE_SEQ, COMMIT_TS, OP

DELETE = "D"
OPS = ("I", "U", "D")


def apply_changes(changes: DataFrame, key: Sequence[str], columns: Sequence[str]) -> DataFrame:
    """The current rows: the latest change per key unless it is a delete; ``columns`` in order."""
    order = Window.partitionBy(*key).orderBy(F.col(CHANGE_SEQ).desc(), F.col(COMMIT_TS).desc())
    latest = changes.withColumn("_rank", F.row_number().over(order)).filter(F.col("_rank") == 1)
    return latest.filter(F.col(OP) != DELETE).select(*columns)
