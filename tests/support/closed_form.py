"""Closed forms the engine must hit: seed-compatible runs in exact rational arithmetic, a KiBaM lifetime."""

from __future__ import annotations

import math
from fractions import Fraction

from scipy.special import lambertw

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core.engine import discharge_mah


def closed_form_sync(sc: ScenarioConfig, model: int) -> tuple[int, int]:
    """Number of inferences and ticks of a seed-compatible sync run, in exact rational arithmetic."""
    w, tb = sc.workload, sc.workload.timebase_ms
    D = math.floor(w.min_interval_ms / tb) + 1
    lat = sc.profile.total_latencies_ms[model]
    lump = Fraction(discharge_mah(math.ceil(lat / tb) * tb, sc.board.inference_current_ma))
    lump += Fraction(discharge_mah(w.min_interval_ms * tb, sc.board.idle_current_ma))
    idle = Fraction(discharge_mah(tb, sc.board.idle_current_ma))
    r0 = Fraction(sc.battery.capacity_mah)
    # the charge at the start of arrival tick n (n >= 1) is r0 - D*idle - (n-1)*(lump + (D-1)*idle)
    per = lump + (D - 1) * idle
    n = math.floor((r0 - D * idle) / per) + 1  # first arrival whose start-of-tick charge is <= 0, or after
    start_n = r0 - D * idle - (n - 1) * per
    if start_n <= 0:  # the battery is empty at the start of arrival tick n: it runs, then the end
        return n, n * D + 1
    after = start_n - lump  # after arrival n's lump, idle ticks until the charge is <= 0
    j = math.ceil(after / idle) if after > 0 else 0
    return n, n * D + j + 1 + 1


def kibam_lifetime_s(capacity_mah: float, current_ma: float, c: float, k_per_s: float) -> float:
    """Time (s) until the available well of a KiBaM battery, both wells full, empties at a constant current.

    ``h1(t) = C - I t - B (1 - exp(-k' t))`` with ``B = (1 - c)^2 I / k`` and ``k' = k / (c (1 - c))``;
    ``h1 = 0`` solves as ``t = A / I + W(k' B / I exp(-k' A / I)) / k'`` with ``A = C - B``.
    """
    i = current_ma / 3600.0  # mAh per s
    kp = k_per_s / (c * (1 - c))
    b = (1 - c) ** 2 * i / k_per_s
    a = capacity_mah - b
    z = kp * b / i * math.exp(-kp * a / i)
    return a / i + float(lambertw(z).real) / kp
