"""``tinysim bound``: the best weighted accuracy any policy can reach, and the model mixture that reaches it."""

from __future__ import annotations

import argparse
from typing import Any

from tinysim_gym.cli.common import add_scenario_args, dumps, scenario_from_args
from tinysim_gym.errors import TinySimError


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    p = sub.add_parser("bound", help="the optimal-policy bound (LP) of a scenario", description=__doc__)
    add_scenario_args(p, default_scenario="usps-l476-async-horizon")
    p.add_argument("--seeds", type=int, metavar="N",
                   help="also solve the DP oracle and the hindsight bound over seeds 0..N-1 (1..1000) and report "
                        "lp, hindsight, oracle, upper and certified_gap")
    p.add_argument("--first-seed", type=int, default=0, metavar="S",
                   help="with --seeds: solve seeds S..S+N-1 instead (0..1000000; default 0), e.g. 1000 for seeds "
                        "apart from those a penalty table was fitted on")
    p.add_argument("--penalty", metavar="FILE",
                   help="with --seeds: an information-relaxation table (JSON, docs/optimal.md) chosen without the "
                        "measured seeds (refused when its fit_seeds overlap them); adds dual, dual_se, "
                        "dual_certified_gap and dual_certified_gap_se")
    p.add_argument("--json", action="store_true", help="print one JSON object (weighted_accuracy, mixture, ...)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Solve the LP and print the bound."""
    # imported here: ``tinysim --help`` builds every subcommand's parser and must not load them
    from tinysim_gym.optimal.lp import bound

    if args.seeds is not None and not 1 <= args.seeds <= 1000:
        raise TinySimError(f"--seeds: expected 1..1000, got {args.seeds}")
    if args.penalty is not None and args.seeds is None:
        raise TinySimError("--penalty: needs --seeds (the penalised bound is a mean over seeds)")
    if not 0 <= args.first_seed <= 1_000_000:
        raise TinySimError(f"--first-seed: expected 0..1000000, got {args.first_seed}")
    scenario = scenario_from_args(args)
    seeds = range(args.first_seed, args.first_seed + (args.seeds or 0))
    penalty = None
    if args.penalty is not None:
        from tinysim_gym.optimal.penalty_fit import read_penalty_file

        penalty, fit_seeds = read_penalty_file(args.penalty, scenario)
        shared = sorted(set(fit_seeds or ()) & set(seeds))
        if shared:  # a table chosen on the measured seeds makes the mean biased low: no bound at all
            raise TinySimError(f"--penalty: {args.penalty} was fitted on seeds {shared[0]}..{shared[-1]} among those "
                               f"measured ({seeds.start}..{seeds.stop - 1}); choose others with --first-seed")
    result = bound(scenario)
    rungs: dict[str, Any] = {}
    if args.seeds is not None:
        from tinysim_gym.optimal.ladder import ladder

        rungs = ladder(scenario, seeds, penalty=penalty)
    if args.json:
        print(dumps({**result.to_dict(), **rungs}))
        return 0
    print(f"scenario           {result.scenario} ({result.episode})")
    print(f"bound              {result.weighted_accuracy:.4f} % weighted accuracy")
    print(f"kind               {result.note}")
    print(f"binding            {', '.join(result.binding) or '-'}")
    mix = ", ".join(f"{k}: {v:.4f}" for k, v in result.mixture.items() if v > 1e-9)
    print(f"optimal mixture    {mix} (fraction of arrivals per model)")
    print(f"dropped fraction   {result.dropped_fraction:.4f}")
    print(f"operating time     {result.operating_time_ms:.1f} ms")
    if rungs:
        def pct(v: float | None) -> str:
            return "-" if v is None else f"{v:.4f} %"

        print(f"hindsight          {pct(rungs['hindsight'])} (mean offline optimum over seeds "
              f"{seeds.start}..{seeds.stop - 1})")
        print(f"oracle             {pct(rungs['oracle'])} (DP oracle in the engine: achievable)")
        print(f"upper              {pct(rungs['upper'])} (min of lp and hindsight)")
        print(f"certified gap      {rungs['certified_gap']:.4f} points (upper - oracle)")
        if penalty is not None:
            print(f"penalised bound    {rungs['dual']:.4f} ± {rungs['dual_se']:.4f} % (an upper bound in the mean)")
            print(f"its certified gap  {rungs['dual_certified_gap']:.4f} ± {rungs['dual_certified_gap_se']:.4f} points "
                  "(min(lp, dual) - oracle)")
    return 0
