"""The compiled fast path shared by every heuristic whose decision function lives in numba.

A heuristic writes one small numba decision function, ``pick(tick, remaining_mah, queue, params, mem)``,
and offers ``loop(view) -> (compiled_loop(pick), params, mem)``; ``Engine.run`` drives the loop, which
calls the engine's kernels (``advance``/``apply``) and the decision function between them. ``select``
calls the very same function, so the compiled and the per-decision paths choose identically. Heuristics
with pre-drawn data (the seeded random selector) write their own loop and return ``NEED_MORE`` when it
runs out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit

from tinysim_gym.core import kernels as K
from tinysim_gym.core.view import CompiledLoop

#: Status a loop returns when its own pre-drawn data (e.g. random draws) ran out: ``Engine.run`` then calls
#: ``selector.more(params, mem)``.
NEED_MORE = K.NEED_MORE

#: A numba decision function ``pick(tick, remaining_mah, queue, params, mem) -> model index``.
Pick = Callable[[int, float, int, np.ndarray, np.ndarray], int]

#: What a heuristic's ``loop(view)`` returns: the compiled loop, its parameters and its scratch memory.
CompiledForm = tuple[CompiledLoop, np.ndarray, np.ndarray]


@njit(cache=True)
def pick_loop(pick, ST, FS, PI, PF, arr, params, mem):  # the kernels' array names
    """Run the engine, answering each decision with ``pick(tick, remaining_mah, queue, params, mem)``."""
    while True:
        status = K.advance(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status
        K.apply(ST, FS, PI, PF, pick(ST[K.S_T], FS[K.G_R], ST[K.S_Q], params, mem))


def compiled_loop(pick: Pick) -> CompiledLoop:
    """``Engine.run``'s loop form (``fn(ST, FS, PI, PF, arr, params, mem)``) for a numba decision function."""

    def fn(ST, FS, PI, PF, arr, params, mem):
        return pick_loop(pick, ST, FS, PI, PF, arr, params, mem)

    return fn
