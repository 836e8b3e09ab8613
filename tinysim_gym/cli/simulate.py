"""``tinysim simulate``: run one scenario with one selector and print its figures.

Also accepts the original TinySimulator's spelling, which implies ``--seed-compat`` and a 100 mAh battery::

    tinysim simulate --use_tqdm 1 --dataset usps_tova --mode async --min_interval 3 --reference 1 \
        --board NUCLEO-L476RG
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tinysim_gym.cli.common import add_scenario_args, dumps, parse_params, progress_bar, scenario_from_args
from tinysim_gym.errors import TinySimError

if TYPE_CHECKING:
    from baselines import BaselinePolicy
    from tinysim_gym.core.engine import Engine

DEFAULTS: dict[str, Any] = {
    "name": "cli",
    "board": "NUCLEO-L476RG",
    "profile": "usps_tova",
    "workload": {"mode": "async", "min_interval_ms": 3.0},
    "battery": {"capacity_mah": 1.0},
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = sub.add_parser("simulate", help="run one scenario with one selector", description=__doc__)
    add_scenario_args(p)
    p.add_argument("--selector", help="selector name (tinysim compare lists them); default: the scenario's")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="selector parameter (repeatable)")
    p.add_argument("--seed", type=_seed, default=0, help="episode seed, >= 0 (default mode; default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    # the original's spelling
    p.add_argument("--use_tqdm", type=int, choices=(0, 1), help=argparse.SUPPRESS)
    p.add_argument("--reference", type=int, choices=(0, 1), help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _seed(text: str) -> int:
    """An argparse type: a non-negative integer seed."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: expected an integer >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: expected an integer >= 0")
    return value


def make_selector(name: str, engine: Engine, params: dict[str, Any]) -> BaselinePolicy:
    """Build a selector by name (or alias, e.g. ``fuzzy-tova``) for ``engine``, through the registry."""
    import baselines  # here, not at the top: ``tinysim --help`` builds every parser and must start fast

    try:
        return baselines.make(name, engine, **params)
    except TinySimError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # a selector that does not check its parameters
        shown = " ".join(str(exc).split())[:200]
        raise TinySimError(f"--param: selector {name!r} rejected its parameters {params!r}: {shown}") from None


def run(args: argparse.Namespace) -> int:
    """Run the simulation and print the figures."""
    original = args.use_tqdm is not None or args.reference is not None
    defaults = dict(DEFAULTS)
    if original:
        defaults["battery"] = {"capacity_mah": 100.0}
        args.seed_compat = True
    scenario = scenario_from_args(args, defaults)
    name = args.selector
    if args.reference is not None and name is None:
        name = "reference" if args.reference == 1 else "fuzzy"
    name = name or scenario.selector or "reference"
    params = {**(scenario.selector_params if name == scenario.selector else {}), **parse_params(args.param)}
    from tinysim_gym.core.engine import Engine

    engine = Engine(scenario, chunk=1 << 16)
    selector = make_selector(name, engine, params)
    update, close = progress_bar(desc=f"{scenario.name}/{name}")
    try:
        metrics = engine.run(selector, seed=args.seed, progress=update)
    finally:
        close()
    out = {"selector": name, **metrics}
    if args.json:
        print(dumps(out))
    else:
        print(format_metrics(out))
    return 0


def format_metrics(m: dict[str, Any]) -> str:
    """A readable two-column table of one run's figures."""
    rows = [
        ("scenario", m["scenario"]),
        ("selector", m["selector"]),
        ("mode", "seed-compatible" if m["seed_compat"] else f"default (seed {m['seed']})"),
        ("end", m["end_reason"]),
        ("operating time", f"{m['operating_time_ms']:.2f} ms"),
        ("arrivals", f"{m['arrivals']}"),
        ("inferences", f"{m['inferences']}"),
        ("dropped", f"{m['dropped']}"),
        ("buffered at end", f"{m['buffered_at_end']}"),
        ("weighted accuracy", f"{m['weighted_accuracy']:.4f} %"),
        ("energy", f"{m['energy_mah']:.6f} mAh"),
    ]
    counts = ", ".join(f"{k}:{v}" for k, v in m["model_counts"].items() if v)
    rows.append(("model use", counts or "-"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

