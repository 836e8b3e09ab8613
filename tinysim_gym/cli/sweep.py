"""``tinysim sweep``: run a declarative grid of scenarios x policies x seeds into one table (CSV).

Examples::

    tinysim sweep smoke --out results/smoke.csv                 # the built-in smoke sweep, local processes
    tinysim sweep my.yaml --out my.csv --backend ray            # a local Ray instance (dashboard off)
    tinysim sweep my.yaml --out my.csv --backend ray --address auto   # a running Ray cluster

Rerunning the same command skips the cells already finished; an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import argparse
from typing import Any

from tinysim_gym.cli.common import dumps
from tinysim_gym.errors import TinySimError
from tinysim_gym.progress import Progress

#: saved agents are run by the agents package, named by a string so that torch loads only when a sweep has one
AGENT_RUNNER = "agents:run_agent"
#: what --ship-code uploads to Ray workers: this package and the two that hold the policies
SHIPPED_PACKAGES = ("tinysim_gym", "baselines", "agents")


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    p = sub.add_parser("sweep", help="run a grid of scenarios x policies x seeds into one table",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep", metavar="SWEEP", help="sweep file (YAML) or a built-in sweep name (smoke)")
    p.add_argument("--out", metavar="FILE", help="the table to write (CSV; required unless --dry-run)")
    p.add_argument("--backend", default="local", choices=("local", "ray"),
                   help="local process pool (default) or Ray")
    p.add_argument("--address", metavar="ADDR",
                   help="a running Ray cluster (auto, HOST:6379 or ray://HOST:10001); default: start a local one")
    p.add_argument("--processes", type=int, metavar="N",
                   help="local worker processes, or CPUs of a local Ray instance (default: all CPUs)")
    p.add_argument("--ship-code", action="store_true",
                   help="with Ray: upload this checkout's packages to the cluster's workers")
    p.add_argument("--dry-run", action="store_true", help="expand and validate the grid, print the cell count")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Expand the sweep, run the unfinished cells, write the table and print a summary."""
    if not args.out and not args.dry_run:
        raise TinySimError("tinysim sweep: the following arguments are required: --out (unless --dry-run)")
    # imported here: ``tinysim --help`` builds every subcommand's parser and must not load them
    import baselines
    from tinysim_gym.experiments.pool import check_backend
    from tinysim_gym.experiments.sweep.run import run_sweep
    from tinysim_gym.experiments.sweep.spec import load_sweep

    check_backend(args.backend, args.processes, args.address)
    if args.ship_code and args.backend != "ray":
        raise TinySimError("--ship-code: only with --backend ray")
    sweep = load_sweep(args.sweep, registry=baselines, agents=AGENT_RUNNER)
    if args.dry_run:
        n_pol = len({p.label for p in sweep.policies})
        summary = {"name": sweep.name, "cells": len(sweep.cells), "axes": sweep.axes, "policies": n_pol}
        axes = ", ".join(sweep.axes) or "none"
        print(dumps(summary) if args.json else
              f"sweep {sweep.name}: {len(sweep.cells)} cells ({n_pol} policies; axes: {axes})")
        return 0
    with Progress(sweep.name, unit="run", delay=0.5) as bar:
        report = run_sweep(sweep, args.out, backend=args.backend, processes=args.processes, address=args.address,
                           progress=bar.update, ship_code=SHIPPED_PACKAGES if args.ship_code else False)
    if args.json:
        print(dumps(vars(report)))
    else:
        err = f", {report.errors} with errors (see the error column)" if report.errors else ""
        print(f"sweep {report.name}: {report.cells} cells ({report.ran} run, {report.reused} already done{err}) "
              f"in {report.seconds:.1f} s{'' if not report.ran else ' on ' + report.backend} -> {report.out}")
    return 0
