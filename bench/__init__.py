"""Benchmarks. `python -m bench` runs every bench/bench_*.py, prints one table, writes bench/results.json.

Each module exposes ``run() -> list[Row]``; a row compares its figure with a reference measured in the
same run where there is one (ratio = value / reference) and says whether its target is met.
"""
