"""Helpers shared by the subcommands: scenario flags, parameters, JSON output, progress bars.

``atomic_path`` (from :mod:`tinysim_gym.atomic`) and ``dumps`` (from :mod:`tinysim_gym.experiments.table`)
are re-exported for the subcommands.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinysim_gym.atomic import atomic_path
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.table import dumps
from tinysim_gym.progress import Progress

if TYPE_CHECKING:
    from tinysim_gym.config import ScenarioConfig

__all__ = [
    "atomic_path", "add_scenario_args", "add_pool_args", "scenario_from_args", "parse_params", "dumps", "progress_bar",
]


def add_scenario_args(p: argparse.ArgumentParser, default_scenario: str | None = None) -> None:
    """Flags that pick a scenario and override its fields."""
    p.add_argument("--scenario", default=default_scenario, help="built-in scenario name or YAML path")
    p.add_argument("--board", help="built-in board name or path (YAML or the original JSON)")
    p.add_argument("--profile", "--dataset", dest="profile", help="built-in model set name or path")
    p.add_argument("--mode", choices=("sync", "async"), help="workload mode")
    p.add_argument("--min-interval", "--min_interval", dest="min_interval", type=float, metavar="MS")
    p.add_argument("--arrival-probability", type=float, metavar="P")
    p.add_argument("--buffer-size", type=int)
    p.add_argument("--battery-mah", type=float, metavar="MAH")
    p.add_argument("--horizon-ms", type=float, metavar="MS")
    p.add_argument("--seed-compat", action="store_true", default=None, help="the original's exact arithmetic")


def add_pool_args(p: argparse.ArgumentParser, processes_help: str = "worker processes") -> None:
    """``--backend local|ray`` and ``--processes N``: where a command's independent jobs run."""
    p.add_argument("--backend", default="local", choices=("local", "ray"), help="local processes or Ray")
    p.add_argument("--processes", type=int, metavar="N", help=f"{processes_help} (default: all CPUs)")


def scenario_from_args(args: argparse.Namespace, defaults: dict[str, Any] | None = None) -> ScenarioConfig:
    """Build the scenario named by ``--scenario`` (or ``defaults``) with the flags as overrides."""
    from tinysim_gym.config import load_scenario  # pydantic: only for commands that load a scenario

    base: Any = args.scenario
    if base is None:
        base = dict(defaults or {})
    over: dict[str, Any] = {
        "board": args.board,
        "profile": args.profile,
        "workload": {
            "mode": args.mode,
            "min_interval_ms": args.min_interval,
            "arrival_probability": args.arrival_probability,
            "buffer_size": args.buffer_size,
        },
        "battery": {"capacity_mah": args.battery_mah},
        "horizon_ms": args.horizon_ms,
        "seed_compat": args.seed_compat,
    }
    over["workload"] = {k: v for k, v in over["workload"].items() if v is not None}
    over["battery"] = {k: v for k, v in over["battery"].items() if v is not None}
    over = {k: v for k, v in over.items() if v not in (None, {})}
    return load_scenario(base, **over)


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """Turn ``["k=v", ...]`` into a dict, values parsed as JSON where they parse (numbers, lists)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise TinySimError(f"--param: expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def progress_bar(total: float = 1.0, desc: str = "") -> tuple[Callable[[float], None], Callable[[], None]]:
    """A bar on stderr for work measured as a fraction of ``total``, shown only past a second; (update, close)."""
    bar = Progress(desc, total=100, unit="%", delay=1.0)

    def update(fraction: float) -> None:
        bar.update(round(100 * min(max(fraction / total, 0.0), 1.0), 1))

    return update, bar.close
