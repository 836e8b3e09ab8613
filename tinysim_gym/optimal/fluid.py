"""The storage as the oracle's pacing and reserve see it: the charge after a run of ticks at a constant load.

The pacing table and the end-of-horizon reserve move the charge in blocks of ticks at a policy's mean charge
per tick. The charge is what the engine reports (``remaining_mah``): for a battery the charge left, for a
supercapacitor the charge the board could still draw before it browns out. So the run follows the engine's
storage:

* a battery (linear, or Peukert's, whose per-tick charges the engine already scaled) takes the load, adds
  the harvest and is capped at its capacity;
* a supercapacitor runs the core's closed form (:func:`tinysim_gym.core.supercap.on_run`): the harvester's
  current flows into the capacitor at its voltage, less the converter's quiescent and the leakage currents,
  and the board's load leaves through the converter. The board's charge a harvest is worth thus grows
  with the voltage (a 6 mA harvester is worth about 4 mA of board current near the brown-out voltage of a
  3.3 V board behind an 85 % converter), and the usable charge is quadratic in the voltage.

A run that empties the storage returns the fraction of its ticks that were powered: the pacing counts the
accuracy of that fraction and nothing after it (the end of service of a battery; for a supercapacitor or
a battery with ``restart_soc`` the off spell and the restart are not modelled, a lower estimate of what
follows). A kinetic (KiBaM) battery is paced as a linear one on the charge the engine reports.
"""

from __future__ import annotations

import math

import numpy as np

from tinysim_gym.core.harvest import harvest_between
from tinysim_gym.core.jit import njit
from tinysim_gym.core.layout import F_STORE, F_STORE_OFF, F_TB, STORE_SUPERCAP
from tinysim_gym.core.supercap import C_EFF, C_LEAK, C_QUIESCENT, C_SIZE, C_USABLE, C_VMAX, C_VOFF, C_VOUT, on_run


@njit(cache=True)
def run_block(r, c, t0, n, PF, hoff, cap):
    """Charge after ``n`` ticks from tick ``t0`` at ``c`` mAh per tick from charge ``r``.

    Args:
        r: charge at the start (mAh, as the engine reports it).
        c: the board's charge per tick (mAh).
        t0: first tick of the run.
        n: ticks in the run.
        PF: the engine's float parameters (harvest and storage blocks).
        hoff: offset of the harvest block in ``PF`` (0: no harvester).
        cap: the storage's capacity in the same units.

    Returns:
        ``(charge after, fraction of the ticks powered)``; the charge is 0 when the fraction is below 1.
    """
    if n <= 0:
        return r, 1.0
    h = harvest_between(PF, hoff, t0, t0 + n, PF[F_TB]) if hoff > 0 else 0.0
    if int(PF[F_STORE]) != STORE_SUPERCAP:
        r2 = r + h - c * n
        if r2 < 0.0:
            need = c * n - h
            return 0.0, (max(r, 0.0) / need if need > 0.0 else 1.0)
        return min(r2, cap), 1.0
    o = int(PF[F_STORE_OFF])
    P = PF[o : o + C_SIZE]
    voff, vmax, usable = P[C_VOFF], P[C_VMAX], P[C_USABLE]
    span = vmax * vmax - voff * voff
    v0 = math.sqrt(voff * voff + max(r, 0.0) / usable * span)
    per_ma = PF[F_TB] / 3600.0 / 1000.0  # mAh per mA over one tick
    a = P[C_VOUT] * (c / per_ma) / P[C_EFF]
    b = h / (n * per_ma) - P[C_QUIESCENT] - P[C_LEAK]
    v1, j, _, _, _ = on_run(v0, a, b, int(n), P)
    if j >= 0:
        return 0.0, j / n
    return usable * max(v1 * v1 - voff * voff, 0.0) / span, 1.0


@njit(cache=True)
def reserve_table(bounds, c, PF, hoff, cap):
    """The least charge at each bound from which ``c`` mAh per tick is powered until the last bound.

    Backward over the blocks ``[bounds[b], bounds[b + 1])``: the least start of a block (bisection: the
    charge after a run grows with the charge before it) from which the block is powered and ends at or
    above the next block's reserve. ``inf`` where even a full storage does not last.
    """
    nb = len(bounds) - 1
    out = np.zeros(nb + 1)
    for b in range(nb - 1, -1, -1):
        t0, n, need = int(bounds[b]), int(bounds[b + 1] - bounds[b]), out[b + 1]
        r_full, f_full = run_block(cap, c, t0, n, PF, hoff, cap)
        if not math.isfinite(need) or f_full < 1.0 or r_full < need:
            out[b] = math.inf
            continue
        lo, hi = 0.0, cap
        r0, f0 = run_block(0.0, c, t0, n, PF, hoff, cap)
        if f0 >= 1.0 and r0 >= need:
            continue
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            r1, f1 = run_block(mid, c, t0, n, PF, hoff, cap)
            if f1 >= 1.0 and r1 >= need:
                hi = mid
            else:
                lo = mid
        out[b] = hi
    return out


@njit(cache=True)
def reserve_at(t, bounds, table):
    """The reserve at tick ``t``, linear between the bounds (0 from the last bound on)."""
    if t >= bounds[-1]:
        return 0.0
    b = max(np.searchsorted(bounds, t, side="right") - 1, 0)
    lo, hi = table[b], table[b + 1]
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return math.inf
    f = (t - bounds[b]) / (bounds[b + 1] - bounds[b])
    return lo + (hi - lo) * f


def harvest_worth(PF: np.ndarray) -> float:
    """The most board charge (mAh) one mAh of harvest can buy.

    1 for a battery; for a supercapacitor the harvest's power at its highest voltage through the converter,
    ``v_max * efficiency / output_v``. The LP and hindsight bounds count the harvest at this worth (with no
    capacity cap, quiescent or leakage current) so they stay upper bounds: at face value a supercapacitor
    near ``v_max`` buys more than it.
    """
    if int(PF[F_STORE]) != STORE_SUPERCAP:
        return 1.0
    o = int(PF[F_STORE_OFF])
    return float(PF[o + C_VMAX] * PF[o + C_EFF] / PF[o + C_VOUT])
