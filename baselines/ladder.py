"""Battery-threshold ladder: the lower the state of charge, the cheaper the model.

The state of charge (in %, as the original's selectors see it) is compared with descending thresholds;
each band between two thresholds is a rung of the ladder with its own model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from baselines.base import Facts, check_index, check_number, check_sequence
from baselines.fast import CompiledForm, compiled_loop
from tinysim_gym.core.jit import njit
from tinysim_gym.core.view import DecisionView
from tinysim_gym.errors import TinySimError


@njit(cache=True)
def _pick(t, r, q, params, mem):  # one signature for every decision function
    """params: ``[capacity, m, thresholds (m, descending), models (m + 1)]``."""
    soc = 100.0 * r / params[0]
    m = int(params[1])
    rung = 0
    while rung < m and soc < params[2 + rung]:
        rung += 1
    return int(params[2 + m + rung])


class BatteryLadder:
    """Step down a ladder of models as the battery drains.

    Args:
        thresholds: state-of-charge thresholds in %, each in 0..100, strictly descending (default
            75, 50, 25). At or above ``thresholds[0]`` the first rung's model serves; below the last, the
            last rung's.
        models: one model index per rung (``len(thresholds) + 1``). Default: rungs spread evenly over the
            accuracy/latency Pareto front, from the most accurate model down to the fastest.
    """

    name = "ladder"

    def __init__(self, thresholds: Any = (75.0, 50.0, 25.0), models: Any = None) -> None:
        thr = [check_number("thresholds", x, 0.0, 100.0) for x in check_sequence("thresholds", thresholds)]
        if not thr:
            raise TinySimError("thresholds: give at least one threshold in 0..100")
        if any(a <= b for a, b in zip(thr, thr[1:], strict=False)):
            raise TinySimError(f"thresholds: must be strictly descending values in 0..100, got {thr}")
        self.thresholds = thr
        self.models = None if models is None else check_sequence("models", models)
        if self.models is not None and len(self.models) != len(thr) + 1:
            raise TinySimError(
                f"models: need one model per rung, {len(thr) + 1} for {len(thr)} thresholds, got {len(self.models)}"
            )
        self._params = np.zeros(0)
        self._mem = np.zeros(1)

    def reset(self, view: DecisionView) -> None:
        """Resolve the rungs' models for the scenario."""
        f = Facts.of(view)
        if self.models is None:
            front = f.pareto_front()
            m = len(self.thresholds) + 1
            pos = np.round(np.linspace(0, len(front) - 1, m)).astype(int)
            rungs = [front[i] for i in pos]
        else:
            rungs = [check_index("models", k, f.n) for k in self.models]
        self.rungs = rungs
        self._params = np.array([f.capacity, len(self.thresholds), *self.thresholds, *rungs], dtype=np.float64)

    def select(self, view: DecisionView) -> int:
        """The model of the rung the state of charge falls on."""
        return int(_pick(view.tick, view.remaining_mah, view.queue, self._params, self._mem))

    def loop(self, view: DecisionView) -> CompiledForm:
        """Compiled form for ``Engine.run``."""
        return compiled_loop(_pick), self._params, self._mem
