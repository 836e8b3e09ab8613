"""Arrival processes: absolute arrival ticks, produced in chunks so memory never grows with episode length.

The original's arrival process does not depend on the decisions: after an arrival at tick ``t`` the next
tick that may hold one is ``t + floor(m) + 1`` (``m = min_interval / timebase``), and from there each tick
draws ``u`` and has an arrival when ``u > 1 - p``. So the gap to the next arrival is ``floor(m) + G`` with
``G`` the (1-based) index of the first successful draw, a geometric variate. This lets a whole stream of
arrival ticks be made with a few array operations.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tinysim_gym.core.arrival_draws import (
    GEOMETRIC_SEARCH_MIN_P,
    MT_DOUBLES_PER_TWIST,
    bernoulli_ticks,
    geometric_ticks,
    mt19937_doubles,
)
from tinysim_gym.errors import TinySimError

if TYPE_CHECKING:
    from tinysim_gym.config import ScenarioConfig


class ArrivalStream:
    """Base class: fills an int64 array with the next arrival ticks (non-decreasing)."""

    def __init__(self, min_interval_ticks: float) -> None:
        self.base_gap = math.floor(min_interval_ticks)
        self.last = 0

    def fill(self, out: np.ndarray) -> int:
        """Write the next ``len(out)`` arrival ticks into ``out``; return how many were written."""
        gaps = self._gaps(len(out))
        np.cumsum(gaps, out=out)
        out += self.last
        self.last = int(out[-1])
        return len(out)

    def _gaps(self, n: int) -> np.ndarray:
        raise NotImplementedError


class PeriodicStream(ArrivalStream):
    """Sync workload: an arrival on every eligible tick (period ``floor(m) + 1`` ticks)."""

    def _gaps(self, n: int) -> np.ndarray:
        return np.full(n, self.base_gap + 1, dtype=np.int64)


class GeometricStream(ArrivalStream):
    """Async workload drawn from a :class:`numpy.random.Generator` (the default mode)."""

    def __init__(self, min_interval_ticks: float, p: float, rng: np.random.Generator) -> None:
        super().__init__(min_interval_ticks)
        self.p = p
        self.rng = rng
        self._u = np.empty(0)

    def fill(self, out: np.ndarray) -> int:
        """Write the next ``len(out)`` arrival ticks; NumPy's search method is run compiled where it applies."""
        if self.p < GEOMETRIC_SEARCH_MIN_P:
            return super().fill(out)
        if len(self._u) != len(out):
            self._u = np.empty(len(out))
        self.rng.random(out=self._u)  # the doubles ``geometric`` would take, one per variate
        self.last = int(geometric_ticks(self._u, self.p, self.last, self.base_gap, out))
        return len(out)

    def _gaps(self, n: int) -> np.ndarray:
        return self.base_gap + self.rng.geometric(self.p, size=n).astype(np.int64)


class SeedCompatStream(ArrivalStream):
    """Async workload exactly as the original draws it: Python ``random`` seeded with ``seed``.

    ``random.uniform(0, 1)`` is ``random.random()``, so the doubles are made in bulk from a copy of the
    Mersenne Twister state (:func:`~tinysim_gym.core.arrival_draws.mt19937_doubles`), ``block`` at a time
    (rounded up to whole twists).
    """

    def __init__(self, min_interval_ticks: float, p: float, seed: int = 1, block: int = 1 << 16) -> None:
        super().__init__(min_interval_ticks)
        state = random.Random(seed).getstate()[1]
        assert state[624] == 624  # a freshly seeded generator sits at the end of a twist
        self.key = np.array(state[:624], dtype=np.uint32)
        self.threshold = 1.0 - p
        self.pending = 0  # failed draws since the last success, carried between blocks
        self.u = np.empty(-(-block // MT_DOUBLES_PER_TWIST) * MT_DOUBLES_PER_TWIST)
        self.pos = len(self.u)  # the first fill draws a block

    def fill(self, out: np.ndarray) -> int:
        """Write the next ``len(out)`` arrival ticks into ``out``; return how many were written."""
        filled = 0
        while filled < len(out):
            if self.pos >= len(self.u):
                mt19937_doubles(self.key, self.u)
                self.pos = 0
            self.pos, self.pending, self.last, filled = bernoulli_ticks(
                self.u, self.pos, self.threshold, self.pending, self.last, self.base_gap, out, filled)
        return len(out)


class _ContinuousStream(ArrivalStream):
    """Base for processes defined in continuous time (ms): arrival ticks are ``floor(time / timebase)``.

    Several arrivals may fall in one tick; the engine serves one and buffers the rest.
    """

    def __init__(self, timebase_ms: float) -> None:
        super().__init__(0.0)
        self.tb = timebase_ms
        self.now_ms = 0.0

    def fill(self, out: np.ndarray) -> int:
        """Write the next arrival ticks into ``out`` (all of it, or up to the end of a finite process)."""
        gaps = self._gaps_ms(len(out))
        times = self.now_ms + np.cumsum(gaps)
        if len(times):
            self.now_ms = float(times[-1])
        n = len(times)
        out[:n] = np.floor(times / self.tb).astype(np.int64)
        out[n:] = END_OF_ARRIVALS
        return len(out)

    def _gaps_ms(self, n: int) -> np.ndarray:
        raise NotImplementedError


END_OF_ARRIVALS = np.int64(1) << np.int64(62)
"""Sentinel tick after the last arrival of a finite process (a trace)."""

MAX_TRACE_TICK = 1 << 61
"""Trace times must fall below this tick: half the sentinel, so that a sample's finish tick (arrival plus a
latency of up to 1e12 ticks) and the rounding of the replayed gaps stay far below ``END_OF_ARRIVALS``,
which the kernels would otherwise read as the end of the workload (or, past ``2**63``, as garbage)."""


def checked_trace_times(
    times_ms: Sequence[float] | np.ndarray, timebase_ms: float, field: str = "workload.trace"
) -> np.ndarray:
    """Trace arrival times as float64 ms, refused when a tick would not fit below :data:`MAX_TRACE_TICK`.

    Args:
        times_ms: arrival times in ms (non-negative, non-decreasing: the CSV reader checks that).
        timebase_ms: the scenario's tick length.
        field: the config field named in the error.

    Raises:
        TinySimError: a time at or beyond ``MAX_TRACE_TICK * timebase_ms`` (one line with the allowed range).
    """
    times = np.asarray(times_ms, dtype=np.float64)
    limit_ms = MAX_TRACE_TICK * float(timebase_ms)
    # compare the ticks as computed in fill(), not the times, so the rounding of the division counts too
    worst = float(np.max(times)) if times.size else 0.0
    if not worst / timebase_ms < MAX_TRACE_TICK:
        raise TinySimError(
            f"{field}: arrival time {worst:.6g} ms is beyond the representable range; times must be >= 0 "
            f"and < {limit_ms:.6g} ms (2**61 ticks of {timebase_ms:g} ms)"
        )
    return times


class JitteredPeriodicStream(_ContinuousStream):
    """Periodic samples with timer jitter: sample ``i`` arrives at ``i * period + U(-jitter, +jitter)`` ms.

    The jitter moves each sample around its slot without drift; ``jitter < period / 2`` keeps the order.
    """

    def __init__(self, period_ms: float, jitter_ms: float, timebase_ms: float, rng: np.random.Generator) -> None:
        super().__init__(timebase_ms)
        self.period, self.jitter, self.rng = period_ms, jitter_ms, rng
        self.slot = 0
        self.prev_offset = 0.0

    def _gaps_ms(self, n: int) -> np.ndarray:
        offsets = self.rng.uniform(-self.jitter, self.jitter, size=n) if self.jitter > 0 else np.zeros(n)
        times = (self.slot + 1 + np.arange(n)) * self.period + offsets
        prev = self.slot * self.period + self.prev_offset
        self.slot += n
        self.prev_offset = float(offsets[-1])
        return np.diff(np.concatenate(([prev], times)))


class PoissonStream(_ContinuousStream):
    """A Poisson process of ``rate_hz`` samples per second (exponential gaps)."""

    def __init__(self, rate_hz: float, timebase_ms: float, rng: np.random.Generator) -> None:
        super().__init__(timebase_ms)
        self.mean_gap_ms, self.rng = 1000.0 / rate_hz, rng

    def _gaps_ms(self, n: int) -> np.ndarray:
        return self.rng.exponential(self.mean_gap_ms, size=n)


class MMPPStream(_ContinuousStream):
    """Bursty arrivals: a two-state Markov-modulated Poisson process.

    Draws come in fixed blocks of ``BLOCK``, so the arrival times do not depend on how many are requested
    at a time.

    In state ``s`` samples arrive at ``rates_hz[s]`` and the state switches at ``switch_hz[s]``. The
    stationary share of state 1 is ``switch_hz[0] / (switch_hz[0] + switch_hz[1])``.
    """

    BLOCK = 4096

    def __init__(self, rates_hz: tuple[float, float], switch_hz: tuple[float, float], timebase_ms: float,
                 rng: np.random.Generator) -> None:
        super().__init__(timebase_ms)
        self.rates = np.asarray(rates_hz, dtype=np.float64) / 1000.0  # per ms
        self.switch = np.asarray(switch_hz, dtype=np.float64) / 1000.0
        self.rng = rng
        pi1 = self.switch[0] / (self.switch[0] + self.switch[1])
        self.state = int(rng.random() < pi1)
        self.e = self.u = np.empty(0)
        self.pos = 0
        self.acc = 0.0

    def _gaps_ms(self, n: int) -> np.ndarray:
        gaps = np.empty(n)
        i = 0
        while i < n:
            if self.pos >= len(self.e):  # fixed-size draws: the stream does not depend on chunk sizes
                self.e = self.rng.exponential(1.0, size=self.BLOCK)
                self.u = self.rng.random(size=self.BLOCK)
                self.pos = 0
            s = self.state
            total = self.rates[s] + self.switch[s]
            self.acc += self.e[self.pos] / total
            if self.u[self.pos] * total < self.rates[s]:  # competing exponentials: an arrival, or a switch
                gaps[i] = self.acc
                self.acc = 0.0
                i += 1
            else:
                self.state = 1 - s
            self.pos += 1
        return gaps


class TraceStream(_ContinuousStream):
    """Replay of recorded arrival times (ms, non-decreasing); the workload ends after the last one."""

    def __init__(self, times_ms: np.ndarray, timebase_ms: float) -> None:
        super().__init__(timebase_ms)
        times = checked_trace_times(times_ms, timebase_ms)
        self.gaps = np.diff(np.concatenate(([0.0], times)))
        self.pos = 0

    def _gaps_ms(self, n: int) -> np.ndarray:
        g = self.gaps[self.pos : self.pos + n]
        self.pos += len(g)
        return g


def make_stream(scenario: ScenarioConfig, trace_ms: np.ndarray | None, seed: int | None,
                rng: np.random.Generator | None) -> ArrivalStream:
    """The arrival stream of one episode of ``scenario`` (queueing kinds; seed-compatible sync has none).

    Args:
        scenario: the scenario; its workload picks the process.
        trace_ms: the checked arrival times of a trace workload (None otherwise).
        seed: seeds the default mode's generator when ``rng`` is None (the seed-compatible mode always
            replays the original's stream, seeded with 1).
        rng: the generator to draw from (the Gymnasium env passes its ``np_random``).
    """
    w = scenario.workload
    tb = w.timebase_ms
    min_interval_ticks = (w.min_interval_ms or 0.0) / tb
    if scenario.seed_compat:
        return SeedCompatStream(min_interval_ticks, w.arrival_probability, seed=1)
    if w.mode == "sync":
        return PeriodicStream(min_interval_ticks)
    gen = rng if rng is not None else np.random.default_rng(seed)
    if w.process == "bernoulli":
        return GeometricStream(min_interval_ticks, w.arrival_probability, gen)
    if w.process == "periodic":
        return JitteredPeriodicStream(w.min_interval_ms or 0.0, w.jitter_ms, tb, gen)
    if w.process == "poisson":
        return PoissonStream(w.rate_hz or 0.0, tb, gen)
    if w.process == "mmpp":
        assert w.mmpp is not None
        return MMPPStream(w.mmpp.rates_hz, w.mmpp.switch_hz, tb, gen)
    assert trace_ms is not None
    return TraceStream(trace_ms, tb)
