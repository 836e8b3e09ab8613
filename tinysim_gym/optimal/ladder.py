"""The optimality ladder of a scenario: upper bounds above, the oracle's achieved value below.

``lp`` (the fluid bound, :mod:`tinysim_gym.optimal.lp`) and ``hindsight`` (the mean over the seeds of the
per-seed offline optimum, :mod:`tinysim_gym.optimal.hindsight`) bound every causal policy from above;
``upper`` is the smaller. ``oracle`` is the mean weighted accuracy the DP oracle reaches in the real
engine on the same seeds: achievable, so a lower bound on the optimum. The optimum lies in
``[oracle, upper]`` and ``certified_gap = upper - oracle`` is how far from optimal the oracle may be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.optimal.hindsight import hindsight_seed
from tinysim_gym.optimal.lp import bound
from tinysim_gym.optimal.offline_fifo import MAX_STATES
from tinysim_gym.optimal.oracle import solve
from tinysim_gym.optimal.penalty_fit import penalised_bound, sample_bound
from tinysim_gym.optimal.selector import OracleSelector


def certificate(scenario: ScenarioConfig, seeds: Sequence[int], oracle: float,
                hindsight: bool = True, max_states: int = MAX_STATES) -> dict[str, Any]:
    """The upper rungs over ``seeds`` and the gap they certify for an oracle mean of ``oracle`` (%).

    Args:
        scenario: the scenario.
        seeds: episode seeds of the hindsight bound (the oracle's seeds).
        oracle: the oracle's mean weighted accuracy over those seeds (%).
        hindsight: False leaves the offline bound out (``upper`` is then the LP): it costs seconds per seed.
        max_states: the most exact FIFO states per seed under a deadline (:func:`hindsight_seed`).

    Returns:
        ``lp``, ``hindsight`` (None until depletion or when left out), ``oracle``, ``upper = min(lp, hindsight)`` and
        ``certified_gap = upper - oracle``.
    """
    lp = float(bound(scenario).weighted_accuracy)
    per_seed = [hindsight_seed(scenario, s, max_states=max_states) for s in seeds] if hindsight else [None]
    hind = None if any(v is None for v in per_seed) else float(np.mean([v for v in per_seed if v is not None]))
    upper = lp if hind is None else min(lp, hind)
    return {"lp": lp, "hindsight": hind, "oracle": oracle, "upper": upper, "certified_gap": upper - oracle}


def dual_rungs(scenario: ScenarioConfig, seeds: Sequence[int], oracle_runs: Sequence[float], lp: float,
               penalty: np.ndarray, max_states: int = MAX_STATES,
               on_seed: Callable[[int, float], None] | None = None) -> dict[str, float]:
    """The penalised hindsight bound over ``seeds`` and the gap it certifies, each with its standard error.

    An upper bound in the mean only (:mod:`tinysim_gym.optimal.dual_penalty`): valid when ``penalty`` was chosen
    without these seeds. ``on_seed`` as :func:`~tinysim_gym.optimal.penalty_fit.penalised_bound`.

    Returns:
        ``dual`` (the mean penalised bound), ``dual_se``, ``dual_certified_gap = min(lp, dual) - oracle`` and
        ``dual_certified_gap_se`` (the standard error of the paired per-seed differences with the oracle).
    """
    dual = penalised_bound(scenario, seeds, penalty, max_states, on_seed)
    gap = sample_bound(np.asarray(dual.per_seed) - np.asarray(oracle_runs, dtype=np.float64))
    return {"dual": dual.mean, "dual_se": dual.stderr,
            "dual_certified_gap": min(lp, dual.mean) - float(np.mean(oracle_runs)), "dual_certified_gap_se": gap.stderr}


def ladder(scenario: ScenarioConfig | str, seeds: Sequence[int], observed: bool = True,
           hindsight: bool = True, penalty: np.ndarray | None = None) -> dict[str, Any]:
    """The ladder of ``scenario`` over ``seeds``, as weighted accuracy %.

    Args:
        scenario: a config, or a built-in name / path.
        seeds: episode seeds (the same for the oracle and the hindsight bound).
        observed: also run the oracle restricted to the agent's observation (``oracle_observed``).
        hindsight: also solve the hindsight bound (an offline DP over every tick of each seed: the slow
            rung); without it ``hindsight`` is None and ``upper`` is the LP bound.
        penalty: an information-relaxation table chosen without ``seeds``: adds the keys of :func:`dual_rungs`.

    Returns:
        ``lp``, ``hindsight`` (None until depletion), ``oracle``, ``upper``, ``certified_gap``, plus
        ``oracle_observed`` (or None), ``oracle_runs`` (the oracle's weighted accuracy per seed), ``seeds`` and
        ``solve_s`` (the DP's solve time; 0 from the cache).
    """
    sc = load_scenario(scenario) if not isinstance(scenario, ScenarioConfig) else scenario
    sol = solve(sc)
    runs = [Engine(sc, chunk=1 << 16).run(OracleSelector(solution=sol), seed=s)["weighted_accuracy"] for s in seeds]
    obs = None
    if observed:
        obs = float(np.mean([Engine(sc, chunk=1 << 16).run(OracleSelector(True, sol), seed=s)["weighted_accuracy"]
                             for s in seeds]))
    out = certificate(sc, seeds, float(np.mean(runs)), hindsight) | {
        "oracle_observed": obs,
        "oracle_runs": [float(r) for r in runs],
        "seeds": list(seeds),
        "solve_s": 0.0 if sol.stats.get("cached") else float(sol.stats["solve_s"]),
    }
    if penalty is not None:
        out |= dual_rungs(sc, seeds, runs, out["lp"], penalty)
    return out
