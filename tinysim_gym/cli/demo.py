"""``tinysim demo``: the main job in a few minutes on the built-in training scenario."""

from __future__ import annotations

import argparse
from typing import Any

from tinysim_gym.cli.simulate import make_selector
from tinysim_gym.config import load_scenario
from tinysim_gym.engine import Engine

SELECTORS = ("reference", "accuracy-first", "latency-first", "random", "fuzzy")


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    p = sub.add_parser("demo", help="run the main job on the built-in scenario", description=__doc__)
    p.add_argument("--scenario", default="async_2", help="scenario to run every selector on")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the seed scenario with every original selector and print the comparison."""
    scenario = load_scenario(args.scenario)
    print(f"scenario {scenario.name}: {scenario.description}")
    header = f"{'selector':<16}{'weighted acc %':>16}{'operating ms':>16}{'inferences':>12}{'dropped':>10}"
    print(header)
    for name in SELECTORS:
        engine = Engine(scenario, chunk=1 << 16)
        m = engine.run(make_selector(name, engine, {}))
        print(f"{name:<16}{m['weighted_accuracy']:>16.2f}{m['operating_time_ms']:>16.2f}"
              f"{m['inferences']:>12}{m['dropped']:>10}")
    return 0

