"""Battery discharge over a run of identical ticks, in O(1) per run instead of O(ticks).

Two rules, one per mode:

* :func:`seed_run` reproduces the original's floating-point arithmetic *exactly*: ``remaining -= d`` once per
  tick, the state of charge read at the start of each tick, and the simulation ending after the first tick
  whose start-of-tick charge was ``<= 0`` (that tick still runs and is charged). Repeated subtraction of a
  constant is exact to emulate in bulk: while both the operand and the result stay inside one binade
  ``[2**e, 2**(e+1))`` the rounded step ``fl(x - d) - x`` is one constant (after the first in-binade
  rounding, which makes ties resolve the same way every time), so ``n`` steps equal ``x - n * step`` with no
  rounding at all. A few explicit steps are taken at each binade edge.
* :func:`exact_run` is the default mode's physical rule: a tick runs only if the battery holds its whole
  charge, so the charge drawn never exceeds the capacity.
"""

from __future__ import annotations

import math

from tinysim_gym.core.jit import njit


@njit(cache=True)
def seed_run(r: float, d: float, k: int) -> tuple[float, int]:
    """Apply ``k`` ticks of discharge ``d`` the way the original does, tick by tick, in bulk.

    Args:
        r: remaining charge (mAh) at the start of the first tick.
        d: charge drawn by each tick (mAh, >= 0).
        k: number of ticks.

    Returns:
        ``(remaining, j)``: ``j`` is the index (0-based, within the run) of the last tick, the first whose
        start-of-tick charge was ``<= 0`` (it was charged too), or ``-1`` when all ``k`` ticks ran.
    """
    j = 0
    while j < k:
        if r <= 0.0:
            return r - d, j
        r1 = r - d
        j += 1
        if j == k or r1 <= 0.0:
            r = r1
            continue
        r2 = r1 - d
        j += 1
        if j == k or r2 <= 0.0:
            r = r2
            continue
        r3 = r2 - d
        j += 1
        r = r3
        if j == k or r3 <= 0.0:
            continue
        _, e = math.frexp(r3)
        lo = math.ldexp(0.5, e)
        if r1 >= 2.0 * lo:
            continue  # r1 sits in the binade above: its rounding grid differs; step again
        s = r2 - r3  # exact (Sterbenz); the constant rounded step from any in-binade value on
        if s == 0.0:
            return r, -1  # d is below half an ulp: the original's charge no longer moves
        n = int((r3 - d - lo) / s) - 1
        if n > k - j:
            n = k - j
        if n > 0:
            r = r3 - n * s  # exact: a multiple of the binade's ulp inside the binade
            j += n
    return r, -1


@njit(cache=True)
def exact_run(r: float, d: float, k: int) -> tuple[float, int]:
    """Apply ``k`` ticks of discharge ``d`` where a tick runs only if the battery holds its full charge.

    Returns:
        ``(remaining, j)``: ``j`` is the index of the first tick that could not be powered (the device is
        dead from it on; it draws nothing), or ``-1`` when all ``k`` ticks ran.
    """
    if d <= 0.0 or k <= 0:
        return r, -1
    total = k * d
    if total <= r:
        return r - total, -1
    n = int(r / d)
    while n > 0 and n * d > r:
        n -= 1
    if n >= k:
        return max(r - total, 0.0), -1
    return max(r - n * d, 0.0), n
