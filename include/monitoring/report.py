"""The drift report (HTML): the verdict, the triggers, a table per check and a baseline-vs-live plot per
feature and for the predictions, PNGs embedded as base64 so the report is one self-contained file."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

MAX_PLOTS = 40
RETRAIN_MARK = "<!--mlpipe:retrain-->"
COLOURS = {"drift": "#b00", "ok": "green", "insufficient_data": "#a60", "not_available": "grey"}


def _e(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape("-" if v is None else str(v))


def _labels(edges: Sequence[float]) -> list[str]:
    if not edges:
        return ["all"]
    out = [f"<={edges[0]:.3g}"]
    out += [f"{a:.3g}-{b:.3g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return [*out, f">{edges[-1]:.3g}"]


def bar_plot(title: str, labels: Sequence[str], baseline: Sequence[float], live: Sequence[float]) -> str:
    """A grouped bar chart of baseline vs live shares, as a ``data:image/png;base64,...`` URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    ax.bar(x - 0.2, [b or 0.0 for b in baseline], 0.4, label="training baseline", color="#8aa")
    ax.bar(x + 0.2, [v or 0.0 for v in live], 0.4, label="live", color="#d73")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("share of rows", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.14, right=0.98, top=0.9, bottom=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plot_of(name: str, rec: Mapping[str, Any]) -> str | None:
    if rec.get("fractions") is None or rec.get("baseline_fractions") is None:
        return None
    labels = list(rec["categories"]) if rec.get("kind") == "categorical" else _labels(rec.get("edges") or [])
    title = f"{name}: {rec.get('status')}" + (f", PSI {rec['psi']:.3f}" if rec.get("psi") is not None else "")
    return bar_plot(title, labels, rec["baseline_fractions"], rec["fractions"])


def _status(s: str) -> str:
    return f"<b style='color:{COLOURS.get(s, 'black')}'>{html.escape(s)}</b>"


def _feature_table(pop: Mapping[str, Any]) -> str:
    rows = []
    for name, r in (pop.get("features") or {}).items():
        miss = r.get("missing") or {}
        extra = ""
        if r.get("kind") == "categorical":
            extra = "new: " + ", ".join(f"{k} {v:.1%}" for k, v in (r.get("new_categories") or {}).items())
            if r.get("vanished_categories"):
                extra += "; vanished: " + ", ".join(r["vanished_categories"])
        rows.append(f"<tr><td>{_e(name)}{' (report only)' if r.get('report_only') else ''}</td><td>{_e(r.get('kind'))}"
                    f"</td><td>{_status(r['status'])}</td><td>{_e(r.get('psi'))}</td><td>{_e(r.get('p_value'))}</td>"
                    f"<td>{_e(miss.get('baseline'))} &rarr; {_e(miss.get('live'))}</td><td>{_e(extra)}</td>"
                    f"<td>{_e('; '.join(r.get('reasons') or []))}</td></tr>")
    return ("<table><tr><th>feature</th><th>kind</th><th>status</th><th>PSI</th><th>p-value</th>"
            "<th>missing rate</th><th>categories</th><th>why</th></tr>" + "".join(rows) + "</table>")


def retrain_section(decision: Mapping[str, Any]) -> str:
    """The retraining decision's HTML (``add_retrain`` puts it into a rendered report at :data:`RETRAIN_MARK`)."""
    return (f"<h2>Retraining: {_e(decision.get('decision'))}</h2><ul>"
            + "".join(f"<li>{_e(r)}</li>" for r in decision.get("reasons") or []) + "</ul>")


def add_retrain(report_html: str, decision: Mapping[str, Any]) -> str:
    """``report_html`` with the retraining decision added (no plot is drawn again)."""
    if RETRAIN_MARK not in report_html:
        raise ValueError("not a report of render(): it has no retraining mark")
    return report_html.replace(RETRAIN_MARK, retrain_section(decision), 1)


def render(summary: Mapping[str, Any], plots: bool = True) -> str:
    """The HTML report of a monitoring summary (``drift.json``)."""
    v = summary.get("verdict") or {}
    model = summary.get("model") or {}
    th = summary.get("thresholds") or {}
    trig = summary.get("retrain") or {}
    parts = [f"""<!doctype html><html><head><meta charset=utf-8><title>ml_monitoring {_e(summary.get('ds'))}</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 8px;text-align:left;font-size:90%}}
figure{{display:inline-block;margin:4px}} table{{border-collapse:collapse}} tr:nth-child(even){{background:#f4f4f4}}
</style></head><body>
<h1>Drift report, dt={_e(summary.get('ds'))}</h1>
<p>Model {_e(model.get('group'))} version <b>{_e(model.get('version'))}</b> ({_e(model.get('source'))}),
trained on dt={_e(model.get('trained_ds'))}; test AUC {_e(model.get('test_auc'))}.</p>
<h2>Verdict: {_status(str(v.get('status')))}</h2><ul>"""]
    parts += [f"<li>{_e(k)}: {_status(s)}</li>" for k, s in (v.get("checks") or {}).items()]
    parts.append("</ul>")
    if v.get("reasons"):
        parts.append("<h3>Why</h3><ul>" + "".join(f"<li>{_e(r)}</li>" for r in v["reasons"]) + "</ul>")
    if trig:
        parts.append(retrain_section(trig))
    parts.append(RETRAIN_MARK)
    parts.append("<h2>Thresholds</h2><table>" + "".join(f"<tr><td>{_e(k)}</td><td>{_e(x)}</td></tr>"
                                                          for k, x in th.items()) + "</table>")
    images: list[tuple[str, str]] = []
    for name, pop in (summary.get("populations") or {}).items():
        parts.append(f"<h2>Features: {_e(name)} ({_e(pop.get('rows'))} rows) {_status(pop['status'])}</h2>")
        if pop.get("source"):
            parts.append(f"<p>source: {_e(pop['source'])}</p>")
        if pop.get("features"):
            parts.append(_feature_table(pop))
            if plots and name == "gold":
                images += [(f"{name}.{f}", r) for f, r in pop["features"].items()]  # type: ignore[misc]
        else:
            parts.append("<p>" + _e("; ".join(pop.get("reasons") or [])) + "</p>")
    for name, pred in (summary.get("predictions") or {}).items():
        parts.append(f"<h2>Predictions: {_e(name)} ({_e(pred.get('rows'))} scores) {_status(pred['status'])}</h2>"
                     f"<p>PSI {_e(pred.get('psi'))}, KS p {_e(pred.get('p_value'))}, mean score "
                     f"{_e(pred.get('baseline_mean'))} &rarr; {_e(pred.get('mean'))}; "
                     f"{_e('; '.join(pred.get('reasons') or []))}</p>")
        if plots:
            images.append((f"predictions.{name}", {**pred, "kind": "numeric"}))  # type: ignore[arg-type]
    perf = summary.get("performance") or {}
    if perf:
        parts.append(f"<h2>Performance on matured labels {_status(perf.get('status', 'not_available'))}</h2>"
                     f"<p>AUC {_e(perf.get('auc'))} on {_e(perf.get('rows'))} rows ({_e(perf.get('positives'))} "
                     f"positive), model's test AUC {_e(perf.get('reference_auc'))}; "
                     f"{_e('; '.join(perf.get('reasons') or []))}</p>")
    figures = []
    for name, rec in images[:MAX_PLOTS]:
        uri = _plot_of(name, rec)  # type: ignore[arg-type]
        if uri:
            figures.append(f"<figure><img src='{uri}'><figcaption>{_e(name)}</figcaption></figure>")
    if figures:
        parts.append("<h2>Baseline vs live</h2>" + "".join(figures))
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["RETRAIN_MARK", "add_retrain", "bar_plot", "render", "retrain_section"]
