"""A battery device that ran empty: off until the harvester refills the battery to ``restart_soc``, then boot.

:func:`battery_off_run` is the battery's part of an off spell (the spell itself, the samples lost meanwhile
and the boot, is :func:`tinysim_gym.core.off_events.device_off`). Off, the board draws nothing and the
harvester charges the
battery (:func:`tinysim_gym.core.battery.battery_run` with no load: capped at the capacity; a kinetic
battery's wells move as its exact solution says). The restart tick is the first whole tick at which the
harvested charge reaches the restart level, found by bisection on the harvester's exact integral (a few
integrals per gap between arrivals, never a walk over ticks). The device then boots (``boot_ms`` at
``boot_current_ma``, through the same battery run, with the harvest); a battery that empties while booting
turns off again. The off and boot time and the boot charge use the supercapacitor's slots of ``FS``.
"""

from __future__ import annotations

from tinysim_gym.core.battery import B_BOOT_D, B_BOOT_TICKS, B_RESTART, battery_run
from tinysim_gym.core.harvest import harvest_between
from tinysim_gym.core.jit import njit
from tinysim_gym.core.layout import (
    F_STORE,
    F_STORE_OFF,
    F_TB,
    G_R,
    I_HOFF,
    STORE_SUPERCAP,
)


@njit(cache=True, inline="always")
def restarts(PF):
    """Whether the scenario's battery restarts a device that ran it empty."""
    return PF[F_STORE] != STORE_SUPERCAP and PF[F_STORE_OFF] > 0 and PF[int(PF[F_STORE_OFF]) + B_RESTART] > 0.0


@njit(cache=True)
def _ticks_to_reach(PF, off, t, n, need, tb):
    """The fewest ticks ``m`` in ``[1, n]`` from tick ``t`` whose harvest reaches ``need`` (mAh); -1: none."""
    if need <= 0.0:
        return 1
    if harvest_between(PF, off, t, t + n, tb) < need:
        return -1
    lo, hi = 0, n  # harvest(lo) < need <= harvest(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if harvest_between(PF, off, t, t + mid, tb) >= need:
            hi = mid
        else:
            lo = mid
    return hi


@njit(cache=True)
def battery_off_run(FS, PI, PF, t, n):
    """Off from tick ``t`` for up to ``n`` ticks: the harvester charges the battery.

    Returns the ticks after which it holds the restart charge (the battery has run them), or -1 when it
    does not within ``n`` (it has run all ``n``).
    """
    o = int(PF[F_STORE_OFF])
    m = _ticks_to_reach(PF, PI[I_HOFF], t, n, PF[o + B_RESTART] - FS[G_R], PF[F_TB])
    battery_run(FS, PI, PF, 0.0, n if m < 0 else m, t)
    return m


@njit(cache=True, inline="always")
def battery_boot(PF):
    """The boot's ticks and its charge per tick (mAh)."""
    o = int(PF[F_STORE_OFF])
    return int(PF[o + B_BOOT_TICKS]), PF[o + B_BOOT_D]
