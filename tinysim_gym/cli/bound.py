"""``tinysim bound``: the best weighted accuracy any policy can reach, and the model mixture that reaches it."""

from __future__ import annotations

import argparse
from typing import Any

from tinysim_gym.cli.common import add_scenario_args, dumps, scenario_from_args


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    p = sub.add_parser("bound", help="the optimal-policy bound (LP) of a scenario", description=__doc__)
    add_scenario_args(p, default_scenario="usps-l476-async-horizon")
    p.add_argument("--json", action="store_true", help="print one JSON object (weighted_accuracy, mixture, ...)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Solve the LP and print the bound."""
    # imported here: ``tinysim --help`` builds every subcommand's parser and must not load them
    from tinysim_gym.optimal.lp import bound

    result = bound(scenario_from_args(args))
    if args.json:
        print(dumps(result.to_dict()))
        return 0
    print(f"scenario           {result.scenario} ({result.episode})")
    print(f"bound              {result.weighted_accuracy:.4f} % weighted accuracy")
    print(f"kind               {result.note}")
    print(f"binding            {', '.join(result.binding) or '-'}")
    mix = ", ".join(f"{k}: {v:.4f}" for k, v in result.mixture.items() if v > 1e-9)
    print(f"optimal mixture    {mix} (fraction of arrivals per model)")
    print(f"dropped fraction   {result.dropped_fraction:.4f}")
    print(f"operating time     {result.operating_time_ms:.1f} ms")
    return 0
