"""Render the gold table's SQL from the spec's definitions: Spark SQL, or DuckDB's dialect (benchmark).

The query reads one view per silver table (named like the table), ``as_of_dates(i INT, as_of DATE, split
STRING)`` (snapshot i = ds minus the i-th offset of :func:`offsets`) and ``run_params(ds_day INT)`` (ds as days
since 1970-01-01); the text never holds the logical date, so the same SQL serves every ds.

Point in time: a row counts for an as-of date A only when its time falls on or before A (before the end of
day A); the label looks at (A, A + horizon] and is filled only for training rows, whose dates are chosen so
that A + horizon <= ds.

Windowed aggregates and recency read each large table once: every row gets its age in days at ds (``delta``),
rows are grouped by entity and *segment* (the intervals between all window edges of all snapshots, looked up
in a constant array), then joined with a small table of each snapshot's segment bounds and summed per entity
and snapshot. Grouping by a few dozen segments instead of by day keeps the hash tables small, which is what
makes this fast on Spark (and on DuckDB).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DIALECTS = ("spark", "duckdb")


@dataclass(frozen=True)
class Dialect:
    name: str

    def date_sub(self, expr: str, days: int) -> str:
        return f"date_sub({expr}, {days})" if self.name == "spark" else f"({expr} - {days})"

    def date_add(self, expr: str, days: int) -> str:
        return f"date_add({expr}, {days})" if self.name == "spark" else f"({expr} + {days})"

    def days_between(self, start: str, end: str) -> str:
        """Whole days from start to end (dates)."""
        return f"datediff({end}, {start})" if self.name == "spark" else f"date_diff('day', {start}, {end})"

    def day_number(self, expr: str, kind: str) -> str:
        """Days since 1970-01-01 (UTC) of a date or timestamp column."""
        if kind == "date":
            return f"unix_date({expr})" if self.name == "spark" else f"CAST({expr} - DATE '1970-01-01' AS INTEGER)"
        if self.name == "spark":
            return f"CAST(floor(unix_micros({expr}) / 86400000000D) AS INT)"
        return f"CAST(floor(epoch_us({expr}) / 86400000000) AS INTEGER)"

    def array_at(self, values: list[int], index: str) -> str:
        """values[index] with a 1-based index (a constant array)."""
        text = ", ".join(map(str, values))
        return f"element_at(array({text}), {index})" if self.name == "spark" else f"[{text}][{index}]"

    def type(self, name: str) -> str:
        return {"string": "STRING" if self.name == "spark" else "VARCHAR"}.get(name, name.upper())


def offsets(gold: Mapping[str, Any]) -> list[int]:
    """Days from each as-of date back from ds: 0 (scoring), then the training snapshots (label matured)."""
    label = gold["label"]
    if label["kind"] != "event":
        return [0]
    first, every = int(label["horizon_days"]), int(gold["as_of"]["every_days"])
    return [0] + [first + k * every for k in range(int(gold["as_of"]["snapshots"]))]


def render(gold: Mapping[str, Any], dialect: str = "spark") -> str:
    """The SELECT producing the gold table (columns and types as the spec's gold.columns)."""
    ctes, final = parts(gold, dialect)
    with_sql = ",\n".join(f"{name} AS (\n  {body}\n)" for name, body in ctes)
    key = gold["entity"]["key"]
    return (f"-- {gold.get('dataset', 'gold')}: features per {key} as of each date in as_of_dates "
            f"(rendered from the job spec, {dialect} dialect)\nWITH {with_sql}\n{final}")


def parts(gold: Mapping[str, Any], dialect: str = "spark") -> tuple[list[tuple[str, str]], str]:
    """The query as named steps (name, SELECT) in dependency order, and the final SELECT over them."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {DIALECTS}, got {dialect!r}")
    d = Dialect(dialect)
    ent = gold["entity"]
    key = ent["key"]
    types = {c["name"]: c["type"] for c in gold["columns"]}
    ctes: list[tuple[str, str]] = []
    joins: list[str] = []
    select: list[str] = [f"s.{key}", "s.as_of"]

    # ---- per-table snapshot aggregates: one pass over a table gives, per entity and snapshot i, population
    # membership, the latest visible values and the label (rows x as_of_dates, grouped by entity and i)
    snaps: dict[str, list[str]] = {}
    joined: set[str] = set()  # the ones whose values the final select reads

    def snapshot(table: str, *exprs: str, values: bool = True) -> int:
        """Add exprs to table's snapshot aggregate; returns its number j (step snap<j>, alias p<j>)."""
        snaps.setdefault(table, []).extend(exprs)
        if values:
            joined.add(table)
        return list(snaps).index(table)

    # ---- the spine: entities that exist (and belong to the population) at each as-of date
    since = f"CAST(e.{ent['time']} AS DATE) <= a.as_of" if ent.get("time") else "TRUE"
    spine = f"SELECT e.{key}, a.i, a.as_of, a.split\n  FROM {ent['table']} e\n  JOIN as_of_dates a ON {since}"
    pop = gold.get("population")
    if pop:
        end = f" AND (t.{pop['end']} IS NULL OR CAST(t.{pop['end']} AS DATE) > a.as_of)" if pop.get("end") else ""
        member = snapshot(pop["table"], f"MAX(CASE WHEN CAST(t.{pop['start']} AS DATE) <= a.as_of{end} THEN 1 ELSE 0 END)"
                                        " AS __member", values=False)
        spine += f"\n  JOIN snap{member} q ON q.{key} = e.{key} AND q.i = a.i AND q.__member = 1"
    ctes.append(("spine", spine))

    feats = gold["features"]
    col_types = gold.get("input_columns") or {}
    offs = offsets(gold)
    # ---- windowed aggregates and recency, per table: entity x segment partials, then one row per entity
    by_table: dict[str, list[dict[str, Any]]] = {}
    for f in feats:
        if f["kind"] in ("aggregate", "recency"):
            by_table.setdefault(f["table"], []).append(f)
    out_expr: dict[str, str] = {}
    for t_i, (table, fs) in enumerate(by_table.items()):
        times = {f["time"] for f in fs}
        if len(times) != 1:
            raise ValueError(f"gold: features of table {table} use several time columns {sorted(times)}; "
                             "use one time column per table")
        time_col = times.pop()
        windows = {w for f in fs if f["kind"] == "aggregate" for w in f["windows"]}
        bounded = None not in windows and all(f["kind"] == "aggregate" for f in fs)
        edges = sorted({o for o in offs} | {o + w for o in offs for w in windows if w})
        last = len(edges) - 1
        lookup = [bisect.bisect_right(edges, day) - 1 for day in range(edges[-1])]
        seg = (f"CASE WHEN __delta >= {edges[-1]} THEN {last} ELSE {d.array_at(lookup, '__delta + 1')} END"
               if lookup else "0")
        kind = col_types.get(table, {}).get(time_col, "timestamp")
        delta = f"(SELECT ds_day FROM run_params) - {d.day_number(time_col, kind)}"
        partial, per_snapshot = [], []
        hi = {w: f"hi{w}" for w in sorted(x for x in windows if x)}
        r = f"r{t_i}"
        for f_i, f in enumerate(fs):
            m = f"m{f_i}"
            cond = f"({f['where']})" if f.get("where") else "TRUE"
            if f["kind"] == "recency":
                partial.append(f"MIN(__delta) AS {m}" if cond == "TRUE" else f"MIN(CASE WHEN {cond} THEN __delta END) AS {m}")
                per_snapshot.append(f"MIN(t.{m}) - b.o AS {f['name']}")
                out_expr[f["name"]] = f"{r}.{f['name']}"
                continue
            agg, col = f["agg"], f.get("column")
            if agg == "count" and cond == "TRUE":
                partial.append(f"COUNT({col or '*'}) AS {m}")
            elif agg == "count":
                partial.append(f"SUM(CASE WHEN {cond}{f' AND {col} IS NOT NULL' if col else ''} THEN 1 ELSE 0 END) AS {m}")
            elif agg in ("sum", "avg"):
                partial.append(f"SUM(CASE WHEN {cond} THEN CAST({col} AS DOUBLE) END) AS {m}")
                if agg == "avg":
                    partial.append(f"SUM(CASE WHEN {cond} AND {col} IS NOT NULL THEN 1 ELSE 0 END) AS {m}n")
            else:
                partial.append(f"{agg.upper()}(CASE WHEN {cond} THEN {col} END) AS {m}")
            combine = {"count": "SUM", "sum": "SUM", "avg": "SUM", "min": "MIN", "max": "MAX"}[agg]
            for w in f["windows"]:
                name = f["name"] if w is None else f"{f['name']}_{w}d"
                inside = None if w is None else f"t.__seg <= b.{hi[w]}"
                per_snapshot.append(f"{combine}({_within(f't.{m}', inside)}) AS {name}")
                if agg == "avg":
                    per_snapshot.append(f"SUM({_within(f't.{m}n', inside)}) AS {name}__n")
                    out_expr[name] = f"{r}.{name} / NULLIF({r}.{name}__n, 0)"
                elif agg in ("count", "sum"):
                    out_expr[name] = f"COALESCE({r}.{name}, 0)"
                else:
                    out_expr[name] = f"{r}.{name}"
        # per snapshot i (offset o): its segments start at lo; a window w ends at segment hi<w>
        rows = [[i, o, edges.index(o), *[edges.index(o + w) - 1 for w in hi]] for i, o in enumerate(offs)]
        names = ["i", "o", "lo", *hi.values()]
        ctes.append((f"bounds{t_i}", "SELECT * FROM (VALUES " + ", ".join("(" + ", ".join(map(str, row)) + ")"
                                                                          for row in rows)
                     + f") AS b({', '.join(names)})"))
        keep = f"__delta >= 0 AND __delta < {edges[-1]}" if bounded else "__delta >= 0"
        ctes.append((f"seg{t_i}", "SELECT __k, __seg,\n         " + ",\n         ".join(partial)
                     + f"\n  FROM (SELECT *, {seg} AS __seg\n        FROM (SELECT *, {key} AS __k, {delta} AS __delta"
                     + f"\n              FROM {table}\n              WHERE {key} IS NOT NULL AND {time_col} IS NOT NULL) x"
                     + f"\n        WHERE {keep}) y\n  GROUP BY __k, __seg"))
        upper = f" AND t.__seg <= b.{hi[max(hi)]}" if bounded else ""
        ctes.append((f"agg{t_i}", "SELECT t.__k, b.i,\n         " + ",\n         ".join(per_snapshot)
                     + f"\n  FROM seg{t_i} t\n  JOIN bounds{t_i} b ON t.__seg >= b.lo{upper}"
                     + "\n  GROUP BY t.__k, b.i, b.o"))
        joins.append(f"LEFT JOIN agg{t_i} {r} ON {r}.__k = s.{key} AND {r}.i = s.i")

    # ---- latest visible values (attributes, days since), per (table, time column); a table with one row per
    # entity is joined as it is, the others through the latest row per entity and as-of date
    unique = set(gold.get("unique_by_entity") or [])
    by_view: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for f in feats:
        if f["kind"] in ("attribute", "days_since"):
            time = f.get("time") or (f["column"] if f["kind"] == "days_since" else None)
            by_view.setdefault((f["table"], time), []).append(f)
    label = gold["label"]
    if label["kind"] == "column":
        by_view.setdefault((label["table"], label.get("time")), []).append(
            {"kind": "label", "name": label["name"], "column": label["column"]})
    for v_i, ((table, time), fs) in enumerate(by_view.items()):
        alias = f"v{v_i}"
        if table in unique:
            visible = f" AND CAST({alias}.{time} AS DATE) <= s.as_of" if time else ""
            joins.append(f"LEFT JOIN {table} {alias} ON {alias}.{key} = s.{key}{visible}")
            values = {f["name"]: f"{alias}.{f['column']}" for f in fs}
        else:  # the value of the latest row visible at the as-of date (max_by ignores a NULL ordering)
            visible = f"CASE WHEN CAST(t.{time} AS DATE) <= a.as_of THEN t.{time} END" if time else None
            j = snapshot(table, *(f"max_by(t.{f['column']}, {visible}) AS {f['name']}" if time
                                  else f"max(t.{f['column']}) AS {f['name']}" for f in fs))
            values = {f["name"]: f"p{j}.{f['name']}" for f in fs}
        for f in fs:
            value = values[f["name"]]
            if f["kind"] == "days_since":
                out_expr[f["name"]] = d.days_between(f"CAST({value} AS DATE)", "s.as_of")
            elif f["kind"] == "label":
                out_expr[f["name"]] = f"CAST({value} AS INT)"
            else:
                out_expr[f["name"]] = value

    # ---- the label
    if label["kind"] == "event":
        day = "CAST({t}.{c} AS DATE)"
        cond = f" AND ({label['where']})" if label.get("where") else ""
        if label["table"] in unique:  # at most one row per entity: no aggregation
            t_day = day.format(t="lt", c=label["time"])
            joins.append(f"LEFT JOIN {label['table']} lt ON lt.{key} = s.{key} AND s.split = 'train'")
            hit = f"{t_day} > s.as_of AND {t_day} <= {d.date_add('s.as_of', int(label['horizon_days']))}{cond}"
            out_expr[label["name"]] = f"CASE WHEN s.split = 'train' THEN CASE WHEN {hit} THEN 1 ELSE 0 END END"
        else:
            t_day = day.format(t="t", c=label["time"])
            j = snapshot(label["table"], f"MAX(CASE WHEN {t_day} > a.as_of AND {t_day} <= "
                                         f"{d.date_add('a.as_of', int(label['horizon_days']))}{cond} THEN 1 ELSE 0 END)"
                                         " AS __y")
            out_expr[label["name"]] = f"CASE WHEN s.split = 'train' THEN COALESCE(p{j}.__y, 0) END"
        select.append("s.split")
    else:
        select.append(f"CASE WHEN {out_expr[label['name']]} IS NOT NULL THEN 'train' ELSE 'score' END AS split")

    for j, (table, exprs) in enumerate(snaps.items()):
        ctes.insert(j, (f"snap{j}", f"SELECT t.{key}, a.i,\n         " + ",\n         ".join(exprs)
                        + f"\n  FROM {table} t\n  CROSS JOIN as_of_dates a\n  WHERE t.{key} IS NOT NULL"
                        + f"\n  GROUP BY t.{key}, a.i"))
        if table in joined:
            joins.append(f"LEFT JOIN snap{j} p{j} ON p{j}.{key} = s.{key} AND p{j}.i = s.i")
    for col in gold["columns"][3:]:
        name = col["name"]
        select.append(f"CAST({out_expr[name]} AS {d.type(types[name])}) AS {name}")
    return ctes, "SELECT " + ",\n       ".join(select) + "\nFROM spine s\n" + "\n".join(joins) + "\n"


def _within(value: str, condition: str | None) -> str:
    return value if condition is None else f"CASE WHEN {condition} THEN {value} END"


def main(argv: list[str] | None = None) -> int:
    """``python -m spark_jobs.gold_sql <spec.json> [--dialect duckdb]``: print the gold SQL of a job spec."""
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m spark_jobs.gold_sql", description=main.__doc__)
    p.add_argument("spec", help="a job spec (JSON file)")
    p.add_argument("--dialect", choices=DIALECTS, default="spark")
    args = p.parse_args(argv)
    with open(args.spec, encoding="utf-8") as fh:
        print(render(json.load(fh)["gold"], args.dialect), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
