r"""``tinysim evaluate``: a trained agent next to every baseline and the optimal-policy bound.

The agent runs deterministically on seeds 0..N-1 (the seeds ``tinysim compare`` uses, never used in
training) with the env settings it was trained with; the table, ``--json`` rows, ``--csv`` and ``--plot``
are those of ``tinysim compare``, with the agent's row (``agent-<algo>``) just above the bound and its
model usage over time in the plot.

Several scenarios (``--scenarios A,B,C`` or a repeated ``--scenario``; built-in names or YAML paths) give
one table per scenario, each with the agent, the baselines and the bound on that scenario: how an agent
trained on one scenario (or on a ``randomize:`` family of them) does on held-out combinations. Each must be
a concrete scenario (no ``randomize:``), so that the baselines and the agent see the same episodes. With
several scenarios ``--json`` prints ``[{"scenario": name, "rows": [...]}, ...]``, ``--csv`` writes every
row into one file (the ``scenario`` column tells them apart) and ``--plot eval.png`` writes
``eval-<scenario>.png`` per scenario.

Loading: the agent is read from its safe-format pair (``best_model.safetensors`` and
``best_model.agent.json`` beside ``best_model.zip``; ``tinysim train`` writes them beside every model),
which holds numbers and a validated description and cannot run code. A ``.zip`` without that pair is an
SB3 pickle: loading it runs whatever code it names, so it is refused unless ``--trust-pickle`` is given.

Examples::

    tinysim evaluate --agent runs/usps-l476-async-horizon/ppo_1/best_model.zip --seeds 5 --plot eval.png
    tinysim evaluate --agent runs/solar-l476-async-horizon/ppo_1 --scenario solar-l476-async-horizon \
        --scenario usps-l476-async-horizon
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tinysim_gym.atomic import safe_file_name
from tinysim_gym.cli.common import dumps
from tinysim_gym.errors import TinySimError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = sub.add_parser("evaluate", help="compare a trained agent with the baselines and the bound",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agent", required=True, metavar="MODEL",
                   help="a model saved by tinysim train: its run dir, .zip, .agent.json or .safetensors")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a .zip without its safe-format pair: SB3 unpickles it, which runs any code the "
                        "file names (only for files you trust)")
    p.add_argument("--scenario", action="append", metavar="SCENARIO",
                   help="scenario to evaluate on (repeatable; default: the agent's training scenario)")
    p.add_argument("--scenarios", metavar="A,B,C",
                   help="comma-separated scenarios to evaluate on, one table each (held-out combinations)")
    p.add_argument("--seeds", type=int, default=5, metavar="N", help="episodes on seeds 0..N-1 (default 5)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--csv", metavar="FILE", help="write the rows as CSV")
    p.add_argument("--plot", metavar="FILE", help="write the trade-off and model-usage PNG")
    p.add_argument("--no-baselines", action="store_true", help="only the agent and the bound")
    p.add_argument("--processes", type=int, metavar="P", help="worker processes for the baselines")
    p.add_argument("--oracle", action="store_true",
                   help="add the DP oracle's row and the certified gap under the table (see tinysim compare)")
    p.add_argument("--selector-cost", metavar="DIR",
                   help="an export directory (tinysim export; make firmware measures it): every row is charged its "
                        "time per decision (and so its charge, at the board's inference current) in place of the "
                        "profile's selector_latency_ms")
    p.add_argument("--clock-mhz", type=float, default=80.0,
                   help="core clock for --selector-cost when the export was not measured by make firmware")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the table (or JSON)."""
    from agents.evaluation import MAX_SEEDS, evaluate_agent
    from agents.loading import load_agent
    from tinysim_gym.experiments.plots import write_plots
    from tinysim_gym.experiments.table import format_table, rows_json, write_csv

    if not 1 <= args.seeds <= MAX_SEEDS:
        raise TinySimError(f"--seeds: expected a count in 1..{MAX_SEEDS}, got {args.seeds}")
    if args.processes is not None and args.processes < 1:
        raise TinySimError(f"--processes: expected a count >= 1, got {args.processes}")
    scenarios: list[str | None] = list(args.scenario or [])
    if args.scenarios is not None:
        names = [n.strip() for n in args.scenarios.split(",")]
        if not all(names):
            raise TinySimError(f"--scenarios: expected comma-separated scenario names or paths, got {args.scenarios!r}")
        scenarios.extend(names)
    if not scenarios:
        scenarios = [None]
    agent = load_agent(args.agent, trust_pickle=args.trust_pickle)
    if args.selector_cost is not None:
        scenarios = _charged(scenarios, agent.run["scenario_config"], args.selector_cost, args.clock_mhz)
    tables = [evaluate_agent(agent, scenario=sc, seeds=args.seeds, baselines=not args.no_baselines,
                             processes=args.processes, progress=not args.json, oracle=args.oracle)
              for sc in scenarios]
    several = len(tables) > 1
    if args.csv:
        write_csv([row for rows in tables for row in rows], args.csv)
    plots: list[str] = []
    if args.plot:
        for rows in tables:
            name = rows.scenario.name if rows.scenario else ""
            path = Path(args.plot)
            if several:
                path = path.with_name(f"{path.stem}-{_slug(name)}{path.suffix or '.png'}")
            write_plots(rows, path, policy=agent.label, title=f"{name}: {agent.label} ({agent.path})")
            plots.append(str(path))
    if args.json:
        if several:
            print(dumps([{"scenario": rows.scenario.name if rows.scenario else None, "rows": rows_json(rows)}
                         for rows in tables]))
        else:
            print(dumps(rows_json(tables[0])))
    else:
        for i, rows in enumerate(tables):
            if several:
                print(("\n" if i else "") + f"scenario: {rows.scenario.name if rows.scenario else '?'}")
            print(format_table(rows))
        if args.csv:
            print(f"csv: {args.csv}")
        for path in plots:
            print(f"plot: {path}")
    return 0


def _charged(scenarios: list[Any], training: Any, export_dir: str, clock_mhz: float) -> list[Any]:
    """The scenarios with the export's time per decision as the profile's selector latency."""
    from tinysim_gym.config import load_scenario
    from tinysim_gym.export.firmware import with_selector_cost

    if not 1.0 <= clock_mhz <= 10_000.0:
        raise TinySimError(f"--clock-mhz: expected a clock in 1..10000 MHz, got {clock_mhz}")
    return [with_selector_cost(load_scenario(ref if ref is not None else training), export_dir, clock_mhz)
            for ref in scenarios]


def _slug(name: str) -> str:
    """A file-name-safe form of a scenario name."""
    return safe_file_name(name, "scenario")
