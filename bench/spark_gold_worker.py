"""The gold job timed in another Python (the EMR runtime's: Python 3.11, pyspark 3.5): a helper of bench_features.

    <python> bench/spark_gold_worker.py JOBS.json      (include/ on PYTHONPATH for spark_jobs)

JOBS.json: ``{"scratch": dir, "cores": n, "runs": n, "warm": {"spec": ..., "out": ...}, "jobs": [{"size": n,
"spec": {...}, "out": uri}, ...]}``. Runs the warm-up job once, then each job ``runs`` times as the step does
(read the silver partitions, build, write), and prints one JSON line: the Python and Spark versions and, per job,
the seconds of every run and the rows written. Imports only pyspark and spark_jobs (no numpy/pyarrow/mlpipe).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main(path: str) -> int:
    import pyspark
    from pyspark import StorageLevel
    from spark_jobs import gold, session
    from spark_jobs.fs import LakeFS

    jobs = json.loads(Path(path).read_text())
    scratch = Path(jobs["scratch"])
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = {**session.spark_conf(jobs["warm"]["spec"]), "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false", "spark.sql.warehouse.dir": str(scratch / "warehouse"),
            "spark.local.dir": str(scratch / "tmp"), "spark.driver.extraJavaOptions": f"-Dderby.system.home={scratch}"}
    spark = session.build(conf, master=f"local[{jobs['cores']}]", app_name="bench-features-emr")
    spark.sparkContext.setLogLevel("ERROR")

    def one(spec: dict, out: str) -> tuple[float, int]:
        started = time.perf_counter()
        data = gold.build(spark, spec, gold.read_inputs(spark, LakeFS(spark), spec))
        data = data.persist(StorageLevel.MEMORY_AND_DISK)
        rows = gold.write(data, spec, out)
        seconds = time.perf_counter() - started
        data.unpersist()
        return seconds, rows

    one(jobs["warm"]["spec"], jobs["warm"]["out"])
    results = []
    for job in jobs["jobs"]:
        timings = [one(job["spec"], job["out"]) for _ in range(jobs["runs"])]
        results.append({"size": job["size"], "seconds": [round(s, 3) for s, _ in timings], "rows": timings[-1][1]})
    spark.stop()
    print(json.dumps({"python": ".".join(map(str, sys.version_info[:3])), "spark": pyspark.__version__,
                      "jobs": results}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
