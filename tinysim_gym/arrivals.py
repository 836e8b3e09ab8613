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

import numpy as np


class ArrivalStream:
    """Base class: fills an int64 array with the next arrival ticks (strictly increasing)."""

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

    def _gaps(self, n: int) -> np.ndarray:
        return self.base_gap + self.rng.geometric(self.p, size=n).astype(np.int64)


class SeedCompatStream(ArrivalStream):
    """Async workload exactly as the original draws it: Python ``random`` seeded with ``seed``.

    ``random.uniform(0, 1)`` is ``random.random()``, and NumPy's legacy ``RandomState`` turns the same
    Mersenne Twister state into the same doubles, so the draws are made in bulk from a copied state.
    """

    def __init__(self, min_interval_ticks: float, p: float, seed: int = 1, block: int = 1 << 16) -> None:
        super().__init__(min_interval_ticks)
        state = random.Random(seed).getstate()[1]
        self.rs = np.random.RandomState()
        self.rs.set_state(("MT19937", np.array(state[:624], dtype=np.uint32), state[624]))
        self.threshold = 1.0 - p
        self.pending = 0  # failed draws since the last success, carried between blocks
        self.block = block
        self.buf = np.empty(0, dtype=np.int64)

    def _gaps(self, n: int) -> np.ndarray:
        parts = [self.buf]
        have = len(self.buf)
        while have < n:
            u = self.rs.random_sample(self.block)
            idx = np.flatnonzero(u > self.threshold)
            if len(idx) == 0:
                self.pending += self.block
                continue
            g = np.empty(len(idx), dtype=np.int64)
            g[0] = idx[0] + 1 + self.pending
            g[1:] = np.diff(idx)
            self.pending = self.block - 1 - int(idx[-1])
            parts.append(g)
            have += len(g)
        allg = np.concatenate(parts)
        self.buf = allg[n:]
        return self.base_gap + allg[:n]
