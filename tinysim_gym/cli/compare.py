"""``tinysim compare``: every baseline on one scenario, side by side, with the bound as the last row.

Writes the table as CSV and a PNG (operating time vs weighted accuracy, and model usage over time).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tinysim_gym.atomic import safe_file_name, write_files
from tinysim_gym.cli.common import add_scenario_args, dumps, scenario_from_args
from tinysim_gym.errors import TinySimError


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    p = sub.add_parser("compare", help="every baseline side by side, with the bound", description=__doc__)
    add_scenario_args(p, default_scenario="usps-l476-async-horizon")
    p.add_argument("--seeds", type=int, default=1, help="seeds per policy (default 1)")
    p.add_argument("--policies", help="comma-separated baseline names (default: all)")
    p.add_argument("--processes", type=int, help="worker processes (default: the CPU count)")
    p.add_argument("--usage-policy", default="auto", help="policy whose model usage over time is plotted")
    p.add_argument("--out", default="out", help="directory for the CSV and PNG (default: out/)")
    p.add_argument("--no-files", action="store_true", help="write no CSV or PNG")
    p.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    p.add_argument("--oracle", action="store_true",
                   help="add the DP oracle's row and, under the table, the certified gap (upper bound - oracle); "
                        "the first run of a scenario solves it (seconds to a minute, then cached on disk)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the comparison, print the table and write the files."""
    # imported here: ``tinysim --help`` builds every subcommand's parser and must not load them
    import baselines
    from tinysim_gym.experiments.compare import compare
    from tinysim_gym.experiments.plots import plots_png
    from tinysim_gym.experiments.table import format_table, rows_csv, rows_json

    if args.seeds < 1 or args.seeds > 10_000:
        raise TinySimError(f"--seeds: expected 1..10000, got {args.seeds}")
    if args.processes is not None and not 1 <= args.processes <= 256:
        raise TinySimError(f"--processes: expected 1..256, got {args.processes}")
    scenario = scenario_from_args(args)
    policies = [p.strip() for p in args.policies.split(",") if p.strip()] if args.policies else None
    rows = compare(scenario, policies=policies, seeds=args.seeds, processes=args.processes,
                   usage_policy=args.usage_policy, registry=baselines, oracle=args.oracle)
    written = []
    if not args.no_files:
        stem = Path(args.out) / f"compare_{safe_file_name(scenario.name, 'scenario')}"
        # both files or neither: a full disk must not leave a table without its figure
        written = write_files({stem.with_name(stem.name + ".csv"): rows_csv(rows),
                               stem.with_name(stem.name + ".png"): plots_png(rows)})
    if args.json:
        print(dumps(rows_json(rows)))
    else:
        print(format_table(rows))
        for label, why in rows.skipped.items():
            print(f"skipped {label}: {why}")
        for path in written:
            print(f"wrote {path}")
    return 0
