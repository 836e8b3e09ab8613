"""A supercapacitor behind a converter, solved exactly over each run of constant load and harvest.

The capacitor (``C`` farads) stores ``E = 1/2 C V^2``. While the device is on, the converter delivers the
board's power ``V_out I_load`` with efficiency ``eta`` (so it takes the constant power ``a = V_out I_load /
eta`` from the capacitor, whatever its voltage) and draws its quiescent current; the capacitor also leaks a
constant current and takes the harvester's current. With ``b`` the net current into the capacitor::

    C V dV/dt = -a + b V

(here with ``kappa = 1000 C``: power in mW, currents in mA, voltage in V, time in s). Separating the
variables gives the time to go from ``V0`` to ``V`` in closed form,

    t(V) = kappa [ (V - V0) V0 / (b V0 - a) + a w^2 phi(b w) ],   w = (V - V0) / (b V0 - a),
    phi(z) = (log(1 + z) - z) / z^2

(``phi`` keeps the form exact and well conditioned as ``b`` goes to 0, where it becomes
``kappa (V0^2 - V^2) / (2 a)``). So the tick at which the capacitor falls to the brown-out voltage, or rises
to its maximum, is a closed form per run; the voltage after a run is ``t(V)`` inverted by a safeguarded
Newton iteration (``t`` is monotone in ``V`` on a run). The energy flows of a run follow from the integral
of the voltage, ``S = (dE + a t) / b``, so that ``dE = harvest - load / eta - quiescent - leakage`` holds to
rounding. At ``v_max`` the capacitor holds its voltage and the surplus harvest is spilled.

While the device is off the converter draws nothing (``a = 0``): the voltage moves linearly, the capacitor
empties at most to 0 V, and the tick at which it reaches the restart voltage is a closed form too.
"""

from __future__ import annotations

import math

import numpy as np

from tinysim_gym.config import ConverterConfig, SupercapConfig
from tinysim_gym.core.jit import njit

# offsets of the parameters in the supercapacitor block of the kernels' float parameters
C_KAPPA = 0  # 1000 * capacitance (mJ per V^2)
C_VMAX = 1
C_VON = 2
C_VOFF = 3
C_LEAK = 4  # leakage current (mA)
C_EFF = 5  # converter efficiency
C_QUIESCENT = 6  # converter quiescent current (mA)
C_VOUT = 7  # the board's voltage (V)
C_TICK_S = 8  # length of a tick (s)
C_BOOT_TICKS = 9
C_BOOT_D = 10  # charge of one boot tick at the board (mAh)
C_USABLE = 11  # charge (mAh) the board could draw from a full capacitor (the state of charge's scale)
C_SIZE = 12

# offsets of the supercapacitor's state in the kernels' float state (from layout.G_SUPERCAP on)
X_V = 0  # voltage (V)
X_E_IN = 1  # energies (mJ): harvested into the capacitor,
X_E_SPILL = 2  # harvested but refused at v_max,
X_E_LOAD = 3  # delivered to the board,
X_E_CONV = 4  # lost in the converter,
X_E_QUIESCENT = 5  # drawn by the converter's quiescent current,
X_E_LEAK = 6  # leaked
X_OFF_TICKS = 7  # ticks spent off,
X_BOOT_TICKS = 8  # booting,
X_BOOT_CHARGE = 9  # and the board's charge (mAh) spent booting
X_SIZE = 10


@njit(cache=True, inline="always")
def _phi(z: float) -> float:
    """``(log(1 + z) - z) / z^2``, by its series near 0 (-1/2 at 0)."""
    if abs(z) < 1e-4:
        return -0.5 + z * (1.0 / 3.0 - z * (0.25 - z * 0.2))
    return (math.log1p(z) - z) / (z * z)


@njit(cache=True)
def time_to(v0: float, v: float, a: float, b: float, kappa: float) -> float:
    """Seconds for the capacitor to go from ``v0`` to ``v`` under ``kappa V dV/dt = -a + b V`` (inf: never)."""
    den = b * v0 - a
    if v == v0:
        return 0.0
    if den == 0.0 or (v - v0) * den < 0.0 or (b * v - a) * den <= 0.0:
        return math.inf  # at rest, moving the other way, or past the equilibrium a / b
    w = (v - v0) / den
    return kappa * ((v - v0) * v0 / den + a * w * w * _phi(b * w))


@njit(cache=True)
def volts_after(v0: float, a: float, b: float, kappa: float, t: float, lo: float, hi: float) -> float:
    """The voltage after ``t`` seconds from ``v0``, known to lie in ``[lo, hi]`` (``t(V)`` inverted)."""
    if t <= 0.0 or b * v0 == a:
        return v0
    if a == 0.0:
        return min(max(v0 + b * t / kappa, lo), hi)
    rising = b * v0 > a
    v = min(max(v0 + (b * v0 - a) / (kappa * v0) * t, lo), hi)  # first guess: the starting slope
    for _ in range(100):
        f = time_to(v0, v, a, b, kappa) - t  # increasing in |v - v0|
        if (f < 0.0) == rising:
            lo = v
        else:
            hi = v
        slope = kappa * v / (b * v - a)  # dt/dV
        nxt = v - f / slope if math.isfinite(f) and slope != 0.0 else 0.5 * (lo + hi)
        if nxt == v:  # converged
            break
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
            if nxt == lo or nxt == hi:  # the bracket is down to adjacent floats
                break
        v = nxt
    return v


@njit(cache=True)
def _volt_integral(v0: float, v1: float, a: float, b: float, kappa: float, t: float) -> float:
    """``S``: the integral of the voltage over a run of ``t`` seconds from ``v0`` to ``v1``."""
    if a == 0.0 and b == 0.0:
        return v0 * t
    if a == 0.0 or abs(b) * max(v0, v1) > 1e-7 * a:
        return (0.5 * kappa * (v1 * v1 - v0 * v0) + a * t) / b
    return kappa * (v0 * v0 * v0 - v1 * v1 * v1) / (3.0 * a)  # b ~ 0: constant power, V^2 linear in time


@njit(cache=True)
def on_run(v0: float, a: float, b: float, n: int, P: np.ndarray) -> tuple[float, int, float, float, float]:
    """Run ``n`` ticks with the device on: constant power ``a`` (mW) out, net current ``b`` (mA) in.

    A tick runs only if the capacitor is still at or above ``v_off`` at its end.

    Args:
        v0: voltage at the start.
        a: power the converter takes for the board (mW).
        b: net current into the capacitor (mA): harvest less quiescent and leakage.
        n: number of ticks (> 0).
        P: the supercapacitor block (see the ``C_*`` offsets).

    Returns:
        ``(v1, j, seconds, S, spilled)``: the voltage after the ticks that ran, the index of the first tick
        that could not be powered (``-1``: all ran), the seconds that ran, the integral of the voltage over
        them (V s) and the harvested energy spilled at ``v_max`` (mJ).
    """
    kappa, vmax, voff, tick = P[C_KAPPA], P[C_VMAX], P[C_VOFF], P[C_TICK_S]
    total = n * tick
    if v0 < voff:
        return v0, 0, 0.0, 0.0, 0.0
    den = b * v0 - a
    if den < 0.0:  # falling: the first tick whose end is below v_off cannot run
        t_off = time_to(v0, voff, a, b, kappa)
        ran = n if t_off >= total else int(t_off / tick)
        while ran > 0 and ran * tick > t_off:
            ran -= 1
        while ran < n and (ran + 1) * tick <= t_off:
            ran += 1
        t = ran * tick
        v1 = volts_after(v0, a, b, kappa, t, voff, v0)
        return v1, (-1 if ran >= n else ran), t, _volt_integral(v0, v1, a, b, kappa, t), 0.0
    if den > 0.0 and v0 < vmax:  # rising, until the capacitor is full
        t_full = time_to(v0, vmax, a, b, kappa)
        if total <= t_full:
            v1 = volts_after(v0, a, b, kappa, total, v0, vmax)
            return v1, -1, total, _volt_integral(v0, v1, a, b, kappa, total), 0.0
        s = _volt_integral(v0, vmax, a, b, kappa, t_full)
        rest = total - t_full
        return vmax, -1, total, s + vmax * rest, (b * vmax - a) * rest
    if den > 0.0:  # full: the voltage holds, the surplus is spilled
        return v0, -1, total, v0 * total, den * total
    return v0, -1, total, v0 * total, 0.0


@njit(cache=True)
def off_run(v0: float, b: float, n: int, P: np.ndarray) -> tuple[float, int, float, float]:
    """Run ``n`` ticks with the device off (no converter): net current ``b`` (mA, harvest less leakage).

    Returns:
        ``(v1, m, S, spilled)``: the voltage at the end (or at the restart), the number of ticks after which
        the capacitor reaches ``v_on`` (the device restarts then; ``-1``: not within the run), the integral
        of the voltage (V s) over the ticks counted and the energy spilled at ``v_max`` (mJ; only when the
        restart tick ends past a ``v_on`` equal to ``v_max``).
    """
    kappa, von, vmax, tick = P[C_KAPPA], P[C_VON], P[C_VMAX], P[C_TICK_S]
    total = n * tick
    if b > 0.0:
        t_on = kappa * (von - v0) / b
        if t_on <= total:
            m = max(0, int(math.ceil(t_on / tick)))
            while m > 0 and (m - 1) * tick >= t_on:
                m -= 1
            t = m * tick
            t_full = kappa * (vmax - v0) / b
            if t <= t_full:
                v1 = v0 + b * t / kappa
                return v1, m, 0.5 * (v0 + v1) * t, 0.0
            return vmax, m, 0.5 * (v0 + vmax) * t_full + vmax * (t - t_full), b * vmax * (t - t_full)
        v1 = v0 + b * total / kappa
        return v1, -1, 0.5 * (v0 + v1) * total, 0.0
    if b == 0.0 or v0 <= 0.0:
        return v0, -1, v0 * total, 0.0
    t_empty = kappa * v0 / -b
    if t_empty >= total:
        v1 = v0 + b * total / kappa
        return v1, -1, 0.5 * (v0 + v1) * total, 0.0
    return 0.0, -1, 0.5 * v0 * t_empty, 0.0

def supercap_block(storage: SupercapConfig, converter: ConverterConfig, timebase_ms: float) -> np.ndarray:
    """The supercapacitor's parameter block for the kernels (see the ``C_*`` offsets)."""
    block = np.zeros(C_SIZE)
    block[C_KAPPA] = 1000.0 * storage.capacitance_f
    block[C_VMAX], block[C_VON], block[C_VOFF] = storage.v_max, storage.v_on, storage.v_off
    block[C_LEAK] = storage.leakage_ua / 1000.0
    block[C_EFF], block[C_QUIESCENT] = converter.efficiency, converter.quiescent_ua / 1000.0
    block[C_VOUT] = converter.output_v
    block[C_TICK_S] = timebase_ms / 1000.0
    block[C_BOOT_TICKS] = math.ceil(storage.boot_ms / timebase_ms - 1e-9) if storage.boot_ms > 0 else 0
    block[C_BOOT_D] = timebase_ms / 3600.0 / 1000.0 * storage.boot_current_ma
    block[C_USABLE] = converter.usable_mah(storage, storage.v_max)
    return block
