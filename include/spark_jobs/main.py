"""spark-submit entry point of ml_features: one step (silver or gold) for the date of a job spec.

    spark-submit [--master local[*]] [--conf ...] main.py --step silver --spec <file:///.../spec.json | s3://...>
    spark-submit ... main.py --step gold --spec <uri> [--py-files s3://<code>/spark_jobs.zip on EMR]

Exit 0 when the step ran, whatever the quality gate decided (each dataset's verdict is at its ``outputs.result``
in the spec; a summary line is printed to stdout as JSON);
1 when the job itself failed (message on stderr); 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the spark_jobs package importable (EMR: --py-files zip)
    try:
        import spark_jobs  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEPS = ("silver", "gold")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="main.py", description="ml_features Spark step (bronze->silver, silver->gold)")
    p.add_argument("--step", required=True, choices=STEPS)
    p.add_argument("--spec", required=True, help="URI (file:///, s3://) or local path of the job spec JSON")
    p.add_argument("--tables", default=None, help="silver step only: comma-separated subset of the spec's tables")
    return p.parse_args(argv)


def spec_uri(value: str) -> str:
    if "://" in value:
        return value
    return Path(value).resolve().as_uri()


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)  # stdout carries only the summary line
    for noisy in ("py4j", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    started = time.monotonic()
    try:
        from pyspark.sql import SparkSession

        from spark_jobs import session, spec, steps
        from spark_jobs.fs import LakeFS

        # Great Expectations takes seconds to import: do it while the JVM starts (pyspark itself is imported
        # above, in this thread, so the two imports never race on the same modules)
        threading.Thread(target=importlib.import_module, args=("great_expectations",), daemon=True).start()
        spark = SparkSession.builder.appName(f"ml_features-{args.step}").getOrCreate()
        uri = spec_uri(args.spec)
        job = spec.parse(LakeFS(spark).read_text(uri), uri)
        session.apply_runtime(spark, session.spark_conf(job))
        if args.step == "silver":
            tables = [t for t in args.tables.split(",") if t] if args.tables else None
            docs = steps.run_silver(spark, job, tables)
        else:
            docs = steps.run_gold(spark, job)
    except Exception as exc:  # noqa: BLE001 (report any failure of the job itself, then exit 1)
        traceback.print_exc(file=sys.stderr)
        print(f"ml_features --step {args.step} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    summary = {"step": args.step, "ds": job["ds"], "seconds": round(time.monotonic() - started, 1),
               "success": all(d["success"] for d in docs),
               "datasets": [{k: d[k] for k in ("dataset", "success", "rows", "partition_uri", "report_uri")}
                            for d in docs]}
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run())
