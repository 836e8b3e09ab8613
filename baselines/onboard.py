"""The heuristics that run on the device itself, as the parameters their C form needs.

Each of these heuristics decides through one compiled ``pick(tick, remaining_mah, queue, params, mem)``
whose ``params`` its ``reset`` computes for a scenario; :func:`heuristic_form` runs that reset and hands
the parameters to :mod:`tinysim_gym.export.heuristics`, which writes the same function in C.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from baselines import make
from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import TinySimError
from tinysim_gym.export.heuristics import NAMES, HeuristicPolicy
from tinysim_gym.export.verify import DECIDE_RECORD


def heuristic_form(name: str, scenario: ScenarioConfig | str, **params: Any) -> HeuristicPolicy:
    """The C-exportable form of the heuristic ``name`` on ``scenario``.

    Raises:
        TinySimError: a heuristic without an on-device form (one line naming those that have one).
    """
    if name not in NAMES:
        raise TinySimError(f"--policy: {name!r} has no on-device form (allowed: {', '.join(NAMES)})")
    sc = load_scenario(scenario) if not isinstance(scenario, ScenarioConfig) else scenario
    eng = Engine(sc)
    if not eng.reset(seed=0):
        raise TinySimError(f"scenario {sc.name!r}: the episode ends before the first decision")
    sel = make(name, **params)
    sel.reset(eng)
    _, p, _ = sel.loop(eng)
    return HeuristicPolicy(name, np.asarray(p, dtype=np.float64).copy())


def decisions(name: str, scenario: ScenarioConfig, seeds: Sequence[int],
              **params: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(tick, remaining_mah, queue)`` at every decision of the Python heuristic (with ``params``), and its choices.

    Each episode starts with a reset marker (tick -1, action -1): the records
    :meth:`tinysim_gym.export.verify.HostBuild.decide` reads.
    """
    sel = make(name, **params)
    rows: list[tuple[int, float, int]] = []
    actions: list[int] = []
    for seed in seeds:
        eng = Engine(scenario)
        eng.reset(seed=int(seed))
        sel.reset(eng)
        rows.append((-1, 0.0, 0))
        actions.append(-1)
        while eng.decision_pending:
            k = sel.select(eng)
            rows.append((eng.tick, eng.remaining_mah, eng.queue))
            actions.append(k)
            eng.step(k)
    return np.array(rows, dtype=DECIDE_RECORD), np.array(actions, dtype=np.int64)
