"""Generate (and reset) the sample sources: the OLTP database, the clickstream share, the partner drops.

The simulation starts ``history_days`` before the first date ever requested and then runs day by day;
its state is saved after each day, so generating D1..D3 in one call equals D1 and then D2..D3 later.
Dates already generated are skipped (``make run`` can be rerun); the next date must follow the last.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mlpipe.config.model import PipelineConfig
from mlpipe.errors import ConfigError
from mlpipe.local.cdc import LOG_TABLE, create_source_engine, log_tables, masked, resolve_url
from mlpipe.sample.clickstream import write_day
from mlpipe.sample.defects import validate_defects
from mlpipe.sample.oltp import apply_changes, create_database, drop_database, row_counts
from mlpipe.sample.partner import write_drop
from mlpipe.sample.simulate import simulate_day
from mlpipe.sample.state import SimState, load_state, save_state
from mlpipe.sample.targets import SampleTargets, sample_targets

log = logging.getLogger(__name__)


@dataclass
class GenerationReport:
    """What one call generated, skipped and where it wrote."""

    generated: list[dt.date] = field(default_factory=list)
    skipped: list[dt.date] = field(default_factory=list)
    history_days: int = 0
    events: int = 0
    event_files: int = 0
    partner_files: list[Path] = field(default_factory=list)
    db_changes: Counter[str] = field(default_factory=Counter)
    defects: dict[dt.date, list[str]] = field(default_factory=dict)
    database: str = ""
    share_dir: Path | None = None
    landing_dir: Path | None = None
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (for make run's summary)."""
        return {
            "generated": [d.isoformat() for d in self.generated],
            "skipped": [d.isoformat() for d in self.skipped],
            "history_days": self.history_days,
            "events": self.events,
            "event_files": self.event_files,
            "partner_files": [str(p) for p in self.partner_files],
            "db_changes": dict(sorted(self.db_changes.items())),
            "defects": {d.isoformat(): names for d, names in sorted(self.defects.items())},
            "database": self.database,
            "share_dir": str(self.share_dir) if self.share_dir else None,
            "landing_dir": str(self.landing_dir) if self.landing_dir else None,
        }

    def summary(self) -> str:
        lines = list(self.messages)
        if self.generated or self.history_days:
            span = f"{self.generated[0]}..{self.generated[-1]}" if self.generated else "none"
            lines += [
                f"generated dates {span} (+{self.history_days} history days)",
                f"  database   {self.database}: " + ", ".join(f"{n} {op}s" for op, n in sorted(self.db_changes.items())),
                f"  clickstream {self.share_dir}: {self.events} events in {self.event_files} files",
                f"  partner    {self.landing_dir}: " + (", ".join(p.name if p.parent == self.landing_dir
                                                              else f"{p.parent.name}/{p.name}"
                                                              for p in self.partner_files) or "no files"),
            ]
            lines += [f"  defects on {day}: {', '.join(names)}" for day, names in sorted(self.defects.items())]
        elif not self.messages:
            lines.append("nothing to generate")
        return "\n".join(lines)


def generate(
    cfg: PipelineConfig,
    dates: Iterable[dt.date],
    defects: Mapping[dt.date, Iterable[str]] | None = None,
    drift_from: dt.date | None = None,
) -> GenerationReport:
    """Simulate up to the last of ``dates`` and write every source for the dates not generated yet."""
    targets = sample_targets(cfg)
    wanted = sorted(set(dates))
    if not wanted:
        raise ConfigError("generate: give at least one date")
    chosen = validate_defects(defects)
    stray = sorted(set(chosen) - set(wanted))
    if stray:
        raise ConfigError(f"defects given for {stray}, which are not among the dates to generate {wanted}")
    report = GenerationReport(database=masked(resolve_url(targets.database.url or "")), share_dir=targets.share_dir,
                              landing_dir=targets.landing_dir)
    engine = _engine(targets)
    try:
        state = _open_state(cfg, targets, engine, wanted[0])
        todo = _plan(state, wanted, report)
        if drift_from is not None and drift_from.toordinal() != state.drift_from_ord:
            if drift_from.toordinal() <= state.last_ord:
                report.messages.append(f"drift from {drift_from}: days up to {dt.date.fromordinal(state.last_ord)} "
                                       "are already generated without it; it applies from the next day")
            state.drift_from_ord = drift_from.toordinal()
        for ordinal in range(state.last_ord + 1, (todo[-1].toordinal() + 1) if todo else 0):
            day = dt.date.fromordinal(ordinal)
            _generate_day(targets, engine, state, ordinal, chosen.get(day, frozenset()), report)
            if ordinal < state.first_requested_ord:
                report.history_days += 1
            else:
                report.generated.append(day)
    finally:
        engine.dispose()
    report.defects = {day: sorted(names) for day, names in chosen.items() if day in report.generated}
    return report


def _engine(targets: SampleTargets) -> sa.Engine:
    """The source engine; SQLite without fsync per commit (the sample can always be regenerated)."""
    engine = create_source_engine(targets.database.url or "")
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _no_fsync(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA synchronous = OFF")
    return engine


def reset(cfg: PipelineConfig) -> list[str]:
    """Delete everything the generator made (database tables or file, share, landing, state)."""
    targets = sample_targets(cfg)
    removed: list[str] = []
    sqlite_file = targets.sqlite_file
    if sqlite_file is not None:
        for path in (sqlite_file, *(sqlite_file.with_name(sqlite_file.name + s) for s in ("-journal", "-wal", "-shm"))):
            if path.exists():
                path.unlink()
                removed.append(str(path))
    else:
        engine = create_source_engine(targets.database.url or "")
        try:
            dropped = drop_database(engine, targets.database.db_schema)
        finally:
            engine.dispose()
        removed += [f"{masked(targets.database.url or '')}: table {name}" for name in dropped]
    for directory in (targets.share_dir, targets.landing_dir, targets.state_dir):
        if directory.exists():
            shutil.rmtree(directory)
            removed.append(str(directory))
    return removed


def _open_state(cfg: PipelineConfig, targets: SampleTargets, engine: sa.Engine, first: dt.date) -> SimState:
    """The saved state (checked against the config and the database), or a fresh one with a new database."""
    schema = targets.database.db_schema
    state = load_state(targets.state_dir)
    if state is not None:
        state.check_matches(cfg.sample, targets.state_dir)
        _check_in_step(engine, state, schema)
        return state
    if targets.sqlite_file is not None:
        targets.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    existing = {name: n for name, n in row_counts(engine, schema).items() if n}
    if existing:
        raise ConfigError(
            f"{masked(targets.database.url or '')} already has sample tables with rows {existing} but there is no "
            f"generator state in {targets.state_dir}; run `python -m mlpipe.sample reset` to start over"
        )
    drop_database(engine, schema)
    create_database(engine, schema)
    state = SimState.fresh(cfg.sample, first.toordinal())
    save_state(state, targets.state_dir)
    return state


def _check_in_step(engine: sa.Engine, state: SimState, schema: str | None) -> None:
    """Refuse to continue when the database holds changes of days the state has not recorded."""
    log_table, _ = log_tables(schema)
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(LOG_TABLE, schema=schema):
            raise ConfigError(f"the sample database has no {LOG_TABLE}; run `python -m mlpipe.sample reset`")
        last = conn.execute(sa.select(sa.func.max(log_table.c.commit_ts))).scalar()
    end = dt.datetime.combine(dt.date.fromordinal(state.last_ord + 1), dt.time())
    if last is not None and last >= end:
        raise ConfigError(
            f"the sample database has changes up to {last}, after the last generated day "
            f"{dt.date.fromordinal(state.last_ord)}; state and database are out of step: "
            "run `python -m mlpipe.sample reset`"
        )


def _plan(state: SimState, wanted: list[dt.date], report: GenerationReport) -> list[dt.date]:
    """The dates still to generate; already generated ones are skipped with a message."""
    last = dt.date.fromordinal(state.last_ord)
    first = dt.date.fromordinal(state.first_requested_ord)
    done = [day for day in wanted if day.toordinal() <= state.last_ord]
    todo = [day for day in wanted if day.toordinal() > state.last_ord]
    if done:
        report.skipped = done
        early = [day for day in done if day < first]
        if early:
            report.messages.append(
                f"skipped {early}: before the first generated date {first} (that is simulated history); "
                "run `python -m mlpipe.sample reset` to start the simulation earlier"
            )
        late = [day for day in done if day >= first]
        if late:
            report.messages.append(f"skipped {_span(late)}: already generated (up to {last})")
    if todo:
        start = dt.date.fromordinal(max(state.last_ord + 1, state.first_requested_ord))
        if todo != [start + dt.timedelta(days=k) for k in range(len(todo))]:
            raise ConfigError(
                f"dates must be consecutive and continue the simulation from {start} (last generated: {last}); "
                f"got {_span(todo) if len(todo) < 3 else [str(day) for day in todo]}. Generate "
                f"{start}..{todo[-1]} instead, or run `python -m mlpipe.sample reset` to start over"
            )
    return todo


def _stamp_end_of_day(directory: Path, day: dt.date) -> None:
    """Give the day's share files the simulated time they were closed (23:59:59 UTC of ``day``), so the
    file-share sync, which sees the share as of the end of a logical date, lands them with their own day."""
    closed = int(dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC).timestamp() * 1e9)
    for path in directory.glob("*.jsonl"):
        os.utime(path, ns=(closed, closed))


def _generate_day(targets: SampleTargets, engine: sa.Engine, state: SimState, ordinal: int,
                  defects: frozenset[str], report: GenerationReport) -> None:
    """One day: simulate, write events, apply DB changes, drop the partner file, save the state."""
    day = dt.date.fromordinal(ordinal)
    outcome = simulate_day(state, ordinal, defects)
    lines, files = write_day(targets.day_dir(day), state, outcome, defects)
    _stamp_end_of_day(targets.day_dir(day), day)
    report.events += lines
    report.event_files += files
    report.db_changes.update(apply_changes(engine, day, outcome.changes, targets.database.db_schema))
    if ordinal >= state.first_requested_ord:
        path = write_drop(targets, state, ordinal, defects)
        if path is not None:
            report.partner_files.append(path)
    state.last_ord = ordinal
    if ordinal >= state.first_requested_ord - 1:  # history is saved once, at its end
        save_state(state, targets.state_dir)
    log.info("generated %s: %d events, %d database changes", day, lines, len(outcome.changes))


def _span(days: list[dt.date]) -> str:
    return str(days[0]) if len(days) == 1 else f"{days[0]}..{days[-1]}"
