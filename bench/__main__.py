"""Run every benchmark (or those named: python -m bench dag_parse), print a table, write bench/results.json."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    chosen = [m for m in modules if not names or m.removeprefix("bench_") in names]
    rows = []
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(f"bench.{name}").run())
    header = f"| {'benchmark':<46} | {'value':>10} | {'unit':<8} | {'reference':>10} | {'ratio':>7} | {'target':<28} | met |"
    print(header)
    print("|" + "|".join("-" * (len(c) + 0) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        ref = f"{r.reference:.3f}" if r.reference is not None else "-"
        ratio = f"{r.ratio:.3f}" if r.ratio is not None else "-"
        print(f"| {r.name:<46} | {r.value:>10.3f} | {r.unit:<8} | {ref:>10} | {ratio:>7} | {r.target:<28} | {'yes' if r.met else 'NO':<3} |")
    out = HERE / "results.json"
    out.write_text(json.dumps([r.to_dict() for r in rows], indent=2))
    print(f"results: {out}")
    return 0 if all(r.met for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
