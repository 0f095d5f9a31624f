"""DMS full load + CDC -> the table's current state, by primary key in commit order.

``_dms_change_seq`` is what DMS writes for ``$AR_H_CHANGE_SEQ``: a 35-character string, a 16-digit timestamp
(``YYYYMMDDhhmmsshh``, UTC, hundredths) and a 19-digit zero-padded change counter, increasing in commit order;
it is **empty for full-load rows**. It never fits a bigint, so it stays a string: fixed-width digit strings
compare lexicographically in numeric order, so the string order is the commit order.

Order per key (:func:`apply_changes`): full-load rows (empty sequence) before every CDC row, CDC rows by their
change sequence; ties (two full-load rows of one key) broken by ``_dms_commit_ts`` (for a full load, when DMS
transferred the row), then partition, file and record text, so the result never depends on how Spark reads.
The last change of a key decides: ``I``/``U`` give its after-image, ``D`` removes the key. Because the order
comes from the records and not from file names or arrival, files landed out of order apply correctly; a
replayed file repeats (key, seq) pairs, which :mod:`spark_jobs.silver` sets aside first.

:func:`checks` gives silver the DMS columns' quarantine rules: an ``Op`` outside I/U/D (``bad_op``), and a
change sequence that is neither empty (full load, ``Op`` = ``I``) nor 35 digits (``bad_change_seq``). Both are
plain string tests: the same verdict with ANSI mode on (Spark 4) or off (Spark 3.5).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.bronze import CHANGE_SEQ, COMMIT_TS, OP, RAW, SOURCE_DT, SOURCE_FILE

DELETE = "D"
OPS = ("I", "U", "D")
SEQ_LENGTH = 35  # 16-digit timestamp YYYYMMDDhhmmsshh + 19-digit counter
SEQ_PATTERN = f"^[0-9]{{{SEQ_LENGTH}}}$"


def is_full_load(seq: Column | None = None) -> Column:
    """True for a full-load row: its change sequence is empty (DMS writes no ``$AR_H_CHANGE_SEQ`` there)."""
    seq = F.col(CHANGE_SEQ) if seq is None else seq
    return seq.isNull() | (F.length(seq) == 0)


def seq_is_valid() -> Column:
    """Empty on an ``I`` (a full-load row) or exactly 35 digits (a CDC row); never null."""
    seq = F.col(CHANGE_SEQ)
    full_load_insert = is_full_load(seq) & F.coalesce(F.col(OP) == F.lit("I"), F.lit(False))
    return full_load_insert | F.coalesce(seq.rlike(SEQ_PATTERN), F.lit(False))


def checks() -> list[tuple[Column, str, str]]:
    """(condition, reason code, reason) of the DMS columns, for :func:`spark_jobs.silver.classify`."""
    return [
        (~F.coalesce(F.col(OP).isin(*OPS), F.lit(False)), "bad_op", f"the DMS column Op must be one of {list(OPS)}"),
        (~seq_is_valid(), "bad_change_seq",
         f"the DMS column {CHANGE_SEQ} ($AR_H_CHANGE_SEQ) must be empty (a full-load insert) or {SEQ_LENGTH} digits "
         "(YYYYMMDDhhmmsshh + a 19-digit counter)"),
    ]


def commit_order(df: DataFrame) -> list[Column]:
    """Sort columns, latest first: CDC after full load, then change sequence, then deterministic tie-breakers."""
    seq = F.col(CHANGE_SEQ)
    order = [F.when(is_full_load(seq), F.lit(0)).otherwise(F.lit(1)).desc(),
             F.coalesce(seq, F.lit("")).desc(), F.col(COMMIT_TS).desc_nulls_last()]
    return order + [F.col(c).desc_nulls_last() for c in (SOURCE_DT, SOURCE_FILE, RAW) if c in df.columns]


def apply_changes(changes: DataFrame, key: Sequence[str], columns: Sequence[str]) -> DataFrame:
    """The current rows: the latest change per key unless it is a delete; ``columns`` in order."""
    order = Window.partitionBy(*key).orderBy(*commit_order(changes))
    latest = changes.withColumn("_rank", F.row_number().over(order)).filter(F.col("_rank") == 1)
    return latest.filter(F.col(OP) != DELETE).select(*columns)
