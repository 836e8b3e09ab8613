"""The oracle's greedy step as one compiled function (tens of thousands of decisions per episode).

At a decision: the pacing table's one-block look-ahead picks a priced policy; the action with the best value
in that policy's table wins, among the actions that leave the charge needed to serve every later sample with
the cheapest policy until the horizon (the reserve). The pacing is fluid and plans to run the storage
down to exactly empty where the harvest next covers the load (at the horizon, or at sunrise after a
night); a real device then dies a few samples short of it and loses everything after. The reserve
(:func:`~tinysim_gym.optimal.fluid.reserve_table`) counts the harvest to come and the cheapest policy's
mean charge rate (its mean arrival rate), so it binds only where the plan runs the storage dry.
"""

from __future__ import annotations

import numpy as np

from tinysim_gym.core.jit import njit
from tinysim_gym.optimal.dp import block_value
from tinysim_gym.optimal.fluid import reserve_at, run_block


@njit(cache=True)
def pick_policy(t, r, pace_value, pace_bounds, cap, acc_rate, charge_rate, PF, hoff):
    """Index of the priced policy the pacing table follows at tick ``t`` with charge ``r``."""
    nb = len(pace_bounds) - 1
    b = np.searchsorted(pace_bounds, t, side="right") - 1
    b = min(max(b, 0), nb - 1)
    best, arg = -1e300, 0
    for i in range(len(acc_rate)):
        v = block_value(pace_value[b + 1], r, acc_rate[i], charge_rate[i], int(t), int(pace_bounds[b + 1]), PF,
                        hoff, cap)
        if v > best:
            best, arg = v, i
    return arg


@njit(cache=True)
def pick_action(value, credit, t, r, q, horizon, ticks, charge, res_bounds, res_table, PF, hoff, cap):
    """The best action by ``value`` among those that keep the reserve.

    An action of ``ticks[k]`` ticks and ``charge[k]`` mAh keeps it when the storage after it holds the
    reserve at that tick plus the cheapest charge for each of the ``q`` samples waiting and the next one.
    When none keeps it (the storage empties before the horizon whatever is done) the cheapest action that
    earns accuracy (``credit > 0``) serves the sample, else the cheapest action: the most samples before
    the end.
    """
    if horizon < 0:
        return int(np.argmax(value))
    c_min = charge.min()
    best, arg = -1e300, -1
    for k in range(len(value)):
        run = min(ticks[k], max(horizon - t, 0))
        if ticks[k] > 0:
            r1, powered = run_block(r, charge[k] / ticks[k], t, run, PF, hoff, cap)
        else:
            r1, powered = r - charge[k], 1.0
        # the fluid reserve is a mean over whole arrival cycles: the next sample's inference is drawn before
        # the idle ticks after it are harvested, so the storage holds one cheapest inference besides
        later = q + (1 if t + run < horizon else 0)
        need = later * c_min + reserve_at(t + run, res_bounds, res_table)
        if powered >= 1.0 and r1 >= need and value[k] > best:
            best, arg = value[k], k
    if arg >= 0:
        return arg
    cheap, fallback = 1e300, int(np.argmin(charge))
    for k in range(len(value)):
        if credit[k] > 0.0 and charge[k] < cheap:
            cheap, fallback = charge[k], k
    return fallback
