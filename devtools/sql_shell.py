"""`make sql`: a DuckDB SQL shell on the local lake's silver and gold tables.

Every table directory with committed ``dt=YYYY-MM-DD`` partitions becomes a view, ``silver.<table>`` and
``gold.<table>``, over ``read_parquet(<table>/dt=*/*.parquet, hive_partitioning)`` (``dt`` is a column).
Statements end with ``;`` and may span lines; ``.tables`` lists the views, ``.quit`` (or Ctrl-D) leaves.

    python -m devtools.sql_shell                                   # interactive
    python -m devtools.sql_shell -c "select count(*) from gold.customer_features"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlpipe.config import load_config
from mlpipe.dagkit import lake
from mlpipe.lake import SUCCESS_MARKER, to_path

LAYERS = ("silver", "gold")
PROMPT, CONTINUATION = "sql> ", "...> "
HELP = ("End each statement with ';'. .tables lists the views, .help shows this, .quit leaves. "
        "Example: select dt, count(*) from gold.<table> group by dt order by dt;")


def discover(lake_dir: Path) -> dict[str, Path]:
    """``layer.table`` -> table directory, for each table with at least one committed partition."""
    found: dict[str, Path] = {}
    for layer in LAYERS:
        base = lake_dir / layer
        if not base.is_dir():
            continue
        for table in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if any((part / SUCCESS_MARKER).exists() and any(part.glob("*.parquet")) for part in table.glob("dt=*")):
                found[f"{layer}.{table.name}"] = table
    return found


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(lake_dir: Path) -> tuple[Any, dict[str, Path]]:
    """An in-memory DuckDB with one view per table."""
    import duckdb

    con = duckdb.connect(":memory:")
    views = discover(lake_dir)
    for layer in LAYERS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
    for name, table_dir in views.items():
        layer, table = name.split(".")
        glob = str(table_dir / "dt=*" / "*.parquet")
        con.execute(f'CREATE VIEW {layer}."{table}" AS SELECT * FROM read_parquet({_quote(glob)}, '
                    "hive_partitioning = true, union_by_name = true)")
    return con, views


def describe(con: Any, views: dict[str, Path]) -> str:
    if not views:
        return "no silver or gold tables yet: run `make run` (or the ml_features DAG) first"
    lines = [f"{'view':<34} {'partitions':>10} {'rows':>10}  location"]
    for name, table_dir in views.items():
        layer, table = name.split(".")
        ((parts, rows),) = con.execute(f'SELECT count(DISTINCT dt), count(*) FROM {layer}."{table}"').fetchall()
        lines.append(f"{name:<34} {parts:>10} {rows:>10}  {table_dir}")
    return "\n".join(lines)


def run_statement(con: Any, sql: str, out: Any = None) -> None:
    out = out or sys.stdout
    try:
        relation = con.sql(sql)
        text = None if relation is None else str(relation)  # runs the query
    except Exception as exc:  # noqa: BLE001 - a shell reports the error and goes on
        text = f"error: {exc}"
    if text is not None:
        print(text, file=out)


def repl(con: Any, views: dict[str, Path]) -> None:
    try:
        import readline  # noqa: F401 - line editing and history where available
    except ImportError:
        pass
    buffer: list[str] = []
    while True:
        try:
            line = input(CONTINUATION if buffer else PROMPT)
        except (EOFError, KeyboardInterrupt):
            print()
            return
        command = line.strip()
        if not buffer and command.startswith("."):
            if command in (".quit", ".exit", ".q"):
                return
            print(describe(con, views) if command == ".tables" else HELP)
            continue
        buffer.append(line)
        if command.endswith(";"):
            run_statement(con, "\n".join(buffer))
            buffer.clear()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--command", help="run this SQL, print the result and exit")
    parser.add_argument("--lake", type=Path, help="the lake directory (default: lake.root of $PIPELINE_ENV)")
    args = parser.parse_args(argv)
    if args.lake:
        lake_dir = args.lake
    else:
        cfg = load_config()
        root = lake(cfg).root
        if not root.startswith("file://"):
            raise SystemExit(f"make sql reads a local lake; PIPELINE_ENV={cfg.environment} has lake.root {root} "
                             "(query it with Athena: the ml_features DAG registers its partitions there)")
        lake_dir = to_path(root)
    con, views = connect(lake_dir)
    if args.command:
        run_statement(con, args.command)
        return
    ((version,),) = con.execute("select version()").fetchall()
    print(f"DuckDB {version} on {lake_dir}")
    print(describe(con, views))
    print(HELP)
    repl(con, views)


if __name__ == "__main__":
    main()
