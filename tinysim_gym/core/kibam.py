"""The kinetic battery model (KiBaM), solved exactly over each run of constant current.

Manwell and McGowan's two-well model in Jongerden and Haverkort's form. The charge sits in an *available*
well ``y1`` (a share ``c`` of the capacity) that feeds the load and a *bound* well ``y2`` (the rest) that
feeds the available one through a valve of rate ``k``::

    dy1/dt = -I + k (h2 - h1),    dy2/dt = -k (h2 - h1),    h1 = y1 / c,    h2 = y2 / (1 - c)

The device stops when the available well is empty, although the bound well still holds charge: a high
current empties it sooner (the rate-capacity effect) and a rest lets it refill (the recovery effect).

The state is kept as the total charge ``y = y1 + y2`` and the height difference ``delta = h2 - h1`` (both
in mAh; a height is the charge the battery would hold with every well at that level). Under a constant
current ``I`` they move independently:

* ``y(t) = y0 - I t`` (every unit drawn leaves the battery);
* ``delta`` relaxes exponentially toward ``delta* = I (1 - c) / k`` at the rate ``k' = k / (c (1 - c))``:
  ``delta(t) = delta* + (delta0 - delta*) exp(-k' t)``;

and the available charge is ``y1 = c h1 = c (y - (1 - c) delta)``. The height ``h1(t)`` is either
decreasing throughout (``delta0 <= delta*``) or concave (``delta0 > delta*``: it may rise first, while the
bound well refills it faster than the load drains it, and then falls), so it crosses zero at most once on
a run. A run of ticks therefore costs O(1) when the battery survives it (one exponential), and the tick at
which it dies is found once per episode by a safeguarded Newton iteration on ``h1(t) = 0`` past the
maximum, refined to whole ticks by evaluating ``h1`` itself.

The engine's energy figures keep their meaning: ``energy_mah`` (and its split into inference and idle
charge) is the charge drawn from the battery; what is still bound when the device stops is the capacity
less that.

A harvester's current enters through the available well, like the load's with the opposite sign: over a
run, the net current ``I - I_h`` (negative while charging) has the same exact solution, and the total
charge is capped at the capacity (:mod:`tinysim_gym.core.battery`).

Everything here is in the kernels' units: time in ticks, charge in mAh, ``I`` in mAh per tick, ``k`` per
tick.
"""

from __future__ import annotations

import math

from tinysim_gym.core.jit import njit


@njit(cache=True, inline="always")
def gap_after(delta: float, delta_eq: float, rate: float, t: float) -> float:
    """Height difference ``delta(t)`` after ``t`` ticks, relaxing from ``delta`` toward ``delta_eq``."""
    return delta - (delta_eq - delta) * math.expm1(-rate * t)


@njit(cache=True, inline="always")
def _height(y: float, delta: float, d: float, c: float, delta_eq: float, rate: float, t: float) -> float:
    """Height ``h1(t)`` of the available well after ``t`` ticks of current ``d`` (its sign is ``y1``'s)."""
    return y - d * t - (1.0 - c) * gap_after(delta, delta_eq, rate, t)


@njit(cache=True)
def empty_time(y: float, delta: float, d: float, c: float, k: float, lo: float, hi: float) -> float:
    """Time ``t`` in ``[lo, hi]`` at which the available well's height ``h1(t)`` reaches 0.

    Needs ``h1(lo) >= 0 > h1(hi)`` and ``h1`` decreasing on ``[lo, hi]``. A Newton iteration kept inside
    a shrinking bracket (a step that leaves it bisects instead), run until the bracket stops shrinking:
    the result is the root to machine precision.
    """
    rate = k / (c * (1.0 - c))
    delta_eq = d * (1.0 - c) / k
    # first guess: the current alone, with the well difference frozen
    t = min(max(lo + _height(y, delta, d, c, delta_eq, rate, lo) / d, lo), hi)
    for _ in range(200):
        f = _height(y, delta, d, c, delta_eq, rate, t)
        if f >= 0.0:
            lo = t
        else:
            hi = t
        slope = -d + (k / c) * (delta - delta_eq) * math.exp(-rate * t)
        nxt = t - f / slope if slope < 0.0 else 0.5 * (lo + hi)
        if nxt == t:  # converged
            break
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
            if nxt == lo or nxt == hi:  # the bracket is down to adjacent floats
                break
        t = nxt
    return t


@njit(cache=True)
def kibam_run(y: float, delta: float, d: float, n: int, c: float, k: float) -> tuple[float, int]:
    """Run ``n`` ticks of constant current ``d`` from total charge ``y`` and height difference ``delta``.

    A tick runs only if the available well still holds charge at its end (on a run the well's height is
    decreasing or concave, so it then held charge throughout the tick).

    Args:
        y: total charge (mAh) at the start of the run.
        delta: height difference ``h2 - h1`` (mAh) at the start of the run.
        d: charge drawn per tick (mAh, >= 0).
        n: number of ticks (> 0).
        c: the available well's share of the capacity (0 < c < 1).
        k: the valve's rate constant, per tick (> 0).

    Returns:
        ``(delta_end, j)``: the height difference after the ticks that ran, and the index of the first tick
        that could not be powered (the device is dead from it on), or ``-1`` when all ``n`` ticks ran. The
        total charge after the run is ``y - ticks * d``, which the caller subtracts itself.
    """
    rate = k / (c * (1.0 - c))
    delta_eq = d * (1.0 - c) / k
    if d <= 0.0 or _height(y, delta, d, c, delta_eq, rate, float(n)) >= 0.0:
        return gap_after(delta, delta_eq, rate, float(n)), -1
    lo = 0.0
    excess = k * (delta - delta_eq)  # > 0: the bound well refills the available one faster than d at first
    if excess > d * c:
        lo = min(math.log(excess / (d * c)) / rate, float(n))  # the height's maximum
    if _height(y, delta, d, c, delta_eq, rate, lo) < 0.0:
        return delta, 0  # already empty (only ever by rounding at the edge)
    t = empty_time(y, delta, d, c, k, lo, float(n))
    j = min(int(math.floor(t)), n - 1)
    while j + 1 < n and _height(y, delta, d, c, delta_eq, rate, float(j + 1)) >= 0.0:
        j += 1
    while j > 0 and _height(y, delta, d, c, delta_eq, rate, float(j)) < 0.0:
        j -= 1
    return gap_after(delta, delta_eq, rate, float(j)), j

