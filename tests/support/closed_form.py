"""Closed forms of seed-compatible runs, in exact rational arithmetic (the engine must hit them exactly)."""

from __future__ import annotations

import math
from fractions import Fraction

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
