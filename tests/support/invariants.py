"""Invariants checked at every decision of an episode whose device can be off (a supercap, a restarting battery)."""

from __future__ import annotations

from typing import Any

from tinysim_gym.core.engine import Engine


def check_decision_with_off(e: Engine, timebase_ms: float, can_be_off: bool = True) -> dict[str, Any]:
    """Samples conserved (the one decided on counted) and time split into busy, idle, off and boot ticks."""
    m = e.metrics()
    assert m["arrivals"] == m["inferences"] + m["dropped"] + e.queue + 1, m
    off_boot = round((m["off_time_ms"] + m["boot_time_ms"]) / timebase_ms) if can_be_off else 0
    assert m["ticks"] == e.tick == m["busy_ticks"] + m["idle_ticks"] + off_boot, m
    return m
