"""The batched env's per-step bookkeeping in two compiled passes instead of a dozen small numpy calls.

With a few sub-envs (a PPO run steps 8) a batched step's numpy calls on tiny arrays (each ~1 us of call
overhead) cost about as much as the simulation: :func:`out_of_range` checks the actions and
:func:`step_ends` finds the episodes that ended, counting the steps, in one pass each.
"""

from __future__ import annotations

from tinysim_gym.core import kernels as K
from tinysim_gym.core.jit import njit


@njit(cache=True)
def out_of_range(actions, n):
    """Whether any of the int64 ``actions`` lies outside ``0..n-1``."""
    for a in actions:
        if a < 0 or a >= n:
            return True
    return False


@njit(cache=True)
def step_ends(status, waiting, steps, max_steps, term, trunc):
    """Which rows ended in this step: ``term`` (a true end) and ``trunc`` (the step limit); any of them.

    A row that was ``waiting`` (its episode ended before the step) neither ends nor counts a step. Every
    other row counts one step; with ``max_steps >= 0`` a row that did not terminate is truncated once it
    has taken ``max_steps`` steps (``max_steps < 0``: no limit).
    """
    ended = False
    for i in range(status.shape[0]):
        w = waiting[i]
        t = status[i] == K.DONE and not w
        tr = False
        if max_steps >= 0:
            if not w:
                steps[i] += 1
            tr = steps[i] >= max_steps and not t and not w
        term[i] = t
        trunc[i] = tr
        ended |= t or tr
    return ended
