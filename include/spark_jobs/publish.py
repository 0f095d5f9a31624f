"""Put a checked partition where its verdict says, atomically, and write the verdict next to the data.

Every path is the dataset's ``outputs`` in the job spec. Passed: the built partition replaces ``partition``;
records set aside while building silver replace ``quarantine_rows``. Failed: the partition's files go to
``quarantine`` (next to ``quarantine_rows``) with a copy of the verdict, and nothing is left at ``partition``.
Each directory is built aside (hidden name) and swapped in whole, so a rerun replaces and never duplicates.
The verdict (``result``, ``report``: one folder) is written last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from spark_jobs import report
from spark_jobs.fs import LakeFS
from spark_jobs.quality import GateContext, Verdict, result_document
from spark_jobs.spec import quarantined_result


def prepare(fs: LakeFS, out: Mapping[str, str]) -> tuple[str, str]:
    """Fresh hidden directories for the partition and its quarantine (leftovers of a crashed run removed)."""
    for uri in (out["partition"], out["quarantine"], out["result"].rsplit("/", 1)[0]):
        fs.clean_siblings(uri)
    return fs.sibling(out["partition"], "tmp"), fs.sibling(out["quarantine"], "tmp")


def finish(fs: LakeFS, out: Mapping[str, str], data_tmp: str, quarantine_tmp: str, verdict: Verdict,
           ctx: GateContext, rows: int, suite: Mapping[str, Any]) -> dict[str, Any]:
    """Commit or quarantine the partition; write result.json and report.html; return the result."""
    if verdict.success:
        fs.replace_dir(data_tmp, out["partition"])
        if fs.exists(quarantine_tmp):
            fs.replace_dir(quarantine_tmp, out["quarantine"])
        else:
            fs.delete(out["quarantine"])
        doc = result_document(verdict, ctx, partition_uri=out["partition"], quarantine_uri=None,
                              report_uri=out["report"], rows=rows)
    else:
        fs.mkdirs(quarantine_tmp)
        for entry in fs.list(data_tmp):
            fs.rename(entry.uri, f"{quarantine_tmp}/{entry.name}")
        fs.delete(data_tmp)
        doc = result_document(verdict, ctx, partition_uri=out["quarantine"], quarantine_uri=out["quarantine"],
                              report_uri=out["report"], rows=rows)
        fs.write_text(quarantined_result(out, quarantine_tmp), _dumps(doc))
        fs.replace_dir(quarantine_tmp, out["quarantine"])
        fs.delete(out["partition"])
    quality_dir = out["result"].rsplit("/", 1)[0]
    tmp = fs.sibling(quality_dir, "tmp")
    fs.mkdirs(tmp)
    fs.write_text(f"{tmp}/{out['result'].rsplit('/', 1)[1]}", _dumps(doc))
    fs.write_text(f"{tmp}/{out['report'].rsplit('/', 1)[1]}", report.render(verdict, doc, suite))
    fs.replace_dir(tmp, quality_dir)
    return doc


def _dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"
