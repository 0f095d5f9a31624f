"""The local endpoint of ``deployment.endpoint_name`` from the command line (``make serve`` / ``make stop``)::

    python -m mlpipe.local.serve serve [--version N]   # blue/green-deploy the newest Approved (or N); print it
    python -m mlpipe.local.serve status                # the live endpoint
    python -m mlpipe.local.serve stop                  # stop every version of the endpoint

``serve`` smoke-tests the new version with ``deployment.smoke_test.requests`` (no gold rows: no run date).
"""

from __future__ import annotations

import json
import sys

from mlpipe.config import load_config
from mlpipe.errors import MlPipeError
from mlpipe.lake import LakeLayout, to_path
from mlpipe.local.blue_green import deploy, spec_from_config, stop_all
from mlpipe.local.model_artifact import model_dir_of
from mlpipe.services import registry_for, storage_for
from mlpipe.services.endpoint_smoke_test import configured_requests, run_smoke_test
from mlpipe.services.local_endpoints import read_live


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mlpipe.local.serve",
                                     description="The local endpoint of deployment.endpoint_name.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="deploy the newest Approved version (or --version N)").add_argument(
        "--version", type=int)
    sub.add_parser("status", help="the live endpoint")
    sub.add_parser("stop", help="stop every version of the endpoint")
    args = parser.parse_args(argv)
    try:
        cfg = load_config()
        spec = spec_from_config(cfg)
        if args.command == "serve":
            group = cfg.training.registry.model_package_group
            package = registry_for(cfg).require_deployable(group, args.version).to_dict()
            dest = to_path(LakeLayout.from_config(cfg).unpacked_model(group, package["version"]))
            model_dir = model_dir_of(package, storage_for(cfg), dest)
            requests = configured_requests(cfg.deployment.smoke_test)
            out = deploy(model_dir, package["version"], spec,
                         lambda client: run_smoke_test(client, spec.name, requests), arn=package["arn"])
            print(json.dumps(out, indent=2))
        elif args.command == "status":
            print(json.dumps(read_live(spec.run_dir, spec.name), indent=2))
        else:
            stopped = stop_all(spec.run_dir, spec.name)
            print(f"stopped {len(stopped)} process(es) of {spec.name}")
        return 0
    except MlPipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
