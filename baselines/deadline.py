"""Deadline-aware greedy: the most accurate model that still meets the sample's deadline, else skip it.

A sample served after its deadline earns nothing but costs a whole inference and delays every sample
behind it. This heuristic reads the waiting sample's age, serves it with the most accurate model that
finishes in time and leaves the next buffered sample able to finish in time with the fastest model, and
discards it (the skip action, with ``allow_skip``) when no model can meet its deadline. Without a skip
action such a sample is served by the fastest model, which frees the chip soonest.
"""

from __future__ import annotations

import numpy as np

from baselines.base import Facts
from baselines.fast import CompiledForm
from tinysim_gym.core import kernels as K
from tinysim_gym.core.jit import njit
from tinysim_gym.core.view import DecisionView

_NO_SAMPLE = 1 << 62  # arrival tick of the "next sample" when the buffer is empty: always in time


@njit(cache=True)
def _pick(t, head, nxt, params):
    """params: ``[deadline, skip (-1: none), m, order (m, most accurate first), ticks (m), fastest]``.

    ``head`` and ``nxt`` are the arrival ticks of the waiting sample and of the next buffered one.
    """
    deadline, skip, m = params[0], int(params[1]), int(params[2])
    fastest = int(params[3 + 2 * m])
    if deadline < 0:  # no deadline: nothing is ever late
        return int(params[3])
    quick = params[3 + m + np.argmin(params[3 + m : 3 + 2 * m])]
    in_time = -1
    for i in range(m):
        end = t + params[3 + m + i]
        if end - head <= deadline:
            if end + quick - nxt <= deadline:
                return int(params[3 + i])  # in time, and the next sample can still be in time
            if in_time < 0 or params[3 + m + i] < params[3 + m + in_time]:
                in_time = i  # in time for this one only: keep the quickest such model
    if in_time >= 0:
        return int(params[3 + in_time])
    return skip if skip >= 0 else fastest


@njit(cache=True, inline="always")
def _next_arrival(ST, PI):
    """Arrival tick of the first sample in the buffer (behind the one being decided on)."""
    if ST[K.S_Q] == 0:
        return _NO_SAMPLE
    return ST[K.S_COUNTS + 2 * PI[K.I_N] + ST[K.S_QHEAD]]


@njit(cache=True)
def _loop(ST, FS, PI, PF, arr, params, mem):  # the kernels' array names
    """Run the engine, answering each decision with :func:`_pick`."""
    while True:
        status = K.advance(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status
        K.apply(ST, FS, PI, PF, _pick(ST[K.S_T], ST[K.S_DEC_ARR], _next_arrival(ST, PI), params))


class DeadlineGreedy:
    """Serve each sample with the most accurate model that meets its deadline; skip those that cannot.

    With a deadline of ``D`` ticks, a sample that arrived at tick ``a`` and is decided at tick ``t`` is in
    time with model ``k`` (``L_k`` ticks) when ``t + L_k - a <= D``. Among the allowed models, most accurate
    first, the first one that is in time and keeps the next buffered sample in time with the fastest model
    serves; failing that, the quickest model that is in time for this sample; failing that, the sample is
    skipped (``allow_skip``) or served by the fastest model. Without a deadline it is accuracy-first.
    """

    name = "deadline"

    def __init__(self) -> None:
        self._params = np.zeros(0)
        self._mem = np.zeros(1)

    def reset(self, view: DecisionView) -> None:
        """Order the allowed models by accuracy and note the deadline and the skip index."""
        f = Facts.of(view)
        order, skip = f.by_accuracy(), view.n_models if view.allow_skip else -1
        self._params = np.array(
            [view.deadline_ticks, skip, len(order), *order, *f.ticks[order], f.fastest()], dtype=np.float64
        )

    def select(self, view: DecisionView) -> int:
        """The model (or the skip) for the waiting sample."""
        waiting = view.waiting_arrival_ticks
        nxt = int(waiting[0]) if len(waiting) else _NO_SAMPLE
        return int(_pick(view.tick, view.head_arrival_tick, nxt, self._params))

    def loop(self, view: DecisionView) -> CompiledForm:
        """Compiled form for ``Engine.run``."""
        return _loop, self._params, self._mem
