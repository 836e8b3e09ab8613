"""``tinysim evaluate``: a trained agent next to every baseline and the optimal-policy bound.

The agent runs deterministically on seeds 0..N-1 (the seeds ``tinysim compare`` uses, never used in
training) with the env settings it was trained with; the table, ``--json`` rows, ``--csv`` and ``--plot``
are those of ``tinysim compare``, with the agent's row (``agent-<algo>``) just above the bound and its
model usage over time in the plot.

Example::

    tinysim evaluate --agent runs/usps-l476-async-horizon/ppo_1/best_model.zip --seeds 5 --plot eval.png
"""

from __future__ import annotations

import argparse
from typing import Any

from tinysim_gym.cli.common import dumps
from tinysim_gym.errors import TinySimError


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    p = sub.add_parser("evaluate", help="compare a trained agent with the baselines and the bound",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agent", required=True, metavar="MODEL_ZIP",
                   help="a model saved by tinysim train (or its run dir)")
    p.add_argument("--scenario", help="scenario to evaluate on (default: the agent's training scenario)")
    p.add_argument("--seeds", type=int, default=5, metavar="N", help="episodes on seeds 0..N-1 (default 5)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--csv", metavar="FILE", help="write the rows as CSV")
    p.add_argument("--plot", metavar="FILE", help="write the trade-off and model-usage PNG")
    p.add_argument("--no-baselines", action="store_true", help="only the agent and the bound")
    p.add_argument("--processes", type=int, metavar="P", help="worker processes for the baselines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the table (or JSON)."""
    from agents.evaluation import evaluate_agent
    from agents.training import load_agent
    from tinysim_gym.compare import format_table, rows_json, write_csv, write_plots

    if args.seeds < 1:
        raise TinySimError(f"--seeds: expected a count >= 1, got {args.seeds}")
    if args.processes is not None and args.processes < 1:
        raise TinySimError(f"--processes: expected a count >= 1, got {args.processes}")
    agent = load_agent(args.agent)
    rows = evaluate_agent(agent, scenario=args.scenario, seeds=args.seeds, baselines=not args.no_baselines,
                          processes=args.processes, progress=not args.json)
    if args.csv:
        write_csv(rows, args.csv)
    if args.plot:
        write_plots(rows, args.plot, policy=agent.label,
                    title=f"{rows.scenario.name if rows.scenario else ''}: {agent.label} ({agent.path})")
    if args.json:
        print(dumps(rows_json(rows)))
    else:
        print(format_table(rows))
        for label, path in (("csv", args.csv), ("plot", args.plot)):
            if path:
                print(f"{label}: {path}")
    return 0
