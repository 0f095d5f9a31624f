"""ml_training's task bodies shared by both stacks: the time split, the champion, the promotion gate, the
report, the lineage.

The lake paths this DAG writes (the same on both stacks, :meth:`mlpipe.lake.LakeLayout.training`)::

    training/<group>/dt=<ds>/{train,validation,test}/part-0.parquet   the channels (time-based split)
    training/<group>/dt=<ds>/split.json                               boundaries, row counts, gold file hashes
    training/<group>/dt=<ds>/evaluation/evaluation.json               test-set metrics, calibration, confusion,
                                                                      the checks (evaluate.py)
    training/<group>/dt=<ds>/evaluation/{roc,pr,importance}.png       the figures (evaluate.py, beside it)
    training/<group>/dt=<ds>/evaluation/report.html                   the evaluation report (figures inlined)
    training/<group>/dt=<ds>/lineage.json                             what the registered version came from

The gate: ``promotion_gate`` (task ``gate``) raises :class:`AirflowSkipException` with the reason when the
challenger does not beat the naive baseline by ``evaluation.baseline_margin`` or trails the champion (the
newest Approved version) by more than ``evaluation.champion_tolerance``. The run stays green (nothing is wrong
with the pipeline), ``gate`` and ``register`` show as skipped, and the reason is the gate's log line and the
report's verdict.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import logging
from collections.abc import Mapping
from typing import Any

from mlpipe.config import PipelineConfig, config_hash, load_config
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout
from mlpipe.naming import job_name
from mlpipe.services import registry_for, storage_for

log = logging.getLogger(__name__)

DAG_ID = "ml_training"
FEATURES_DAG_ID = "ml_features"
SPLIT_TASK_ID = "split"
CHANNELS = ("train", "validation", "test")
EVALUATION_FILE = "evaluation.json"
REPORT_FILE = "report.html"


def training_root(cfg: PipelineConfig, ds: str) -> str:
    """The training run of ``ds`` for the configured model package group."""
    return LakeLayout.from_config(cfg).training(cfg.training.registry.model_package_group, ds)


def evaluation_uri(root: str) -> str:
    return f"{root}/evaluation/{EVALUATION_FILE}"


def report_uri(root: str) -> str:
    return f"{root}/evaluation/{REPORT_FILE}"


def lineage_uri(root: str) -> str:
    return f"{root}/lineage.json"


def tuning_config_hash(cfg: PipelineConfig) -> str:
    """What makes a tuning job: the training section and the lake (so a changed search gets a new name)."""
    return config_hash(cfg.training, cfg.lake, cfg.features.gold.name)


def tuning_job_name(cfg: PipelineConfig, ds: str) -> str:
    """The tuning job's first name for ``ds`` (dag id, date, config hash): a retry derives the same one."""
    return job_name("tuning_job", DAG_ID, ds, tuning_config_hash(cfg))


def workload(module: str) -> Any:
    """``include/training/<module>.py`` (the package ``training``, as in the container), imported by path."""
    import importlib
    import importlib.util

    from mlpipe.paths import CODE_ROOT

    spec = importlib.util.spec_from_file_location("_mlpipe_training_package",
                                                  CODE_ROOT / "include" / "training" / "_package.py")
    pkg = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(pkg)  # type: ignore[union-attr]
    pkg.ensure_package()
    return importlib.import_module(f"training.{module}")


# ---- ds ------------------------------------------------------------------------------------------------------


def resolve_ds(ds: str | None, triggering_asset_events: Any) -> str:
    """The run's logical date, else the newest ``extra['ds']`` of the triggering gold / retrain events."""
    if ds:
        return ds
    dates = {str(e.extra["ds"]) for _a, events in dict(triggering_asset_events or {}).items()
             for e in events if (e.extra or {}).get("ds")}
    if not dates:
        raise MlPipeError(
            "this run has neither a logical date nor triggering gold/retrain events with a 'ds': trigger it with "
            "a logical date (airflow dags test ml_training 2026-11-01) or let ml_features' gold event schedule it")
    if len(dates) > 1:
        log.warning("events carry %s; training on the newest, %s", sorted(dates), max(dates))
    return max(dates)


# ---- split ---------------------------------------------------------------------------------------------------


def split_frame(df: Any, cfg: PipelineConfig, ds: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train / validation / test by time (``training.split.windows(ds)``), rows with a label only.

    Every window ends at or before ``ds - end_days``, so no row whose label has not matured is used, and the
    windows are disjoint ``[start, end)`` intervals in time order (no future row in train or validation).
    """
    split_by_time = workload("data").split_by_time
    t = cfg.training
    windows = t.split.windows(ds)
    if t.label not in df.columns:
        raise MlPipeError(f"the gold partition has no label column '{t.label}' (training.label); columns: "
                          f"{list(df.columns)}")
    labelled = df[df[t.label].notna()]
    parts = split_by_time(labelled, t.time_column, windows)
    stats = {"ds": ds, "time_column": t.time_column, "label": t.label,
             "windows": {k: [a.isoformat(), b.isoformat()] for k, (a, b) in windows.items()},
             "rows": {k: int(len(v)) for k, v in parts.items()},
             "positives": {k: int(v[t.label].astype(float).sum()) for k, v in parts.items()},
             "rows_in_gold": int(len(df)), "rows_unlabelled": int(len(df) - len(labelled))}
    for name in CHANNELS:
        if stats["rows"][name] == 0:
            raise MlPipeError(
                f"the {name} window {stats['windows'][name]} of dt={ds} holds no labelled rows of gold "
                f"(rows by {t.time_column}: {stats['rows']}); widen training.split or check features.gold.as_of")
    return parts, stats


def split(ds: str | None = None, triggering_asset_events: Any = None, cfg: PipelineConfig | None = None
          ) -> dict[str, Any]:
    """Task body of ``split``: write the channels and ``split.json``; returns their URIs and the statistics."""
    cfg = cfg or load_config()
    day = resolve_ds(ds, triggering_asset_events)
    storage = storage_for(cfg)
    layout = LakeLayout.from_config(cfg)
    gold = layout.gold(cfg.features.gold.name, day)
    files = storage.fingerprints(gold, ".parquet")
    if not files:
        raise MlPipeError(f"no gold Parquet files at {gold}: run ml_features for {day} first")
    parts, stats = split_frame(storage.read_parquet(sorted(files)), cfg, day)
    root = training_root(cfg, day)
    channels = {}
    for name in CHANNELS:
        channels[name] = f"{root}/{name}"
        storage.write_parquet(f"{root}/{name}/part-0.parquet", parts[name])
    doc = {**stats, "gold_partition": gold, "gold_files": files, "channels": channels,
           "feature_spec_uri": layout.spec(FEATURES_DAG_ID, day)}
    storage.write_json(f"{root}/split.json", doc)
    log.info("split of dt=%s: %s rows (windows %s); channels under %s", day, stats["rows"], stats["windows"], root)
    return {**doc, "split_uri": f"{root}/split.json", "root": root}


# ---- the champion --------------------------------------------------------------------------------------------


def champion(cfg: PipelineConfig | None = None) -> dict[str, Any] | None:
    """Task body of ``evaluate.champion`` (aws; the local ``evaluate`` calls it too): the newest Approved
    version of the group, ``{"version", "arn", "auc", "tuning_job_name", "model_uri"}`` (``auc``: its recorded
    test AUC), or None when no version is Approved."""
    cfg = cfg or load_config()
    package = registry_for(cfg).newest_approved(cfg.training.registry.model_package_group)
    if package is None:
        return None
    recorded = package.metrics.get("test_auc")
    return {"version": package.version, "arn": package.arn,
            "auc": None if recorded is None else float(recorded), "tuning_job_name": package.tuning_job_name,
            "model_uri": package.model_uri}


# ---- the promotion gate --------------------------------------------------------------------------------------


def promotion_verdict(evaluation: Mapping[str, Any], cfg: PipelineConfig, champion: Mapping[str, Any] | None
                      ) -> dict[str, Any]:
    """The promotion verdict: the challenger's test AUC against the naive baseline (+ margin) and against the
    champion's AUC on the same test split (- tolerance). ``{"register": bool, "reasons": [...], "checks"}``."""
    e = cfg.training.evaluation
    model_auc = (evaluation.get("model") or {}).get("auc")
    naive_auc = ((evaluation.get("baselines") or {}).get("naive") or {}).get("auc")
    checks = []
    if model_auc is None:
        checks.append({"name": "test_auc_defined", "passed": False,
                       "detail": "the test split holds a single class; AUC is undefined"})
    else:
        ref = 0.5 if naive_auc is None else float(naive_auc)
        need = ref + e.baseline_margin
        checks.append({"name": "beats_naive_baseline", "passed": model_auc >= need,
                       "detail": f"test AUC {model_auc:.4f} vs naive baseline {ref:.4f} + margin "
                                 f"{e.baseline_margin:.4f} = {need:.4f}"})
        champ_auc = (champion or {}).get("auc")
        if champ_auc is not None:
            floor = float(champ_auc) - e.champion_tolerance
            checks.append({"name": "not_worse_than_champion", "passed": model_auc >= floor,
                           "detail": f"test AUC {model_auc:.4f} vs champion v{champion.get('version')} "
                                     f"{champ_auc:.4f} - tolerance {e.champion_tolerance:.4f} = {floor:.4f}"})
    return {"register": all(c["passed"] for c in checks), "checks": checks,
            "reasons": [c["detail"] for c in checks if not c["passed"]], "champion": dict(champion or {}) or None}


def promotion_gate(evaluated: Mapping[str, Any], cfg: PipelineConfig | None = None) -> dict[str, Any]:
    """Task body of ``gate``: pass the verdict on, or skip (``register`` is skipped too) with the reason."""
    cfg = cfg or load_config()
    verdict = promotion_verdict(evaluated["evaluation"], cfg, evaluated.get("champion"))
    for c in verdict["checks"]:
        log.info("gate %s: %s (%s)", c["name"], "passed" if c["passed"] else "FAILED", c["detail"])
    if not verdict["register"]:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("not registering the challenger: " + "; ".join(verdict["reasons"])
                                   + f". Report: {evaluated.get('report_uri')}")
    return verdict


# ---- registration bookkeeping ----------------------------------------------------------------------------------


def flat_metrics(evaluation: Mapping[str, Any], best_metrics: Mapping[str, Any]) -> dict[str, float]:
    """``test_auc``, ``test_aucpr``, ... of the evaluation and the best trial's ``validation:auc``... as floats."""
    out = {f"test_{k}": float(v) for k, v in (evaluation.get("model") or {}).items()
           if isinstance(v, int | float) and not isinstance(v, bool)}
    naive = ((evaluation.get("baselines") or {}).get("naive") or {}).get("auc")
    if naive is not None:
        out["naive_baseline_auc"] = float(naive)
    out.update({k: float(v) for k, v in best_metrics.items() if isinstance(v, int | float)})
    return out


def lineage(split_doc: Mapping[str, Any], tuned: Mapping[str, Any], evaluated: Mapping[str, Any],
            version: Any = None) -> dict[str, Any]:
    """What a model version came from: gold files with their hashes, the feature job spec, the split, the
    tuning job and its best trial, the evaluation report."""
    return {
        "ds": split_doc["ds"],
        "data": {"gold_partition": split_doc["gold_partition"], "gold_files": split_doc["gold_files"],
                 "channels": split_doc["channels"], "windows": split_doc["windows"], "rows": split_doc["rows"]},
        "feature_job_spec_uri": split_doc.get("feature_spec_uri"),
        "tuning_job_name": tuned["name"],
        "best_trial": {k: tuned["best"].get(k) for k in ("name", "hyperparameters", "metrics", "objective")},
        "evaluation_uri": evaluated.get("evaluation_uri"), "report_uri": evaluated.get("report_uri"),
        "model_version": version,
    }


def write_lineage(split: Mapping[str, Any], tuned: Mapping[str, Any], evaluated: Mapping[str, Any],
                  cfg: PipelineConfig | None = None) -> str:
    """Task body of ``lineage`` (aws): the lineage record next to the channels; the version links to it."""
    cfg = cfg or load_config()
    uri = lineage_uri(split["root"])
    storage_for(cfg).write_json(uri, {**lineage(split, tuned, evaluated), "at": now()})
    return uri


# ---- report --------------------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))


def _calibration_table(rows: Any) -> str:
    if not rows:
        return ""
    body = "".join(f"<tr><td>{html.escape(str(r['bin']))}</td><td>{r['n']}</td><td>{_fmt(r['mean_score'])}</td>"
                   f"<td>{_fmt(r['positive_rate'])}</td></tr>" for r in rows)
    return ("<h2>Calibration</h2><table><tr><th>score</th><th>rows</th><th>mean score</th>"
            f"<th>positive rate</th></tr>{body}</table>")


def render_report(ds: str, tuned: Mapping[str, Any], evaluation: Mapping[str, Any], verdict: Mapping[str, Any],
                  images: Mapping[str, str] | None = None, extras: Mapping[str, Any] | None = None) -> str:
    """The evaluation report (HTML): model vs naive baseline vs champion, the gate, the confusion matrix and
    calibration, the figures (``images``: caption -> ``src``), the stack's extras (the spot saving)."""
    model = evaluation.get("model") or {}
    naive = (evaluation.get("baselines") or {}).get("naive") or {}
    champion = verdict.get("champion") or {}
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in sorted(model.items()))
    checks = "".join(f"<li class={'ok' if c['passed'] else 'bad'}>{'PASS' if c['passed'] else 'FAIL'} "
                     f"{html.escape(c['name'])}: {html.escape(c['detail'])}</li>" for c in verdict["checks"])
    confusion = {f"confusion {k}": v for k, v in (evaluation.get("confusion") or {}).items()}
    extra_rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_fmt(v)}</td></tr>"
                         for k, v in {**confusion, **(extras or {})}.items())
    imgs = "".join(f"<figure><img src='{html.escape(src)}' width=420><figcaption>{html.escape(name)}"
                   f"</figcaption></figure>" for name, src in (images or {}).items())
    best = tuned.get("best") or {}
    return f"""<!doctype html><html><head><meta charset=utf-8><title>ml_training {ds}</title>
<style>body{{font-family:sans-serif;margin:2em}} td{{padding:2px 8px}} .ok{{color:green}} .bad{{color:#b00}}
figure{{display:inline-block}}</style></head><body>
<h1>Evaluation of {html.escape(str(tuned.get('name')))} (dt={ds})</h1>
<p>Best trial <b>{html.escape(str(best.get('name')))}</b>, objective {_fmt(best.get('objective'))};
test rows {evaluation.get('rows')}, decision threshold {evaluation.get('threshold')}.</p>
<h2>Verdict: {'register' if verdict['register'] else 'not registered'}</h2><ul>{checks}</ul>
<h2>Test metrics</h2><table>{rows}
<tr><td>naive baseline AUC</td><td>{_fmt(naive.get('auc'))}</td></tr>
<tr><td>champion AUC (same test split)</td><td>{_fmt(champion.get('auc', '-'))}</td></tr>{extra_rows}</table>
{_calibration_table(evaluation.get('calibration'))}
{imgs}</body></html>"""


def write_report(cfg: PipelineConfig, split: Mapping[str, Any], tuned: Mapping[str, Any],
                 champ: Mapping[str, Any] | None, extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``report.html`` from the run's ``evaluation.json`` and the figures beside it (inlined, so the report is one
    self-contained object on either stack), through the storage service. Returns the ``evaluate`` XCom:
    ``{"evaluation", "champion", "evaluation_uri", "report_uri"}``."""
    storage = storage_for(cfg)
    uri = evaluation_uri(split["root"])
    if not storage.exists(uri):
        raise MlPipeError(f"no {uri}: evaluate.py wrote nothing (aws: see the processing job's CloudWatch log)")
    evaluation = storage.read_json(uri)
    folder = uri.rsplit("/", 1)[0]
    images = {caption: "data:image/png;base64," + base64.b64encode(storage.read_bytes(f"{folder}/{name}")).decode()
              for caption, name in (evaluation.get("images") or {}).items()}
    verdict = promotion_verdict(evaluation, cfg, champ)
    out = report_uri(split["root"])
    storage.write_text(out, render_report(split["ds"], tuned, evaluation, verdict, images, extras))
    log.info("test AUC %s (naive %s, champion %s); report %s", (evaluation.get("model") or {}).get("auc"),
             ((evaluation.get("baselines") or {}).get("naive") or {}).get("auc"), (champ or {}).get("auc"), out)
    return {"evaluation": evaluation, "champion": dict(champ) if champ else None, "evaluation_uri": uri,
            "report_uri": out}


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
