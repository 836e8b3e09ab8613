"""A battery's run of ticks in the default mode: linear, Peukert or kinetic, with or without a harvester.

:func:`battery_run` charges ``k`` ticks of a constant board charge ``d`` (mAh per tick) to the battery. A
harvester's charge over the run is spread evenly over its ticks, so the battery sees a constant *net*
charge per tick ``d - h / k`` (negative: it charges):

* linear (and Peukert, whose ``d`` is already the effective charge, see :mod:`tinysim_gym.core.peukert`;
  harvested charge counts one for one, Peukert's law being a law of discharge): the remaining charge moves
  by the net charge, capped at the capacity (the surplus spills);
* kinetic (:mod:`tinysim_gym.core.kibam`): the net current flows through the available well, so the same
  exact solution holds with a negative current while charging (the available well rises above the bound
  one and the valve carries charge back); the total charge is capped at the capacity, the surplus spills,
  and a battery at its capacity has both wells full (``delta = 0``: a total of ``C`` leaves no other
  state within the wells' sizes). While charging below the cap the available well is not capped on its
  own: it may hold a little more than its share until the valve moves it on.

The battery block of ``PF`` (kinetic battery or restart, at ``F_STORE_OFF``) is ``[c, k per tick,
restart charge (mAh), boot ticks, boot charge per tick]``; a linear battery without restart has none.
"""

from __future__ import annotations

from tinysim_gym.core.discharge import exact_run
from tinysim_gym.core.harvest import harvest_between
from tinysim_gym.core.jit import njit
from tinysim_gym.core.kibam import kibam_run
from tinysim_gym.core.layout import (
    F_CAP,
    F_STORE,
    F_STORE_OFF,
    F_TB,
    G_COMP,
    G_DELTA,
    G_HARVESTED,
    G_R,
    G_SPILLED,
    I_HOFF,
    STORE_KIBAM,
)

B_C = 0  # kinetic battery: the available well's share
B_K = 1  # kinetic battery: the valve's rate per tick
B_RESTART = 2  # charge (mAh) at which a device that ran the battery empty restarts (0: it never does)
B_BOOT_TICKS = 3
B_BOOT_D = 4  # charge per boot tick (mAh)
B_SIZE = 5


@njit(cache=True)
def battery_run(FS, PI, PF, d, k, t0):
    """Charge ``k > 0`` ticks of ``d`` from tick ``t0``; returns the first tick not powered, or -1."""
    r0 = FS[G_R]
    kibam = PF[F_STORE] == STORE_KIBAM
    if PI[I_HOFF] == 0:
        if kibam:
            o = int(PF[F_STORE_OFF])
            FS[G_DELTA], j = kibam_run(r0, FS[G_DELTA], d, k, PF[o + B_C], PF[o + B_K])
        else:
            _, j = exact_run(r0, d, k)
        ticks = k if j < 0 else j
        y = -(ticks * d) - FS[G_COMP]  # compensated subtraction: the rounding of each run is carried over
        r = r0 + y
        FS[G_COMP] = (r - r0) - y
        FS[G_R] = max(r, 0.0)
        return j
    h = harvest_between(PF, PI[I_HOFF], t0, t0 + k, PF[F_TB])
    net = d - h / k
    if kibam:
        o = int(PF[F_STORE_OFF])
        FS[G_DELTA], j = kibam_run(r0, FS[G_DELTA], net, k, PF[o + B_C], PF[o + B_K])
    elif net > 0.0:
        _, j = exact_run(r0, net, k)
    else:
        j = -1
    ticks = k if j < 0 else j
    r = r0 - ticks * net
    stored = h * ticks / k
    if r > PF[F_CAP]:  # the battery is full: what does not fit spills (never below 0 by rounding)
        stored = max(0.0, min(stored, PF[F_CAP] - r0 + ticks * d))
        r = PF[F_CAP]
        if kibam:  # full: both wells at their capacity, at the same level
            FS[G_DELTA] = 0.0
    FS[G_SPILLED] += h * ticks / k - stored
    FS[G_HARVESTED] += stored
    FS[G_R] = max(r, 0.0)
    return j
