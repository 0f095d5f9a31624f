"""CLI: ``python -m mlpipe.sample generate|reset|deliver-late`` (config from $PIPELINE_ENV)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys

from pydantic import ValidationError

from mlpipe.config import PipelineConfig, load_config
from mlpipe.config.model import SampleConfig
from mlpipe.errors import MlPipeError
from mlpipe.sample.defects import DEFECTS, parse_defect_args
from mlpipe.sample.generator import generate, reset
from mlpipe.sample.partner import deliver_late_drop


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlpipe.sample", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="simulate and write the sources for a range of dates")
    gen.add_argument("--start", type=_date, required=True, help="first logical date (YYYY-MM-DD)")
    gen.add_argument("--end", type=_date, help="last logical date (default: --start)")
    gen.add_argument("--defects", nargs="*", default=[], metavar="DATE=NAME[,NAME]",
                     help="defects to inject on a date; names: " + ", ".join(sorted(DEFECTS)))
    gen.add_argument("--drift-from", type=_date, help="distributions shift from this date on")
    gen.add_argument("--events", type=int, help="override sample.events (events over the whole history)")
    gen.add_argument("--customers", type=int, help="override sample.customers")
    gen.add_argument("-q", "--quiet", action="store_true", help="no per-day progress lines")
    sub.add_parser("reset", help="delete the generated database, share, landing files and state")
    late = sub.add_parser("deliver-late", help="move a late partner drop (late_drop defect) into place")
    late.add_argument("--ds", type=_date, required=True)
    return parser


def _with_overrides(cfg: PipelineConfig, events: int | None, customers: int | None) -> PipelineConfig:
    update = {k: v for k, v in {"events": events, "customers": customers}.items() if v is not None}
    if not update:
        return cfg
    try:
        sample = SampleConfig.model_validate({**cfg.sample.model_dump(), **update})
    except ValidationError as exc:
        raise MlPipeError("; ".join(f"--{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from None
    return cfg.model_copy(update={"sample": sample})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = load_config()
        if args.command == "generate":
            logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
            cfg = _with_overrides(cfg, args.events, args.customers)
            end = args.end or args.start
            if end < args.start:
                raise MlPipeError(f"--end {end} is before --start {args.start}")
            dates = [args.start + dt.timedelta(days=k) for k in range((end - args.start).days + 1)]
            report = generate(cfg, dates, parse_defect_args(args.defects), args.drift_from)
            print(report.summary())
        elif args.command == "reset":
            removed = reset(cfg)
            print("\n".join(f"removed {what}" for what in removed) or "nothing to remove")
        else:
            print(f"delivered {deliver_late_drop(cfg, args.ds)}")
    except MlPipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
