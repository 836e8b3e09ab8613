"""The oracle's greedy step as one compiled function (tens of thousands of decisions per episode).

At a decision: the pacing table's one-block look-ahead picks a priced policy; the model with the best value
in that policy's table wins, among the models that leave charge for the samples still to come (the pacing
is fluid and would otherwise plan to end exactly empty, and a real battery then dies a few samples early;
this reserve only binds in the last moments of an episode).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tinysim_gym.core.kernels import F_TB, harvest_between


@njit(cache=True)
def pick_policy(t, r, pace_value, pace_bounds, cap, acc_rate, charge_rate, PF, off):
    """Index of the priced policy the pacing table follows at tick ``t`` with charge ``r``."""
    nb = len(pace_bounds) - 1
    b = np.searchsorted(pace_bounds, t, side="right") - 1
    b = min(max(b, 0), nb - 1)
    end = pace_bounds[b + 1]
    dt = end - t
    h = harvest_between(PF, off, t, int(end), PF[F_TB]) if off > 0 else 0.0
    n_charge = pace_value.shape[1]
    step = cap / (n_charge - 1)
    best, arg = -1e300, 0
    for i in range(len(acc_rate)):
        r2 = r + h - charge_rate[i] * dt
        if r2 < 0.0:
            need = charge_rate[i] * dt - h
            v = acc_rate[i] * dt * (r / need if need > 0 else 1.0)
        else:
            u = min(r2, cap) / step
            j = min(int(u), n_charge - 2)
            f = u - j
            v = acc_rate[i] * dt + pace_value[b + 1, j] * (1.0 - f) + pace_value[b + 1, j + 1] * f
        if v > best:
            best, arg = v, i
    return arg


@njit(cache=True)
def pick_action(value, t, r, q, first, horizon, ticks, charge, idle_charge, max_rate):
    """The best action by ``value`` among those that keep the end-of-horizon reserve (else the best by value).

    ``first`` is the earliest tick the next sample can arrive; at most ``max_rate`` arrive per tick after it.
    When no action keeps the reserve (a bursty workload's top rate makes it out of reach long before the
    end), the reserve says nothing and the value decides: falling back to the cheapest action then served
    every sample with the fastest model, or, with a skip action, skipped every sample.
    """
    if horizon < 0:
        return int(np.argmax(value))
    tau = max(horizon - t, 0)
    later = q + (0.0 if first >= horizon else 1.0 + np.floor((horizon - 1 - first) * max_rate))
    reserve = later * charge.min() + tau * idle_charge
    best, arg = -1e300, -1
    for k in range(len(value)):
        run = min(ticks[k], tau)
        cost = charge[k] * run / ticks[k] if ticks[k] > 0 else charge[k]
        if r - cost >= reserve and value[k] > best:
            best, arg = value[k], k
    return arg if arg >= 0 else int(np.argmax(value))
