"""A plain tick-by-tick reference implementation of the seed model (described in docs/seed-model.md).

This is the oracle the event-driven engine is tested against, so it is written for obviousness, not
speed: one ``while`` iteration per tick, the floating-point operations in the original's order.

Details taken from the original (and consistent with the spec page):

* the selector sees ``remaining / capacity * 100`` (the original's ``batt.percentage() * 100``); note this
  is not always bit-equal to ``100 * remaining / capacity`` when the capacity is not 1 mAh;
* the SoC that stops the loop is the one read at the start of the previous tick, so a battery that starts
  at SoC <= 0 runs no tick at all (the original reads it once before its loop);
* weighted accuracy sums ``count * accuracy`` over the models in order, then divides.

Configurations the original cannot run sensibly are refused with ``ValueError``: sync mode with a model
latency above ``min_interval_ms`` (the original asserts), and async mode with a model whose latency rounds
to 0 ticks (the original would then stay "busy" forever).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any


def reference_run(
    *,
    mode: str,
    min_interval_ms: float,
    latencies_ms: list[float],
    selector_latency_ms: float,
    accuracies: list[float],
    inference_current_ma: float,
    idle_current_ma: float,
    capacity_mah: float,
    select: Callable[[float, int], int],
    timebase_ms: float = 0.01,
    buffer_size: int = 6,
    arrival_probability: float = 0.5,
    rng_seed: int = 1,
    initial_soc: float = 1.0,
    max_ticks: int | None = None,
) -> dict:
    """Run the seed model tick by tick until the battery is exhausted.

    Args:
        mode: ``"sync"`` or ``"async"``.
        min_interval_ms: minimum interval between arrivals (ms).
        latencies_ms: latency of each model (ms), without the selector latency.
        selector_latency_ms: added to every model's latency.
        accuracies: accuracy of each model (%).
        inference_current_ma: current while inferring (mA).
        idle_current_ma: current while idle (mA).
        capacity_mah: battery capacity (mAh).
        select: ``select(soc_pct, q) -> model index``.
        timebase_ms: tick length (ms).
        buffer_size: async buffer capacity (samples).
        arrival_probability: async probability of an arrival on an eligible tick.
        rng_seed: seed of the ``random.Random`` instance drawing arrivals.
        initial_soc: initial state of charge as a fraction of the capacity.
        max_ticks: safety cap; exceeding it raises ``RuntimeError``.

    Returns:
        A dict with operating_time_ms, ticks, inferences, dropped, weighted_accuracy, energy_mah, arrivals,
        buffered_at_end, model_counts, busy_ticks and idle_ticks. In sync mode busy_ticks counts the
        arrival ticks (charged an inference) and idle_ticks the others.

    Raises:
        ValueError: on an unknown mode, mismatched model lists, a configuration the original cannot run,
            or a selector returning an index out of range.
        RuntimeError: when more than ``max_ticks`` ticks would run.
    """
    if mode not in ("sync", "async"):
        raise ValueError(f"unknown mode {mode!r}")
    if len(latencies_ms) != len(accuracies) or not latencies_ms:
        raise ValueError("latencies_ms and accuracies must be non-empty and of equal length")
    lat_total = [lat + selector_latency_ms for lat in latencies_ms]
    if mode == "sync" and max(lat_total) > min_interval_ms:
        raise ValueError("in sync mode min_interval_ms must be >= every model's latency (with selector)")
    if mode == "async" and any(round(lat / timebase_ms) < 1 for lat in lat_total):
        raise ValueError("in async mode every model's latency must round to at least one tick")

    n_models = len(latencies_ms)
    rng = random.Random(rng_seed)
    threshold = 1.0 - arrival_probability
    m = min_interval_ms / timebase_ms

    remaining = capacity_mah * initial_soc
    initial = remaining

    def discharge(time_ms: float, current_ma: float) -> None:
        nonlocal remaining
        remaining -= time_ms / 3600 / 1000 * current_ma

    def choose(soc_pct: float, q: int) -> int:
        k = select(soc_pct, q)
        if not 0 <= k < n_models:
            raise ValueError(f"selector returned model index {k} (have {n_models} models)")
        return k

    t = 0
    t_last = 0
    ticks = 0
    b = 0  # async: ticks of the running inference still to charge after the current one
    q = 0  # async: samples in the buffer
    arrivals = 0
    dropped = 0
    busy_ticks = 0
    idle_ticks = 0
    model_counts = [0] * n_models

    soc = remaining / capacity_mah
    while soc > 0:
        if max_ticks is not None and ticks >= max_ticks:
            raise RuntimeError(f"the run exceeded max_ticks={max_ticks}")
        soc = remaining / capacity_mah  # start-of-tick SoC: the loop stops after a tick where it is <= 0
        soc_pct = soc * 100

        # the arrival process
        arrival = False
        if t - t_last > m:
            u = rng.uniform(0.0, 1.0)  # drawn on every eligible tick, in both modes
            arrival = mode == "sync" or u > threshold
            if arrival:
                t_last = t
                arrivals += 1
        t += 1

        if mode == "sync":
            if arrival:
                k = choose(soc_pct, 0)
                model_counts[k] += 1
                discharge(math.ceil(lat_total[k] / timebase_ms) * timebase_ms, inference_current_ma)
                discharge(min_interval_ms * timebase_ms, idle_current_ma)
                busy_ticks += 1
            else:
                discharge(1 * timebase_ms, idle_current_ma)
                idle_ticks += 1
        elif b == 0:
            if arrival:
                # served at once; the buffer is left as it is
                k = choose(soc_pct, q)
                model_counts[k] += 1
                discharge(1 * timebase_ms, inference_current_ma)
                b = round(lat_total[k] / timebase_ms) - 1
                busy_ticks += 1
            elif q > 0:
                q -= 1
                k = choose(soc_pct, q)
                model_counts[k] += 1
                discharge(1 * timebase_ms, inference_current_ma)
                b = round(lat_total[k] / timebase_ms) - 1
                busy_ticks += 1
            else:
                discharge(1 * timebase_ms, idle_current_ma)
                idle_ticks += 1
        else:
            if arrival:
                if q == buffer_size:
                    dropped += 1
                q = min(q + 1, buffer_size)
            discharge(1 * timebase_ms, inference_current_ma)
            b -= 1
            busy_ticks += 1

        ticks += 1

    inferences = sum(model_counts)
    acc_sum = 0.0
    for count, acc in zip(model_counts, accuracies, strict=True):
        acc_sum += count * acc
    samples = inferences + dropped
    return {
        "operating_time_ms": ticks * timebase_ms,
        "ticks": ticks,
        "inferences": inferences,
        "dropped": dropped,
        "weighted_accuracy": acc_sum / samples if samples > 0 else 0.0,
        "energy_mah": initial - remaining,
        "arrivals": arrivals,
        "buffered_at_end": q,
        "model_counts": model_counts,
        "busy_ticks": busy_ticks,
        "idle_ticks": idle_ticks,
    }


def reference_for(scenario: Any, select: Callable[[float, int], int], max_ticks: int | None = None) -> dict:
    """:func:`reference_run` on a validated ``ScenarioConfig`` (the fields it reads, nothing else)."""
    p = scenario.profile
    w = scenario.workload
    return reference_run(
        mode=w.mode, min_interval_ms=w.min_interval_ms, latencies_ms=[m.latency_ms for m in p.models],
        selector_latency_ms=p.selector_latency_ms, accuracies=p.accuracies,
        inference_current_ma=scenario.board.inference_current_ma, idle_current_ma=scenario.board.idle_current_ma,
        capacity_mah=scenario.battery.capacity_mah, select=select, timebase_ms=w.timebase_ms,
        buffer_size=w.buffer_size, arrival_probability=w.arrival_probability,
        initial_soc=scenario.battery.initial_soc, max_ticks=max_ticks)
