"""`make run`: generate the sample sources, run the pipeline DAGs through real Airflow on the local stack,
print what landed where, and write a machine-readable summary (last line: ``summary: <path>``)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from mlpipe.config import load_config
from mlpipe.dagkit import lake
from mlpipe.lake import to_path

from devtools.airflow_local import airflow_env, dags_test, migrate

# (stage, dag_id) in data-flow order; each runs once per logical date.
STAGES: list[tuple[str, str]] = [("ingest", "ml_ingest")]


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise SystemExit(f"END ({end}) is before START ({start}); pass START=YYYY-MM-DD END=YYYY-MM-DD")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--events", type=int, help="clickstream events over the sample's history (size knob)")
    args = parser.parse_args(argv)

    env_extra = {"MLPIPE__SAMPLE__EVENTS": str(args.events)} if args.events else {}
    env = airflow_env(extra=env_extra)
    cfg = load_config(environ=env)
    if cfg.stack != "local":
        raise SystemExit(f"make run drives the local stack; PIPELINE_ENV={cfg.environment} uses '{cfg.stack}'")
    dates = date_range(args.start, args.end)
    layout = lake(cfg)
    reports = to_path(layout.root).parent / "reports"
    run_dir = reports / "runs" / dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    summary: dict[str, Any] = {"environment": cfg.environment, "dates": [d.isoformat() for d in dates], "stages": {}}

    print(f"== sample sources: {dates[0]} .. {dates[-1]} (seed {cfg.sample.seed}, ~{cfg.sample.events} events)")
    from mlpipe.sample import generate

    t0 = time.perf_counter()
    gen = generate(cfg, dates)
    summary["stages"]["generate"] = {"status": "success", "seconds": round(time.perf_counter() - t0, 1),
                                     "report": gen.to_dict()}
    print(gen.summary())

    migrate(env)
    for stage, dag_id in STAGES:
        runs = []
        for day in dates:
            ds = day.isoformat()
            log_file = run_dir / f"{dag_id}-{ds}.log"
            print(f"== {dag_id} {ds} (airflow dags test) ...", flush=True)
            t0 = time.perf_counter()
            state = dags_test(dag_id, ds, env, log_file=log_file)
            runs.append({"ds": ds, "state": state, "seconds": round(time.perf_counter() - t0, 1), "log": str(log_file)})
        summary["stages"][stage] = {"status": "success", "runs": runs}

    summary["stages"]["ingest"]["landed"] = _print_landings(layout, dates)
    path = reports / "run-summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str))
    print(f"summary: {path}")
    return path


def _print_landings(layout: Any, dates: list[dt.date]) -> list[dict[str, Any]]:
    rows = []
    print(f"\n{'date':<11} {'source.table':<24} {'rows landed':>11} {'quarantined':>11} {'files':>6}  partition")
    for day in dates:
        manifest = json.loads(to_path(layout.manifest("ml_ingest", day.isoformat())).read_text())
        for t in manifest["tables"]:
            print(f"{t['ds']:<11} {t['source'] + '.' + t['table']:<24} {t['rows_out']:>11} "
                  f"{t['rows_quarantined']:>11} {t['files_out']:>6}  {t['partition_uri']}")
            rows.append({k: t[k] for k in ("ds", "source", "table", "rows_out", "rows_quarantined", "files_out",
                                           "partition_uri")})
    print()
    return rows


if __name__ == "__main__":
    main()
