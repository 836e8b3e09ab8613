"""An episode's figures read off the engine's state arrays: what ``tinysim simulate --json`` prints.

Every sample that arrives ends in exactly one of four places: served (``inferences``, deadline misses
included), ``dropped`` (buffer overflow, or lost after the end), ``skipped`` (discarded by the skip action)
or still ``buffered_at_end``. The weighted accuracy divides the credited accuracy by the first three.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core import layout as L
from tinysim_gym.core.supercap_metrics import restart_metrics, supercap_metrics

_REASONS = {L.END_DEPLETED: "depleted", L.END_HORIZON: "horizon", L.END_WORKLOAD: "workload_end"}


def episode_metrics(
    scenario: ScenarioConfig,
    st: np.ndarray,
    fs: np.ndarray,
    model_ids: Sequence[str],
    accuracies: np.ndarray,
    initial_mah: float,
    soc: float,
    seed: int | None,
) -> dict[str, Any]:
    """One flat dict of the episode's figures so far.

    Args:
        scenario: the engine's scenario.
        st: the int state array.
        fs: the float state array.
        model_ids: the models' ids, in profile order.
        accuracies: the models' accuracies (%).
        initial_mah: the charge at the start.
        soc: the state of charge now (clipped to [0, 1]).
        seed: the episode seed (None in seed-compatible mode).
    """
    tb = scenario.workload.timebase_ms
    inf = int(st[L.S_INF])
    dropped = int(st[L.S_DROP_OVF] + st[L.S_DROP_AFTER])
    skipped = int(st[L.S_SKIPPED])
    served = inf + dropped + skipped  # every sample that left the device, with or without an answer
    end = int(st[L.S_END])
    ticks = end if end >= 0 else int(st[L.S_FREE])
    n = len(model_ids)
    counts = st[L.S_COUNTS : L.S_COUNTS + n]
    misses = st[L.S_COUNTS + n : L.S_COUNTS + 2 * n]
    acc_total = 0.0
    for count, miss, acc in zip(counts, misses, accuracies, strict=True):
        acc_total += int(count - miss) * float(acc)  # per model, in order: fewer roundings than per decision
    return {
        "scenario": scenario.name,
        "seed_compat": scenario.seed_compat,
        "seed": seed,
        "end_reason": _REASONS.get(int(st[L.S_REASON]), "running"),
        "operating_time_ms": ticks * tb,
        "ticks": ticks,
        "inferences": inf,
        "dropped": dropped,
        "dropped_overflow": int(st[L.S_DROP_OVF]),
        "dropped_after_end": int(st[L.S_DROP_AFTER]),
        "skipped": skipped,
        "arrivals": int(st[L.S_ARR]),
        "buffered_at_end": int(st[L.S_Q]),
        "weighted_accuracy": acc_total / served if served else 0.0,
        "energy_mah": initial_mah - float(fs[L.G_R]) + float(fs[L.G_HARVESTED]),  # charge drawn
        "soc_end": float(soc),
        "busy_ticks": int(st[L.S_BUSY]),
        "idle_ticks": int(st[L.S_IDLE]),
        "inference_charge_mah": float(fs[L.G_DRAWN_INF]),
        "idle_charge_mah": float(fs[L.G_DRAWN_IDLE]),
        "deadline_misses": int(st[L.S_MISSES]),
        "harvested_mah": float(fs[L.G_HARVESTED]),
        "spilled_mah": float(fs[L.G_SPILLED]),
        "model_counts": {mid: int(c) for mid, c in zip(model_ids, counts, strict=True)},
    } | _storage_metrics(scenario, st, fs)


def _storage_metrics(scenario: ScenarioConfig, st: np.ndarray, fs: np.ndarray) -> dict[str, float | int]:
    """Brown-out figures: a supercap's, or a restarting battery's; nothing for a battery that stays off."""
    if scenario.storage is not None:
        return supercap_metrics(scenario, st, fs)
    return restart_metrics(scenario, st, fs) if scenario.battery.restart_soc is not None else {}
