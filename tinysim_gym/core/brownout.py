"""Intermittent operation on a supercapacitor: the kernels' runs on it, and the device off and booting.

:func:`supercap_run` charges a run of ticks to the capacitor (:mod:`tinysim_gym.core.supercap` solves it)
and records its energy flows; :func:`supercap_off_run` charges it while the device is off, until ``v_on``
(the off spell itself, arrivals and boot, is :func:`tinysim_gym.core.off_events.device_off`).
"""

from __future__ import annotations

from tinysim_gym.core.harvest import harvest_between
from tinysim_gym.core.jit import njit
from tinysim_gym.core.layout import (
    F_STORE_OFF,
    F_TB,
    G_R,
    G_SUPERCAP,
    I_HOFF,
)
from tinysim_gym.core.supercap import (
    C_BOOT_D,
    C_BOOT_TICKS,
    C_EFF,
    C_LEAK,
    C_QUIESCENT,
    C_SIZE,
    C_USABLE,
    C_VMAX,
    C_VOFF,
    C_VOUT,
    X_E_CONV,
    X_E_IN,
    X_E_LEAK,
    X_E_LOAD,
    X_E_QUIESCENT,
    X_E_SPILL,
    X_V,
    off_run,
    on_run,
)

_V = G_SUPERCAP + X_V


@njit(cache=True, inline="always")
def _store(FS, P, v, e_in, spill, load, conv, quiescent, leak):
    """Record a run: the new voltage, the energy flows (mJ) and the charge the board could still draw."""
    FS[_V] = v
    FS[G_SUPERCAP + X_E_IN] += e_in
    FS[G_SUPERCAP + X_E_SPILL] += spill
    FS[G_SUPERCAP + X_E_LOAD] += load
    FS[G_SUPERCAP + X_E_CONV] += conv
    FS[G_SUPERCAP + X_E_QUIESCENT] += quiescent
    FS[G_SUPERCAP + X_E_LEAK] += leak
    voff = P[C_VOFF]
    FS[G_R] = P[C_USABLE] * max(v * v - voff * voff, 0.0) / (P[C_VMAX] * P[C_VMAX] - voff * voff)


@njit(cache=True, inline="always")
def _harvest_ma(PI, PF, t0, t1):
    """The harvester's average current (mA) over ticks ``[t0, t1)`` (0 without one)."""
    if PI[I_HOFF] == 0:
        return 0.0
    return harvest_between(PF, PI[I_HOFF], t0, t1, PF[F_TB]) / ((t1 - t0) * PF[F_TB] / 3600.0 / 1000.0)


@njit(cache=True)
def supercap_run(FS, PI, PF, d, k, t0):
    """Run ``k`` ticks of board charge ``d`` (mAh per tick) from tick ``t0``; returns the brown-out index or -1."""
    o = int(PF[F_STORE_OFF])
    P = PF[o : o + C_SIZE]
    i_load = d / (PF[F_TB] / 3600.0 / 1000.0)
    i_h = _harvest_ma(PI, PF, t0, t0 + k)
    a = P[C_VOUT] * i_load / P[C_EFF]
    v1, j, t, s, spill = on_run(FS[_V], a, i_h - P[C_QUIESCENT] - P[C_LEAK], k, P)
    load = P[C_VOUT] * i_load * t
    _store(FS, P, v1, i_h * s - spill, spill, load, a * t - load, P[C_QUIESCENT] * s, P[C_LEAK] * s)
    return j


@njit(cache=True)
def supercap_off_run(FS, PI, PF, t, n):
    """Off from tick ``t`` for up to ``n`` ticks: the capacitor charges (harvest less leakage).

    Returns the ticks after which it reaches ``v_on`` (at least 1), or -1 when it does not within ``n``.
    """
    o = int(PF[F_STORE_OFF])
    P = PF[o : o + C_SIZE]
    i_h = _harvest_ma(PI, PF, t, t + n)
    v1, m, s, spill = off_run(FS[_V], i_h - P[C_LEAK], n, P)
    _store(FS, P, v1, i_h * s - spill, spill, 0.0, 0.0, 0.0, P[C_LEAK] * s)
    return -1 if m < 0 else max(m, 1)  # at least one tick off: every brown-out moves time on


@njit(cache=True, inline="always")
def supercap_boot(PF):
    """The boot's ticks and its charge per tick (mAh)."""
    o = int(PF[F_STORE_OFF])
    return int(PF[o + C_BOOT_TICKS]), PF[o + C_BOOT_D]
