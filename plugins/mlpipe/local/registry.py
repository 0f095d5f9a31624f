"""The local model registry's command line (the registry itself: :mod:`mlpipe.services.local_registry`)::

    python -m mlpipe.local.registry list [--group G] [--json]
    python -m mlpipe.local.registry approve --version N [--group G] [--reason TEXT] [--by WHO]
    python -m mlpipe.local.registry reject  --version N [--group G] [--reason TEXT] [--by WHO]

``make approve VERSION=n`` and ``make reject VERSION=n`` run it. The group defaults to
``training.registry.model_package_group`` and the registry to the lake of ``$PIPELINE_ENV``'s configuration
(``--registry DIR`` overrides it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from mlpipe.errors import MlPipeError
from mlpipe.services.local_registry import LocalModelRegistry
from mlpipe.services.registry import ApprovalStatus, ModelPackage

STATUS_OF_COMMAND = {"approve": ApprovalStatus.APPROVED, "reject": ApprovalStatus.REJECTED}


def version_table(packages: Sequence[ModelPackage]) -> str:
    """The versions as a text table (``*`` marks the deployable ones)."""
    rows = [("version", "status", "created", "tuning job", "metrics", "model")]
    for p in packages:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(p.metrics.items())[:4] if isinstance(v, int | float))
        rows.append((str(p.version), str(p.status) + (" *" if p.deployable else ""), p.created_at,
                     p.tuning_job_name, shown, p.model_uri))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m mlpipe.local.registry",
                                  description="The local model registry: list versions, approve or reject one.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--group", help="model package group (default: training.registry.model_package_group)")
    common.add_argument("--registry", help="registry directory (default: <lake>/registry of $PIPELINE_ENV)")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("list", parents=[common], help="every version of the group").add_argument(
        "--json", action="store_true", help="print JSON instead of a table")
    for verb in STATUS_OF_COMMAND:
        p = sub.add_parser(verb, parents=[common], help=f"{verb} a version")
        p.add_argument("--version", type=int, required=True)
        p.add_argument("--reason", default="", help="why (kept in the version's history)")
        p.add_argument("--by", help="who (default: the current user)")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        cfg = None
        if args.group is None or args.registry is None:
            from mlpipe.config import load_config

            cfg = load_config()
        group = args.group or cfg.training.registry.model_package_group  # type: ignore[union-attr]
        registry = LocalModelRegistry(args.registry) if args.registry else LocalModelRegistry.from_config(cfg)  # type: ignore[arg-type]
        if args.command == "list":
            packages = registry.list(group)
            if args.json:
                print(json.dumps([p.to_dict() for p in packages], indent=2))
            elif not packages:
                print(f"model package group '{group}' in {registry.root} has no versions")
            else:
                print(f"model package group '{group}' ({registry.root}); * = deployable")
                print(version_table(packages))
            return 0
        package = registry.set_status(group, args.version, STATUS_OF_COMMAND[args.command], by=args.by,
                                      reason=args.reason)
        print(f"{group} version {package.version}: {package.status}"
              + ("" if package.deployable else " (not deployable)"))
        return 0
    except MlPipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
