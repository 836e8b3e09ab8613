"""Heuristic selection policies: one small class per heuristic, usable by the engine and as SB3 policies.

``names()`` lists the baselines; ``make(name, target, **params)`` builds one as a
:class:`~baselines.policy.BaselinePolicy` (a selector for ``Engine.run`` / :func:`run_episode`, and an
SB3-style ``predict`` policy for the env it is given). :func:`run_episode` runs a whole episode on the
fastest path the baseline supports.

Adding a heuristic: a new module with its class, and one line in ``_REGISTRY``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any

from baselines.budget import BudgetTracker
from baselines.deadline import DeadlineGreedy
from baselines.energy import EnergyMinimising
from baselines.ladder import BatteryLadder
from baselines.original import AccuracyFirst, FuzzySelector, LatencyFirst, StaticSelector
from baselines.policy import BaselinePolicy, engines_of
from baselines.queue_greedy import QueueGreedy
from baselines.ratio import AccuracyPerLatency
from baselines.seeded_random import SeededRandom
from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.core.engine import run as run_episode
from tinysim_gym.errors import TinySimError
from tinysim_gym.optimal.selector import OracleSelector

__all__ = ["BaselinePolicy", "describe", "make", "names", "run_episode"]

# name -> (factory, fixed parameters, one-line description)
_REGISTRY: dict[str, tuple[Callable[..., Any], dict[str, Any], str]] = {
    "reference": (StaticSelector, {}, "always one model (index, default 0: the original's reference)"),
    "accuracy-first": (AccuracyFirst, {}, "always the most accurate model"),
    "latency-first": (LatencyFirst, {}, "always the fastest model"),
    "random": (SeededRandom, {}, "uniform over the models (legacy NumPy generator, seed 1)"),
    "fuzzy": (FuzzySelector, {}, "the original's Sugeno rule base over battery and queue (variant)"),
    "ladder": (BatteryLadder, {}, "step down models at state-of-charge thresholds (thresholds, models)"),
    "ratio": (AccuracyPerLatency, {}, "best accuracy / latency**alpha (alpha)"),
    "energy": (EnergyMinimising, {}, "least charge per correct answer (min_accuracy)"),
    "queue-greedy": (QueueGreedy, {}, "most accurate model that finishes before the buffer overflows (safety)"),
    "budget": (BudgetTracker, {}, "paces charge and busy time to follow the bound's optimal mixture (window)"),
    "deadline": (DeadlineGreedy, {}, "most accurate model that meets the sample's deadline, else skip it"),
}
# Policies that solve the scenario first (seconds to a minute, cached on disk): accepted by name everywhere,
# but not run by default in compare, which would otherwise solve every scenario it is shown.
_SOLVED: dict[str, tuple[Callable[..., Any], dict[str, Any], str]] = {
    "oracle": (OracleSelector, {}, "greedy on the DP solution of the scenario (may use hidden workload state)"),
    "oracle-observed": (OracleSelector, {"observed": True}, "the oracle restricted to what an agent observes"),
}
_ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "static": ("reference", {}),
    "fuzzy-tova": ("fuzzy", {"variant": "tova"}),
    "fuzzy-stream": ("fuzzy", {"variant": "stream"}),
    "budget-round": ("budget", {"dither": False}),
}


def names(aliases: bool = False) -> list[str]:
    """The heuristics' names, in table order (``aliases=True``: every accepted name, with the aliases and oracles)."""
    return list(_REGISTRY) + (list(_ALIASES) + list(_SOLVED) if aliases else [])


def describe() -> dict[str, str]:
    """Name -> one-line description (with its parameters in brackets)."""
    return {k: v[2] for k, v in _REGISTRY.items()}


def _allowed_params(factory: Callable[..., Any]) -> list[str]:
    return [p for p in inspect.signature(factory).parameters if p != "self"]


def _view(target: Any) -> Engine | None:
    """An engine to validate parameters against (None when there is no target)."""
    if target is None:
        return None
    if isinstance(target, Engine):
        return target
    if isinstance(target, ScenarioConfig | str):
        return Engine(load_scenario(target), chunk=1)
    return engines_of(target)[0]


def make(name: str, target: Any = None, **params: Any) -> BaselinePolicy:
    """Build a baseline by name.

    Args:
        name: one of :func:`names` (or an alias: static, fuzzy-tova, fuzzy-stream, budget-round).
        target: the env (``TinySimEnv``, a DummyVecEnv of them), engine or scenario it will serve; the
            parameters are checked against its model set, and ``predict`` answers that env's decisions.
        **params: the heuristic's parameters (see :func:`describe`).

    Returns:
        A :class:`BaselinePolicy`: ``select``/``reset`` for the engine, ``predict`` for SB3.

    Raises:
        TinySimError: unknown name or parameter, or a bad value (one line, listing what is allowed).
    """
    if not isinstance(name, str) or (name not in _REGISTRY and name not in _ALIASES and name not in _SOLVED):
        known = names(aliases=True)
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise TinySimError(f"selector: unknown baseline {name!r}{hint} (allowed: {', '.join(known)})")
    base, fixed = _ALIASES.get(name, (name, {}))
    factory, defaults, _ = _REGISTRY[base] if base in _REGISTRY else _SOLVED[base]
    allowed = [p for p in _allowed_params(factory) if p != "solution"]  # a solution is passed in code, not by name
    kwargs = {**defaults, **fixed, **params}
    unknown = [k for k in kwargs if k not in allowed]
    if unknown:
        what = ", ".join(allowed) if allowed else "none"
        raise TinySimError(f"{name}: unknown parameter {unknown[0]!r} (allowed: {what})")
    try:
        selector = factory(**kwargs)
    except TinySimError as exc:
        raise TinySimError(f"{name}: {exc}") from None
    view = _view(target)
    if view is not None and hasattr(selector, "reset"):
        try:
            selector.reset(view)
        except TinySimError as exc:
            raise TinySimError(f"{name}: {exc}") from None
    env = None if target is None or isinstance(target, ScenarioConfig | str) else target
    return BaselinePolicy(selector, env, name=name)
