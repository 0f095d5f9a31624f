"""The verdict as a readable, self-contained HTML page (report.html next to result.json)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from spark_jobs.quality import Outcome, Verdict

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1f2328;max-width:1200px}
h1{font-size:1.4rem;margin:0 0 .3rem} .meta{color:#57606a;margin-bottom:1rem}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:1rem;font-weight:600;color:#fff}
.pass{background:#1a7f37}.fail{background:#cf222e}.warn{background:#9a6700}
table{border-collapse:collapse;width:100%;margin:.6rem 0 1.4rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12px ui-monospace,monospace;white-space:pre-wrap;margin:0}
tr.bad td{background:#ffebe9} tr.warned td{background:#fff8c5}
"""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return f"<code>{html.escape(json.dumps(value, sort_keys=True, default=str))}</code>"
    return html.escape(str(value))


def _status(o: Outcome) -> str:
    if o.success:
        return '<span class="badge pass">pass</span>'
    return f'<span class="badge {"fail" if o.severity == "fail" else "warn"}">{"FAIL" if o.severity == "fail" else "warn"}</span>'


def render(verdict: Verdict, doc: Mapping[str, Any], suite: Mapping[str, Any]) -> str:
    ok = doc["success"]
    badge = '<span class="badge pass">PASSED</span>' if ok else '<span class="badge fail">FAILED: quarantined</span>'
    rows = []
    for o in sorted(verdict.outcomes, key=lambda o: (o.success, o.severity != "fail")):
        cls = "" if o.success else (' class="bad"' if o.severity == "fail" else ' class="warned"')
        rows.append(f"<tr{cls}><td>{_status(o)}</td><td>{html.escape(o.expectation)}</td><td>{_cell(o.column)}</td>"
                    f"<td>{html.escape(o.severity)}</td><td>{_cell(o.observed)}</td><td>{_cell(o.details)}</td></tr>")
    rec = doc.get("reconciliation") or {}
    rec_rows = "".join(f"<tr><th>{html.escape(k)}</th><td class=num>{v}</td></tr>" for k, v in rec.items())
    where = [("partition", doc["partition_uri"]), ("quarantine", doc["quarantine_uri"]),
             ("result.json", doc["report_uri"].rsplit("/", 1)[0] + "/result.json")]
    links = "".join(f"<tr><th>{k}</th><td><code>{_cell(v) or '-'}</code></td></tr>" for k, v in where)
    counts = (f"{len(verdict.outcomes)} checks: {sum(o.success for o in verdict.outcomes)} passed, "
              f"{len(doc['failed'])} failed, {len(doc['warnings'])} warnings")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(doc['dataset'])} dt={html.escape(doc['ds'])}: quality</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(doc['dataset'])} &middot; dt={html.escape(doc['ds'])} {badge}</h1>
<div class="meta">suite <code>{html.escape(str(suite.get('name')))}</code> v{html.escape(str(suite.get('version')))}
 ({html.escape(str(suite.get('path', '')))}) &middot; {doc['rows']} rows &middot; {counts}.
 Severity <b>fail</b> blocks the partition; <b>warn</b> is reported and passes.</div>
<h2>Where the data is</h2><table>{links}</table>
<h2>Reconciliation</h2><table>{rec_rows or '<tr><td>none</td></tr>'}</table>
<h2>Checks</h2>
<table><tr><th>status</th><th>expectation</th><th>column</th><th>severity</th><th>observed</th><th>details</th></tr>
{''.join(rows)}
</table>
</body></html>
"""
