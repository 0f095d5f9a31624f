"""`make run`: the whole life of a model on one machine, through real Airflow on the local stack.

It generates the sample sources, then for the first logical date runs ingest -> features (quality gates) ->
training (tuning, evaluation, registration; the local config auto-approves) -> deployment (endpoint and batch
transform) -> monitoring; then for each later date (the last one generated with planted drift): ingest ->
features -> monitoring, and, when monitoring emits the retraining Asset event, training and, when that
approves a new version, deployment (blue/green, no downtime). Between deployment and monitoring, simulated
client traffic scores the date's scoring rows on the endpoint through boto3, so data capture has something to
compare. Every stage is a real DAG run (`airflow dags test`); a short summary prints after each, then a final
table, also written as JSON (last line: ``summary: <path>``). A failed run stops that date's chain (the other
dates still run) and the exit status is 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import time
from pathlib import Path
from typing import Any

from mlpipe.config import load_config
from mlpipe.dagkit import lake, retrain_asset
from mlpipe.lake import to_path

from devtools.airflow_local import airflow_env, migrate
from devtools.chain import DagRunResult, asset_events, failure_lines, run_dag, send_traffic

STAGE_OF = {"ml_ingest": "ingest", "ml_features": "features", "ml_training": "training",
            "ml_deployment": "deployment", "ml_monitoring": "monitoring"}
TRAFFIC_ROWS = 1000  # scoring rows sent to the endpoint per date (all of them when the date has fewer)


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise SystemExit(f"END ({end}) is before START ({start}); pass START=YYYY-MM-DD END=YYYY-MM-DD")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


class Chain:
    """Runs the DAGs of one `make run` and collects what each did."""

    def __init__(self, cfg: Any, env: dict[str, str], run_dir: Path) -> None:
        self.cfg, self.env, self.run_dir = cfg, env, run_dir
        self.layout = lake(cfg)
        self.runs: list[DagRunResult] = []
        self.dates: dict[str, dict[str, Any]] = {}
        self.failed = False

    def dag(self, dag_id: str, ds: str) -> bool:
        print(f"== {dag_id} {ds} (airflow dags test) ...", flush=True)
        result = run_dag(dag_id, ds, self.env, self.run_dir / f"{dag_id}-{ds}.log")
        self.runs.append(result)
        self.dates[ds].setdefault("runs", []).append(result.to_dict())
        print(f"   {result.state} in {result.seconds:.0f} s (tasks {result.work_seconds:.0f} s, Airflow "
              f"{result.airflow_seconds:.0f} s)", flush=True)
        if result.state != "success":
            self.failed = True
            print(f"   FAILED; the log: {result.log}\n" + failure_lines(result.log), flush=True)
            return False
        summary = getattr(self, f"_after_{STAGE_OF[dag_id]}")(ds)
        self.dates[ds][STAGE_OF[dag_id]] = summary
        return True

    # ---- the chain ------------------------------------------------------------------------------------------

    def first_date(self, ds: str) -> None:
        self.dates[ds] = {"ds": ds, "kind": "first"}
        for dag_id in ("ml_ingest", "ml_features", "ml_training"):
            if not self.dag(dag_id, ds):
                return
        if self._approved_version_changed(ds) and not self.dag("ml_deployment", ds):
            return
        self.traffic(ds)
        self.dag("ml_monitoring", ds)

    def later_date(self, ds: str) -> None:
        self.dates[ds] = {"ds": ds, "kind": "later"}
        for dag_id in ("ml_ingest", "ml_features"):
            if not self.dag(dag_id, ds):
                return
        self.traffic(ds)
        since = dt.datetime.now(dt.UTC)
        if not self.dag("ml_monitoring", ds):
            return
        events = asset_events(retrain_asset(self.cfg).name, self.env, since)
        self.dates[ds]["retrain_events"] = events
        if not events:
            print(f"   no retraining event for {ds}: the model keeps serving")
            return
        print(f"   retraining Asset event {retrain_asset(self.cfg).name}: {events[-1].get('extra')}")
        if not self.dag("ml_training", ds):
            return
        if self._approved_version_changed(ds):
            self.dag("ml_deployment", ds)
        else:
            print("   no new approved version: the endpoint keeps its current version")

    def traffic(self, ds: str) -> None:
        t0 = time.perf_counter()
        try:
            out = send_traffic(self.cfg, ds, TRAFFIC_ROWS)
        except Exception as exc:  # noqa: BLE001 - reported; monitoring then has no capture for the date
            out = {"ds": ds, "error": str(exc)}
        out["seconds"] = round(time.perf_counter() - t0, 1)
        self.dates[ds]["traffic"] = out
        print(f"== traffic {ds}: {out.get('rows', 0)} scoring rows in {out.get('requests', 0)} requests to the "
              f"endpoint (version {out.get('version')}){' - ' + out['error'] if 'error' in out else ''}")

    # ---- what each stage did --------------------------------------------------------------------------------

    def _after_ingest(self, ds: str) -> dict[str, Any]:
        manifest = json.loads(to_path(self.layout.manifest("ml_ingest", ds)).read_text())
        tables = [{k: t[k] for k in ("source", "table", "rows_out", "rows_quarantined", "files_out", "partition_uri")}
                  for t in manifest["tables"]]
        rows, bad = sum(t["rows_out"] for t in tables), sum(t["rows_quarantined"] for t in tables)
        print(f"   landed {rows:,} rows in {len(tables)} bronze tables, {bad:,} quarantined")
        return {"rows": rows, "quarantined": bad, "tables": tables}

    def _after_features(self, ds: str) -> dict[str, Any]:
        verdicts = _verdicts(self.layout, ds)
        for v in verdicts:
            print(f"   {v['dataset']:<28} {v['verdict']:<7} {v.get('rows', ''):>8} rows  {v.get('report_uri')}")
        return {"gates": verdicts}

    def _after_training(self, ds: str) -> dict[str, Any]:
        out = _training_summary(self.cfg, ds)
        print(f"   best trial {out['best_trial']}: validation AUC {_fmt(out['validation_auc'])}; test AUC "
              f"{_fmt(out['test_auc'])} vs naive {_fmt(out['naive_auc'])}; gate "
              f"{'passed' if out['gate_passed'] else 'NOT passed'}; registered version {out['version']} "
              f"({out['status']})")
        return out

    def _after_deployment(self, ds: str) -> dict[str, Any]:
        out = _deployment_summary(self.cfg, ds)
        ep = out.get("endpoint") or {}
        print(f"   endpoint {ep.get('name')}: version {ep.get('version')} at {ep.get('url')}")
        print(f"   sample predictions: {[round(p, 4) for p in out.get('sample_predictions', [])]}")
        if out.get("batch"):
            print(f"   batch predictions: {out['batch']['rows']} rows in {out['batch']['partition']}")
        return out

    def _after_monitoring(self, ds: str) -> dict[str, Any]:
        out = _monitoring_summary(self.cfg, ds)
        print(f"   drift verdict: {out.get('verdict')}; retrain: {out.get('retrain')}; report {out.get('report')}")
        return out

    def _approved_version_changed(self, ds: str) -> bool:
        from mlpipe.local.blue_green import spec_from_config
        from mlpipe.services.local_endpoints import read_live

        spec = spec_from_config(self.cfg)
        live = read_live(spec.run_dir, spec.name) or {}
        newest = (self.dates[ds].get("training") or {}).get("deployable_version")
        return newest is not None and newest != live.get("version")

    # ---- the final table ------------------------------------------------------------------------------------

    def table(self) -> list[dict[str, Any]]:
        rows = []
        for ds, d in self.dates.items():
            gates = (d.get("features") or {}).get("gates") or []
            training = d.get("training") or {}
            rows.append({
                "ds": ds, "rows": (d.get("ingest") or {}).get("rows"),
                "quarantined": (d.get("ingest") or {}).get("quarantined"),
                "gates": ("passed" if gates and all(g["verdict"] == "passed" for g in gates)
                          else "FAILED" if gates else "-"),
                "best_auc": training.get("test_auc"), "version": training.get("version"),
                "serving": ((d.get("deployment") or {}).get("endpoint") or {}).get("version"),
                "url": ((d.get("deployment") or {}).get("endpoint") or {}).get("url"),
                "drift": (d.get("monitoring") or {}).get("verdict"),
                "retrained": bool(d.get("retrain_events")),
            })
        head = f"{'date':<11} {'rows':>8} {'quar.':>6} {'gates':<7} {'test AUC':>8} {'version':>7} {'serving':>7} " \
               f"{'drift':<12} {'retrain':<7} endpoint"
        print("\n" + head + "\n" + "-" * len(head))
        for r in rows:
            print(f"{r['ds']:<11} {_fmt(r['rows'], 'd'):>8} {_fmt(r['quarantined'], 'd'):>6} {r['gates']:<7} "
                  f"{_fmt(r['best_auc']):>8} {_fmt(r['version'], 'd'):>7} {_fmt(r['serving'], 'd'):>7} "
                  f"{str(r['drift'] or '-'):<12} {'yes' if r['retrained'] else 'no':<7} {r['url'] or ''}")
        return rows

    def timings(self) -> dict[str, Any]:
        """Wall time per stage, split into the tasks' work and Airflow's own overhead."""
        out: dict[str, dict[str, float]] = {}
        for r in self.runs:
            s = out.setdefault(STAGE_OF[r.dag_id], {"runs": 0, "seconds": 0.0, "work_seconds": 0.0,
                                                     "airflow_seconds": 0.0})
            s["runs"] += 1
            s["seconds"] = round(s["seconds"] + r.seconds, 1)
            s["work_seconds"] = round(s["work_seconds"] + r.work_seconds, 1)
            s["airflow_seconds"] = round(s["airflow_seconds"] + r.airflow_seconds, 1)
        return out


def _fmt(value: Any, kind: str = ".4f") -> str:
    if value is None:
        return "-"
    return f"{value:,}" if kind == "d" else f"{value:{kind}}"


def fresh_start(cfg: Any) -> None:
    """Stop the local endpoint and remove the data of an earlier `make run` (sources, lake, registry)."""
    from mlpipe.local.blue_green import spec_from_config, stop_all
    from mlpipe.paths import project_root

    spec = spec_from_config(cfg)
    stop_all(spec.run_dir, spec.name)
    root = project_root() / "data"
    for name in ("sources", "lake", "run"):
        shutil.rmtree(root / name, ignore_errors=True)
    shutil.rmtree(to_path(lake(cfg).root), ignore_errors=True)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", type=dt.date.fromisoformat, required=True, help="the first logical date")
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True, help="the last logical date")
    parser.add_argument("--drift-from", default="end",
                        help="the date from which the sample's distributions shift ('end': the last date; 'none')")
    parser.add_argument("--events", type=int, help="clickstream events over the sample's history (size knob)")
    parser.add_argument("--customers", type=int, help="customers in the sample (size knob)")
    parser.add_argument("--keep", action="store_true", help="keep the data of an earlier run (default: start clean)")
    args = parser.parse_args(argv)

    extra = {}
    if args.events:
        extra["MLPIPE__SAMPLE__EVENTS"] = str(args.events)
    if args.customers:
        extra["MLPIPE__SAMPLE__CUSTOMERS"] = str(args.customers)
    env = airflow_env(extra=extra)
    cfg = load_config(environ=env)
    if cfg.stack != "local":
        raise SystemExit(f"make run drives the local stack; PIPELINE_ENV={cfg.environment} uses '{cfg.stack}'")
    dates = date_range(args.start, args.end)
    drift_from = (None if args.drift_from == "none" or len(dates) < 2
                  else dates[-1] if args.drift_from == "end" else dt.date.fromisoformat(args.drift_from))
    if not args.keep:
        fresh_start(cfg)
    layout = lake(cfg)
    reports = to_path(layout.root).parent / "reports"
    run_dir = reports / "runs" / dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    started = time.perf_counter()

    print(f"== sample sources: {dates[0]} .. {dates[-1]} (seed {cfg.sample.seed}, {cfg.sample.customers} customers, "
          f"~{cfg.sample.events} events{f', drift from {drift_from}' if drift_from else ''})")
    from mlpipe.sample import generate

    t0 = time.perf_counter()
    gen = generate(cfg, dates, drift_from=drift_from)
    generate_s = round(time.perf_counter() - t0, 1)
    print(gen.summary())
    migrate(env)

    chain = Chain(cfg, env, run_dir)
    chain.first_date(dates[0].isoformat())
    for day in dates[1:]:
        chain.later_date(day.isoformat())
    table = chain.table()
    total = round(time.perf_counter() - started, 1)
    timings = {"generate": {"seconds": generate_s}, **chain.timings(),
               "traffic": {"seconds": round(sum((d.get("traffic") or {}).get("seconds", 0)
                                                for d in chain.dates.values()), 1)}}
    summary = {"environment": cfg.environment, "dates": [d.isoformat() for d in dates],
               "drift_from": drift_from and drift_from.isoformat(), "seconds": total, "timings": timings,
               "generate": gen.to_dict(), "table": table, "by_date": chain.dates}
    print(f"\nwhole chain: {total:.0f} s ("
          + ", ".join(f"{k} {v['seconds']:.0f} s" for k, v in timings.items()) + ")")
    path = reports / "run-summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str))
    print(f"summary: {path}")
    if chain.failed:
        raise SystemExit(1)
    return path


def _verdicts(layout: Any, ds: str) -> list[dict[str, Any]]:
    """The date's quality verdict per dataset (from the job spec and the result.json files)."""
    from mlpipe.tasks.features import DAG_ID, step_outputs

    rows = []
    spec_path = to_path(layout.spec(DAG_ID, ds))
    if not spec_path.exists():
        return rows
    for entries in step_outputs(json.loads(spec_path.read_text())).values():
        for entry in entries:
            result_path = to_path(entry["result"])
            if not result_path.exists():
                rows.append({"ds": ds, "dataset": entry["dataset"], "verdict": "-"})
                continue
            v = json.loads(result_path.read_text())
            rows.append({"ds": ds, "dataset": entry["dataset"], "verdict": "passed" if v.get("success") else "FAILED",
                         "rows": v.get("rows"), "failed": [f.get("expectation") for f in v.get("failed") or []],
                         "warnings": len(v.get("warnings") or []), "report_uri": v.get("report_uri"),
                         "partition_uri": v.get("partition_uri")})
    return rows


def _training_summary(cfg: Any, ds: str) -> dict[str, Any]:
    """The tuning job's best trial, the evaluation against the naive baseline, and the registered version."""
    from mlpipe.services.local_registry import LocalModelRegistry
    from mlpipe.tasks.training import training_root

    root = to_path(training_root(cfg, ds))
    lineage = json.loads((root / "lineage.json").read_text()) if (root / "lineage.json").exists() else {}
    evaluation_file = root / "evaluation" / "evaluation.json"
    evaluation = json.loads(evaluation_file.read_text()) if evaluation_file.exists() else {}
    name = lineage.get("tuning_job_name")
    trials = [json.loads(p.read_text()) for p in sorted(root.glob("tuning/*/trials/*/trial.json"))]
    done = [t for t in trials if t.get("status") == "Completed" and t.get("objective") is not None]
    best = max(done, key=lambda t: t["objective"]) if done else None
    registry = LocalModelRegistry.from_config(cfg)
    group = cfg.training.registry.model_package_group
    package = registry.find(group, name) if name and group in registry.groups() else None
    deployable = registry.newest_approved(group) if group in registry.groups() else None
    return {"tuning_job": name, "trials": len(trials), "best_trial": best and best["name"],
            "validation_auc": best and best["objective"], "test_auc": (evaluation.get("model") or {}).get("auc"),
            "naive_auc": ((evaluation.get("baselines") or {}).get("naive") or {}).get("auc"),
            "gate_passed": (evaluation.get("gate") or {}).get("passed"),
            "report": str(root / "evaluation" / "report.html"),
            "version": package and package.version, "status": package and str(package.status),
            "deployable_version": deployable and deployable.version}


def _deployment_summary(cfg: Any, ds: str) -> dict[str, Any]:
    """The live local endpoint (URL, version, a few predictions) and the date's batch predictions."""
    from mlpipe.lake import LakeLayout
    from mlpipe.local.blue_green import spec_from_config
    from mlpipe.services.endpoint_smoke_test import run_smoke_test
    from mlpipe.services.local_endpoints import read_live, runtime_client_for
    from mlpipe.tasks.deployment import smoke_requests

    out: dict[str, Any] = {"endpoint": None, "sample_predictions": [], "batch": None}
    layout = LakeLayout.from_config(cfg)
    spec = spec_from_config(cfg)
    live = read_live(spec.run_dir, spec.name)
    if live:
        out["endpoint"] = {k: live.get(k) for k in ("name", "version", "url", "pid_file")}
        reqs = smoke_requests(cfg, layout.gold(cfg.features.gold.name, ds))
        out["sample_predictions"] = run_smoke_test(runtime_client_for(live["url"]), spec.name, reqs)[:5]
    summary_file = to_path(layout.predictions(ds)) / "_batch_summary.json"
    if summary_file.exists():
        out["batch"] = {"rows": json.loads(summary_file.read_text()).get("rows_out"),
                        "partition": layout.predictions(ds)}
    return out


def _monitoring_summary(cfg: Any, ds: str) -> dict[str, Any]:
    """The drift report's verdict and retraining decision for the date."""
    from mlpipe.tasks.monitoring import report_uris

    uris = report_uris(cfg, ds)
    if not to_path(uris["json"]).exists():
        return {"verdict": None, "report": None}
    doc = json.loads(to_path(uris["json"]).read_text())
    verdict = doc.get("verdict") or {}
    decision = doc.get("retrain") or {}
    return {"verdict": verdict.get("status"), "checks": verdict.get("checks"),
            "retrain": decision.get("decision") or decision.get("action") or bool(decision.get("triggers")),
            "decision": decision, "report": str(to_path(uris["html"]))}


if __name__ == "__main__":
    main()
