"""Intermittent operation on a supercapacitor: the kernels' runs on it, and the device off and booting.

:func:`supercap_run` charges a run of ticks to the capacitor (:mod:`tinysim_gym.core.supercap` solves it)
and records its energy flows; :func:`powered_off` takes over the arrivals while the device is off, until
the harvester has recharged the capacitor to ``v_on`` and the device has booted, or the horizon.
"""

from __future__ import annotations

from numba import njit

from tinysim_gym.core.harvest import harvest_between
from tinysim_gym.core.layout import (
    DECISION,
    END_HORIZON,
    END_NONE,
    F_STORE_OFF,
    F_TB,
    G_R,
    G_SUPERCAP,
    I_H,
    I_HOFF,
    NEED_ARRIVALS,
    S_AI,
    S_AN,
    S_ARR,
    S_BROWNOUTS,
    S_DROP_AFTER,
    S_DROP_OFF,
    S_END,
    S_FREE,
    S_OFF,
    S_Q,
    S_QHEAD,
    S_REASON,
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
    X_BOOT_CHARGE,
    X_BOOT_TICKS,
    X_E_CONV,
    X_E_IN,
    X_E_LEAK,
    X_E_LOAD,
    X_E_QUIESCENT,
    X_E_SPILL,
    X_OFF_TICKS,
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
def powered_off(ST, FS, PI, PF, arr):
    """The capacitor browned out at ``ST[S_END]``: off until recharged to v_on, then boot (needs a horizon).

    Samples arriving while off or booting, and those waiting in the buffer, are lost (``S_DROP_OFF``). Returns
    ``NEED_ARRIVALS`` or ``DECISION`` (the device is on again from ``ST[S_FREE]``, or the horizon is reached).
    """
    o = int(PF[F_STORE_OFF])
    P = PF[o : o + C_SIZE]
    H = PI[I_H]
    if ST[S_OFF] == 0:
        ST[S_OFF] = 1
        ST[S_BROWNOUTS] += 1
        ST[S_DROP_OFF] += ST[S_Q]
        ST[S_DROP_AFTER] += ST[S_Q]
        ST[S_Q] = 0
        ST[S_QHEAD] = 0
    while True:
        if ST[S_AI] >= ST[S_AN]:
            return NEED_ARRIVALS
        ta = arr[ST[S_AI]]
        t = ST[S_END]
        if ta < H and (ta < t or (ta == t and ST[S_OFF] == 1)):
            ST[S_AI] += 1
            ST[S_ARR] += 1
            ST[S_DROP_OFF] += 1
            ST[S_DROP_AFTER] += 1
            continue
        if t >= H:
            ST[S_OFF] = 0
            ST[S_END] = H
            ST[S_REASON] = END_HORIZON
            return DECISION
        if ST[S_OFF] == 2:  # booted
            ST[S_OFF] = 0
            ST[S_FREE] = t
            ST[S_END] = -1
            ST[S_REASON] = END_NONE
            return DECISION
        stop = min(ta, H)
        n = stop - t
        i_h = _harvest_ma(PI, PF, t, stop)
        v1, m, s, spill = off_run(FS[_V], i_h - P[C_LEAK], n, P)
        _store(FS, P, v1, i_h * s - spill, spill, 0.0, 0.0, 0.0, P[C_LEAK] * s)
        if m < 0:
            FS[G_SUPERCAP + X_OFF_TICKS] += n
            ST[S_END] = stop
            continue
        m = max(m, 1)  # at least one tick off: every brown-out moves time on
        FS[G_SUPERCAP + X_OFF_TICKS] += m
        t_on = t + m
        nb = min(int(P[C_BOOT_TICKS]), H - t_on)
        ST[S_OFF] = 2
        ST[S_END] = t_on + nb
        if nb > 0:
            j = supercap_run(FS, PI, PF, P[C_BOOT_D], nb, t_on)
            ran = nb if j < 0 else j
            FS[G_SUPERCAP + X_BOOT_TICKS] += ran
            FS[G_SUPERCAP + X_BOOT_CHARGE] += ran * P[C_BOOT_D]
            if j >= 0:  # browned out while booting
                ST[S_END] = t_on + j
                ST[S_OFF] = 1
                ST[S_BROWNOUTS] += 1
