"""The gold feature job: local Spark and EMR's Spark vs DuckDB on the same SQL, and the quality gate's cost.

For 1 million and 10 million clickstream events (20,000 customers, 120 days of history) it writes the silver
tables as Parquet (numpy/pyarrow, seconds), then times, in the same run:

* the gold job on local Spark: read the silver partitions, build the features of every as-of date
  (``spark_jobs.gold``: the SQL rendered from the sample's features section) and write the gold Parquet;
* the same gold job on the EMR runtime's versions (``.venvs/emr``: Python 3.11, pyspark 3.5.5 as emr-7.9.0 runs
  it; ``runtimes/emr``), in its own process after the local runs, over the same silver (bench/spark_gold_worker.py);
* the same SQL rendered for DuckDB (``spark_jobs.gold_sql``, a three-function dialect shim), over the same
  Parquet, written with COPY;
* the quality gate (GX on the gold DataFrame, the sample's gold suite) after the Spark job;
* at 10 million, one GROUP BY of the events by customer and day on both engines: the smallest piece of the
  job, whose Spark/DuckDB ratio the whole job cannot beat (reported).

It checks that every engine produced the same rows as local Spark (doubles within 1e-9 relative), and reports
rows per second and each Spark's time against DuckDB's (reported, no target: on 2 cores one GROUP BY alone is
about 4x DuckDB), and the gate's share of the job (target: at most 25%). Spark runs as the local stack runs it
(local[*], the spec's settings: few shuffle partitions, AQE, broadcast joins) after one warm-up run; DuckDB uses
the same cores. Each engine runs every size ``RUNS`` times and the best run counts (the JVM's JIT needs a few
runs to settle; so do the OS caches).

    python -m bench features          # or: make bench
    BENCH_FEATURES_SIZES=1000000 python -m bench features      # other sizes (comma-separated event counts)
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.rows import Row

ROOT = Path(__file__).resolve().parents[1]
SIZES = tuple(int(s) for s in os.environ.get("BENCH_FEATURES_SIZES", "1000000,10000000").split(",") if s.strip())
EMR_RUNTIME = "emr"
WORKER = Path(__file__).resolve().parent / "spark_gold_worker.py"
CUSTOMERS = 20_000
HISTORY_DAYS = 120
DS = dt.date(2026, 11, 1)
RUNS = 3
GATE_TARGET = 0.25
EVENT_TYPES = ["page_view", "search", "add_to_cart", "purchase", "support_contact", "account_settings",
               "cancel_flow_view"]
EVENT_PROBS = [0.52, 0.18, 0.1, 0.06, 0.06, 0.05, 0.03]


# ---------------------------------------------------------------- silver-shaped data


def _ts(rng: np.random.Generator, n: int, start: dt.datetime, days: float) -> np.ndarray:
    base = np.datetime64(start, "us")
    return base + (rng.random(n) * days * 86_400e6).astype("timedelta64[us]")


def _dict(values: list[str], idx: np.ndarray) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(values))


def write_silver(root: Path, events: int, seed: int = 7) -> dict[str, str]:
    """Silver partitions (dt=DS) of the sample's five tables; returns table -> partition directory."""
    rng = np.random.default_rng(seed)
    end = dt.datetime.combine(DS + dt.timedelta(days=1), dt.time())
    start = end - dt.timedelta(days=HISTORY_DAYS)
    n = CUSTOMERS
    ids = np.arange(1, n + 1, dtype=np.int64)
    signup = _ts(rng, n, start - dt.timedelta(days=700), 700 + HISTORY_DAYS - 1)
    tables: dict[str, pa.Table] = {}
    tables["customers"] = pa.table({
        "customer_id": ids, "email": pc.binary_join_element_wise("c", pc.cast(pa.array(ids), pa.string()),
                                                                  "@example.com", ""),
        "name": pa.array(["Ada Lovelace"] * n), "country": _dict(["US", "GB", "DE", "FR"], rng.integers(0, 4, n)),
        "signup_ts": signup, "marketing_opt_in": rng.random(n) < 0.4, "updated_at": signup,
    })
    plan = rng.integers(0, 3, n)
    cancelled = rng.random(n) < 0.25
    cancel_ts = np.where(cancelled, _ts(rng, n, start, HISTORY_DAYS), np.datetime64("NaT", "us"))
    cancel_ts = np.where(cancel_ts > signup, cancel_ts, np.datetime64("NaT", "us"))
    tables["subscriptions"] = pa.table({
        "subscription_id": ids + 1_000_000, "customer_id": ids,
        "plan": _dict(["basic", "standard", "premium"], plan), "monthly_price": np.array([7.99, 12.99, 19.99])[plan],
        "status": pa.array(np.where(np.isnat(cancel_ts), "active", "cancelled")),
        "started_at": signup, "cancelled_at": pa.array(cancel_ts, mask=np.isnat(cancel_ts)),
        "updated_at": np.where(np.isnat(cancel_ts), signup, cancel_ts),
    })
    per = HISTORY_DAYS // 30
    pay_c = np.repeat(ids, per)
    paid = _ts(rng, len(pay_c), start, HISTORY_DAYS)
    status = rng.choice(3, len(pay_c), p=[0.9, 0.07, 0.03])
    tables["payments"] = pa.table({
        "payment_id": np.arange(1, len(pay_c) + 1, dtype=np.int64), "customer_id": pay_c,
        "subscription_id": pay_c + 1_000_000, "amount": np.round(rng.uniform(5, 25, len(pay_c)), 2),
        "currency": _dict(["USD", "EUR"], rng.integers(0, 2, len(pay_c))),
        "status": _dict(["succeeded", "failed", "refunded"], status), "paid_at": paid, "updated_at": paid,
    })
    weight = rng.lognormal(0, 1, n)
    who = rng.choice(n, events, p=weight / weight.sum())
    ev_ts = _ts(rng, events, start, HISTORY_DAYS)
    ev_ts = np.maximum(ev_ts, signup[who])
    tables["events"] = pa.table({
        "event_id": pc.binary_join_element_wise("ev-", pc.cast(pa.array(np.arange(events)), pa.string()), ""),
        "customer_id": ids[who], "session_id": pc.cast(pa.array(who // 7), pa.string()),
        "event_type": _dict(EVENT_TYPES, rng.choice(len(EVENT_TYPES), events, p=EVENT_PROBS)),
        "page": _dict(["/home", "/browse", "/title", "/account"], rng.integers(0, 4, events)),
        "device": _dict(["web", "ios", "android"], rng.integers(0, 3, events)), "event_ts": ev_ts,
    })
    upd = (np.datetime64(DS, "D") - rng.integers(0, 400, n).astype("timedelta64[D]"))
    tables["accounts"] = pa.table({
        "customer_id": ids, "company_size": rng.integers(1, 5000, n),
        "industry": _dict(["software", "retail", "finance"], rng.integers(0, 3, n)),
        "credit_band": _dict(list("ABCDE"), rng.integers(0, 5, n)), "updated_date": upd,
    })
    from spark_jobs.spec import cluster_order

    # the layout the silver step writes: tables with cluster_by hash-partitioned by it, sorted by it and time
    layout = {t["name"]: t for t in spec_for(root)["silver"]["tables"]}
    out = {}
    for name, table in tables.items():
        part = root / "silver" / name / f"dt={DS}"
        part.mkdir(parents=True, exist_ok=True)
        table = table.cast(pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type)
                                               else pa.timestamp("us", tz="UTC") if pa.types.is_timestamp(f.type)
                                               else f.type) for f in table.schema]))
        files = 8 if name == "events" else 1
        order = cluster_order(layout[name])
        if order:
            table = table.sort_by([(c, "ascending") for c in order])
            bucket = pc.bit_wise_and(table.column(order[0]), files - 1)  # files is a power of two
            slices = [table.filter(pc.equal(bucket, i)) for i in range(files)]
        else:
            step = math.ceil(len(table) / files)
            slices = [table.slice(i * step, step) for i in range(files)]
        for i, piece in enumerate(slices):
            pq.write_table(piece, part / f"part-{i:05d}.parquet", row_group_size=1 << 20)
        (part / "_SUCCESS").touch()
        out[name] = str(part)
    return out


# ---------------------------------------------------------------- the two engines


def spec_for(lake: Path) -> dict[str, Any]:
    """The sample's job spec (local.yaml's features section) pointed at the benchmark lake."""
    from mlpipe.sample.targets import standalone_config
    from mlpipe.tasks.feature_spec import job_spec

    cfg = standalone_config(lake.parent / "cfg")
    spec = json.loads(json.dumps(job_spec(cfg, DS)))
    root = lake.as_uri()
    spec["lake_root"] = root
    for t in spec["silver"]["tables"]:
        t["outputs"] = {k: v.replace(spec_root(cfg), root) for k, v in t["outputs"].items()}
    spec["gold"]["outputs"] = {k: v.replace(spec_root(cfg), root) for k, v in spec["gold"]["outputs"].items()}
    return spec


def spec_root(cfg: Any) -> str:
    from mlpipe.lake import LakeLayout

    return LakeLayout.from_config(cfg).root


def duckdb_gold(spec: dict[str, Any], silver: dict[str, str], out: Path, threads: int) -> float:
    """The gold SQL on DuckDB (same text, DuckDB dialect), written as Parquet; returns seconds."""
    import duckdb
    from spark_jobs import gold_sql
    from spark_jobs.spec import as_of_dates, ds_day

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    started = time.perf_counter()
    for name in spec["gold"]["inputs"]:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{silver[name]}/*.parquet')")
    values = ", ".join(f"({i}, DATE '{d}', '{s}')" for i, (d, s) in enumerate(as_of_dates(spec)))
    con.execute(f"CREATE VIEW as_of_dates AS SELECT * FROM (VALUES {values}) AS t(i, as_of, split)")
    con.execute(f"CREATE VIEW run_params AS SELECT {ds_day(spec)} AS ds_day")
    sql = gold_sql.render(spec["gold"], "duckdb")
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT PARQUET)")
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def spark_gold(spark: Any, spec: dict[str, Any], out: str) -> tuple[float, Any, int]:
    """The gold job as the silver->gold step runs it (read, build, write; the rows cached for the gate).

    Returns (seconds, the cached DataFrame, rows written)."""
    from pyspark import StorageLevel
    from spark_jobs import gold
    from spark_jobs.fs import LakeFS

    started = time.perf_counter()
    tables = gold.read_inputs(spark, LakeFS(spark), spec)
    data = gold.build(spark, spec, tables).persist(StorageLevel.MEMORY_AND_DISK)
    rows = gold.write(data, spec, out)
    return time.perf_counter() - started, data, rows


def gate(spark: Any, spec: dict[str, Any], data: Any, rows: int) -> tuple[float, bool]:
    """The gold gate as the step runs it: validate the suite on the cached rows; returns (seconds, passed)."""
    from spark_jobs import quality

    started = time.perf_counter()
    ctx = quality.GateContext(ds=spec["ds"], kind="gold", rows=rows,
                              reconciliation={"rows_in": rows, "rows_out": rows, "rows_quarantined": 0})
    verdict = quality.validate(data, spec["gold"]["suite"], ctx, spec["gold"]["dataset"])
    data.unpersist()
    return time.perf_counter() - started, verdict.success


def one_group_by(spark: Any, events: str, threads: int) -> tuple[float, float]:
    """The smallest piece of the gold job: events counted per customer and day, on each engine (best of RUNS).

    Returns (Spark seconds, DuckDB seconds): the ratio the whole job cannot beat, whatever its SQL."""
    import duckdb
    from spark_jobs.gold_sql import Dialect

    def query(dialect: str, table: str) -> str:
        day = Dialect(dialect).day_number("event_ts", "timestamp")
        return f"SELECT count(*) FROM (SELECT customer_id, {day} AS day, count(*) AS n FROM {table} GROUP BY 1, 2)"

    spark_sql, duck_sql = query("spark", f"parquet.`{events}`"), query("duckdb", f"read_parquet('{events}/*.parquet')")
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    timings: dict[str, list[float]] = {"spark": [], "duckdb": []}
    for _ in range(RUNS):
        started = time.perf_counter()
        spark.sql(spark_sql).collect()
        timings["spark"].append(time.perf_counter() - started)
        started = time.perf_counter()
        con.execute(duck_sql).fetchall()
        timings["duckdb"].append(time.perf_counter() - started)
    con.close()
    return min(timings["spark"]), min(timings["duckdb"])


def same_rows(a: pa.Table, b: pa.Table, key: str) -> str | None:
    """None when both tables hold the same rows (doubles within 1e-9 relative), else what differs."""
    if a.column_names != b.column_names:
        return f"columns differ: {a.column_names} vs {b.column_names}"
    if a.num_rows != b.num_rows:
        return f"rows differ: {a.num_rows} vs {b.num_rows}"
    order = [(key, "ascending"), ("as_of", "ascending")]
    a, b = a.sort_by(order), b.sort_by(order)
    for name in a.column_names:
        x, y = a.column(name).to_numpy(zero_copy_only=False), b.column(name).to_numpy(zero_copy_only=False)
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            x, y = x.astype(float), y.astype(float)
            ok = np.isclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True)
        else:
            ok = np.array([u == v or (u is None and v is None) for u, v in zip(x.tolist(), y.tolist(), strict=True)])
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            return f"column {name} differs at {a.column(key)[i]}/{a.column('as_of')[i]}: {x[i]!r} vs {y[i]!r}"
    return None


def _spark(spec: dict[str, Any], scratch: Path) -> Any:
    from spark_jobs import session

    cores = os.cpu_count() or 2
    conf = {**session.spark_conf(spec), "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
            "spark.sql.warehouse.dir": str(scratch / "warehouse"), "spark.local.dir": str(scratch / "tmp"),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={scratch}"}
    spark = session.build(conf, master=f"local[{cores}]", app_name="bench-features")
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def emr_gold(lakes: dict[int, tuple[Path, dict[str, str]]], scratch: Path, cores: int) -> dict[str, Any]:
    """The gold job of every size on the EMR runtime's Spark (its own process, .venvs/emr built on first use).

    Returns the worker's report (versions; per size the seconds of each run, rows) plus each size's output."""
    from devtools import runtime_venvs

    python = runtime_venvs.build(EMR_RUNTIME).python_exe
    work = scratch / "emr"
    work.mkdir()
    warm_lake = lakes[100_000][0]
    jobs = {"scratch": str(work), "cores": cores, "runs": RUNS,
            "warm": {"spec": spec_for(warm_lake), "out": str(work / "warm-gold")},
            "jobs": [{"size": size, "spec": spec_for(lakes[size][0]), "out": str(lakes[size][0] / "gold-spark-emr")}
                     for size in SIZES]}
    (work / "jobs.json").write_text(json.dumps(jobs))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "include"), "PYSPARK_PYTHON": str(python),
           "PYSPARK_DRIVER_PYTHON": str(python), "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")}
    env.pop("SPARK_HOME", None)
    done = subprocess.run([str(python), str(WORKER), str(work / "jobs.json")], cwd=work, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the gold job on {python} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for job, spec in zip(report["jobs"], jobs["jobs"], strict=True):
        job["out"] = spec["out"]
    return report


def run() -> list[Row]:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    scratch = Path(tempfile.mkdtemp(prefix="mlpipe-bench-features-"))
    rows: list[Row] = []
    try:
        cores = os.cpu_count() or 2
        lakes = {}
        for size in (100_000, *SIZES):
            started = time.perf_counter()
            lake = scratch / f"lake-{size}"
            lakes[size] = (lake, write_silver(lake, size))
            print(f"  {size:>10,} events: silver written in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        spark = _spark(spec_for(lakes[SIZES[0]][0]), scratch)
        warm = spec_for(lakes[100_000][0])  # JIT, class loading, GX import: paid once, as in a long-lived job
        _, data, written = spark_gold(spark, warm, str(scratch / "warm-gold"))
        gate(spark, warm, data, written)
        measured = {}
        for size in SIZES:
            lake, silver = lakes[size]
            spec = spec_for(lake)
            spark_out = str(lake / "gold-spark")
            spark_runs, gate_runs, passed = [], [], True
            for _ in range(RUNS):
                spark_s, data, written = spark_gold(spark, spec, spark_out)
                gate_s, ok = gate(spark, spec, data, written)
                spark_runs.append(spark_s)
                gate_runs.append(gate_s)
                passed = passed and ok
            spark_s, gate_s = min(spark_runs), min(gate_runs)
            duck_out = lake / "gold-duckdb.parquet"
            duck_s = min(duckdb_gold(spec, silver, duck_out, cores) for _ in range(RUNS))
            a, b = pq.read_table(spark_out), pq.read_table(duck_out)
            diff = same_rows(a, b.cast(a.schema), spec["gold"]["entity"]["key"])
            print(f"  {size:,} events: spark {spark_s:.2f} s (runs {', '.join(f'{s:.1f}' for s in spark_runs)}), "
                  f"duckdb {duck_s:.2f} s, gate {gate_s:.2f} s, "
                  f"{a.num_rows:,} gold rows, outputs {'equal' if diff is None else 'DIFFER: ' + diff}",
                  file=sys.stderr)
            measured[size] = {"spark": spark_s, "gate": gate_s, "duck": duck_s, "diff": diff, "passed": passed,
                              "key": spec["gold"]["entity"]["key"], "out": spark_out}
        big = SIZES[-1]
        group_spark, group_duck = one_group_by(spark, lakes[big][1]["events"], cores)
        print(f"  one GROUP BY of the {big:,} events (customer, day): spark {group_spark:.2f} s, "
              f"duckdb {group_duck:.2f} s", file=sys.stderr)
        spark.stop()
        emr = emr_gold(lakes, scratch, cores)
        emr_by_size = {job["size"]: job for job in emr["jobs"]}
        for size in SIZES:
            m, label = measured[size], _label(size)
            rows.append(Row(
                name=f"gold features, {label}: Spark local (s)", value=round(m["spark"], 3), unit="s",
                reference=round(m["duck"], 3), reference_name="DuckDB, same SQL", target="report (vs DuckDB)",
                met=m["diff"] is None,
            ))
            job = emr_by_size[size]
            emr_s = min(job["seconds"])
            emr_diff = same_rows(pq.read_table(m["out"]), pq.read_table(job["out"]), m["key"])
            print(f"  {size:,} events: spark {emr['spark']} on Python {emr['python']} (EMR versions) {emr_s:.2f} s "
                  f"(runs {', '.join(f'{s:.1f}' for s in job['seconds'])}), outputs "
                  f"{'equal to local' if emr_diff is None else 'DIFFER: ' + emr_diff}", file=sys.stderr)
            rows.append(Row(
                name=f"gold features, {label}: Spark {emr['spark']} EMR (s)", value=round(emr_s, 3), unit="s",
                reference=round(m["duck"], 3), reference_name="DuckDB, same SQL", target="report (vs DuckDB)",
                met=emr_diff is None,
            ))
            rows.append(Row(
                name=f"gold features, {label}: Spark events/s", value=round(size / m["spark"]), unit="rows/s",
                reference=round(size / m["duck"]), reference_name="DuckDB events/s", target="report",
                met=m["diff"] is None,
            ))
            rows.append(Row(
                name=f"quality gate on gold, {label} (s added)", value=round(m["gate"], 3), unit="s",
                reference=round(m["spark"], 3), reference_name="the Spark gold job",
                target=f"<= {GATE_TARGET:.0%} of the job", met=m["passed"] and m["gate"] <= GATE_TARGET * m["spark"],
            ))
        rows.append(Row(
            name=f"one GROUP BY (customer, day), {_label(big)}: Spark local (s)",
            value=round(group_spark, 3), unit="s", reference=round(group_duck, 3),
            reference_name="DuckDB, same query", target="report (the ratio the gold job cannot beat)", met=True,
        ))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def _label(size: int) -> str:
    return f"{size // 1_000_000}M events" if size % 1_000_000 == 0 else f"{size:,} events"


if __name__ == "__main__":
    for r in run():
        print(r.to_dict())
