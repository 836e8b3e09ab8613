"""Queue-aware greedy: the most accurate model that still finishes before the buffer overflows."""

from __future__ import annotations

import math

import numpy as np

from baselines.base import Facts, check_number
from baselines.fast import CompiledForm, compiled_loop
from tinysim_gym.core.jit import njit
from tinysim_gym.core.view import DecisionView


@njit(cache=True)
def _pick(t, r, q, params, mem):  # one signature for every decision function
    """params: ``[buffer, gap, safety, m, order (m, most accurate first), ticks (m), fallback]``."""
    m = int(params[3])
    room = params[0] - q
    per_tick = params[2] / params[1]
    for i in range(m):
        if params[4 + m + i] * per_tick <= room:
            return int(params[4 + i])
    return int(params[4 + 2 * m])


class QueueGreedy:
    """Serve each sample with the most accurate model whose inference ends before the buffer overflows.

    With ``q`` samples waiting, a buffer of ``B`` and a mean gap of ``g`` ticks between arrivals, model ``k``
    (``L_k`` ticks) is acceptable when ``q + safety * L_k / g <= B``: the samples arriving meanwhile still
    fit. The backlog is highest right after that inference, so as long as the fastest model is quicker
    than the arrivals the buffer then drains. When no model fits, the fastest serves. It ignores the
    battery entirely (compare it with ``budget``).

    Args:
        safety: multiplier on the expected arrivals during an inference, 0..100 (default 1; larger is more
            careful with bursty arrivals).
    """

    name = "queue-greedy"

    def __init__(self, safety: float = 1.0) -> None:
        self.safety = check_number("safety", safety, 0.0, 100.0)
        self._params = np.zeros(0)
        self._mem = np.zeros(1)

    def reset(self, view: DecisionView) -> None:
        """Order the models by accuracy and note the arrival rate."""
        f = Facts.of(view)
        order, fallback = f.by_accuracy(), f.fastest()
        gap = f.gap if math.isfinite(f.gap) else f.min_gap
        self._params = np.array(
            [f.buffer, gap, self.safety, len(order), *order, *f.ticks[order], fallback], dtype=np.float64
        )

    def select(self, view: DecisionView) -> int:
        """The most accurate model that fits the buffer's room."""
        return int(_pick(view.tick, view.remaining_mah, view.queue, self._params, self._mem))

    def loop(self, view: DecisionView) -> CompiledForm:
        """Compiled form for ``Engine.run``."""
        return compiled_loop(_pick), self._params, self._mem
