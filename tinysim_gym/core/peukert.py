"""Peukert's law: a battery's usable capacity shrinks as the discharge current grows.

At a constant current ``I`` a battery rated ``C`` at the current ``I_rated`` delivers
``C (I_rated / I)^(n - 1)``, where ``n >= 1`` is Peukert's exponent (1: an ideal battery); its lifetime is
``C / I (I_rated / I)^(n - 1)``.

For a varying current the standard rule is used: the battery keeps an *effective* charge, rated at
``I_rated``, and charge drawn at a current ``I`` is counted ``(I / I_rated)^(n - 1)`` times. The device's
currents are piecewise constant (idle, and each model's inference), so the rule is applied once per
constant-current run: every per-tick charge the kernels see is the effective one, computed here once when
the engine is built, and a run costs exactly what it costs for the linear battery. A constant current then
gives the closed-form lifetime above, and the energy figures (``energy_mah``, ``inference_charge_mah``,
``idle_charge_mah``) are effective charge: the share of the rated capacity each activity used.

With a harvester, harvested charge counts one for one (Peukert's law is a law of discharge: charging is
taken as ideal) and the load's charge counts as above, each over the same run of ticks
(:mod:`tinysim_gym.core.battery`); under a constant load ``I`` and harvest ``I_h`` the battery lasts
``C / (I (I / I_rated)^(n - 1) - I_h)``.
"""

from __future__ import annotations

import numpy as np


def effective_charge(
    per_tick_mah: np.ndarray, timebase_ms: float, exponent: float, rated_current_ma: float
) -> np.ndarray:
    """Effective charge of ticks drawing ``per_tick_mah`` each: scaled by ``(I / I_rated)^(exponent - 1)``.

    Args:
        per_tick_mah: charge each tick draws (mAh, >= 0), one per constant current.
        timebase_ms: length of a tick (ms), which turns a tick's charge back into its current.
        exponent: Peukert's exponent (>= 1).
        rated_current_ma: the current (mA, > 0) at which the capacity is rated.

    Returns:
        The charge each tick takes from the rated capacity (mAh); a tick drawing nothing takes nothing.
    """
    charge = np.asarray(per_tick_mah, dtype=np.float64)
    current_ma = charge * (3600.0 * 1000.0 / timebase_ms)
    return charge * (current_ma / rated_current_ma) ** (exponent - 1.0)
