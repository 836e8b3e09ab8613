"""The harvester of a scenario as the kernels' flat parameter block (times in ticks, currents in mA).

:func:`harvest_between` integrates a block exactly over any interval of ticks (the kernels call it once per
run of ticks, never per tick); its layouts are described there.
"""

from __future__ import annotations

import numpy as np

from tinysim_gym.config import ScenarioConfig, read_csv_columns
from tinysim_gym.core.jit import njit
from tinysim_gym.errors import TinySimError

# harvester kinds: the first entry of a harvest block
H_NONE = 0
H_CONSTANT = 1
H_SOLAR = 2
H_TRACE = 3


def harvest_block(scenario: ScenarioConfig) -> np.ndarray | None:
    """The harvest block of ``scenario`` (None without a harvester).

    Raises:
        TinySimError: a harvester trace with a negative current.
    """
    h = scenario.harvester
    if h is None:
        return None
    tb = scenario.workload.timebase_ms
    if h.kind == "constant":
        return np.array([H_CONSTANT, h.current_ma])
    if h.kind == "solar":
        period = h.period_ms / tb
        return np.array([H_SOLAR, h.peak_current_ma, period, h.day_fraction * period, h.phase_ms / tb])
    if h.kind == "pvlib":
        from tinysim_gym.core.sunlight import sunlight_steps  # pvlib and pandas load only for real sunlight

        assert scenario.horizon_ms is not None
        ticks, currents = sunlight_steps(h, tb, scenario.horizon_ms)
        return np.concatenate(([H_TRACE, len(ticks)], ticks, currents))
    assert h.trace is not None
    times, values = read_csv_columns(h.trace, "harvester.trace", 2)
    irradiance = h.trace_units == "irradiance_w_m2"
    if min(values) < 0:
        raise TinySimError(f"harvester.trace: {'irradiances' if irradiance else 'currents'} must be >= 0")
    currents = np.array(values) * (h.panel_ma_per_w_m2() if irradiance else 1.0)
    return np.concatenate(([H_TRACE, len(times)], np.array(times) / tb, currents))


@njit(cache=True)
def _solar_integral(t, peak, period, day, phase):
    """Integral from 0 to ``t`` (ticks) of ``peak * sin(pi * x / day)`` for ``x = (t - phase) mod period < day``."""
    u = (t - phase) / period
    n = np.floor(u)
    frac = (u - n) * period
    full = peak * day * 2.0 / np.pi
    part = full if frac >= day else peak * day / np.pi * (1.0 - np.cos(np.pi * frac / day))
    u0 = (0.0 - phase) / period
    n0 = np.floor(u0)
    frac0 = (u0 - n0) * period
    part0 = full if frac0 >= day else peak * day / np.pi * (1.0 - np.cos(np.pi * frac0 / day))
    return (n - n0) * full + part - part0


@njit(cache=True)
def harvest_between(PF, off, t0, t1, tb_ms):
    """Charge (mAh) the harvester delivers over ticks ``[t0, t1)`` of ``tb_ms`` each.

    Harvest block layouts (current in mA, times in ticks): constant ``[1, current]``; solar
    ``[2, peak, period, day_length, phase]`` (a half sine during the day, nothing at night); trace
    ``[3, m, times[m], currents[m]]`` (piecewise constant from each time on; before the first time the
    first current, after the last the last).
    """
    kind = PF[off]
    per_tick = tb_ms / 3600.0 / 1000.0  # mAh per mA per tick
    if kind == H_CONSTANT:
        return (t1 - t0) * per_tick * PF[off + 1]
    if kind == H_SOLAR:
        a = _solar_integral(float(t1), PF[off + 1], PF[off + 2], PF[off + 3], PF[off + 4])
        b = _solar_integral(float(t0), PF[off + 1], PF[off + 2], PF[off + 3], PF[off + 4])
        return (a - b) * per_tick
    if kind == H_TRACE:
        m = int(PF[off + 1])
        times = PF[off + 2 : off + 2 + m]
        cur = PF[off + 2 + m : off + 2 + 2 * m]
        total = 0.0
        # the last time <= t0 (-1: none), by bisection: ``np.searchsorted`` here would make every load of a
        # cached kernel import numba's array-math registry (its compiled helper's environment lives there)
        lo, hi = 0, m
        while lo < hi:
            mid = (lo + hi) // 2
            if times[mid] <= t0:
                lo = mid + 1
            else:
                hi = mid
        i = lo - 1
        t = float(t0)
        while t < t1:
            nxt = float(t1) if i + 1 >= m else min(float(t1), times[i + 1])
            c = cur[0] if i < 0 else cur[i]
            total += (nxt - t) * c
            t = nxt
            i += 1
        return total * per_tick
    return 0.0
