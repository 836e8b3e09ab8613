"""What the heuristics share: scenario facts read off the decision view, and parameter checks.

Every heuristic is a small class with ``reset(view)`` (read the scenario once per episode) and
``select(view) -> int`` (one decision). The view is the engine at a decision point, typed as
:class:`tinysim_gym.core.view.DecisionView`; heuristics read only what that protocol offers.

Heuristics that keep per-decision logic in numba also offer ``loop(view) -> (fn, params, mem)`` for the
compiled fast path of ``Engine.run`` (:mod:`baselines.fast`); ``select`` calls the very same numba decision
function, so both paths choose identically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinysim_gym.core.view import DecisionView
from tinysim_gym.errors import TinySimError
from tinysim_gym.optimal.lp import mean_gap_ticks


@dataclass(frozen=True)
class Facts:
    """Per-scenario numbers the heuristics need, computed once per episode.

    Attributes:
        n: number of models.
        accuracy: accuracy of each model (%).
        latency_ms: latency plus selector latency of each model (ms).
        ticks: busy ticks of one inference of each model.
        charge: charge of one inference of each model (mAh).
        net_charge: ``charge`` minus the idle charge of the ticks it replaces (mAh).
        idle_charge: charge of one idle tick (mAh).
        available: models the policy may choose (memory masking).
        capacity: battery capacity (mAh).
        buffer: buffer size (samples).
        horizon: horizon in ticks (-1: until depletion).
        gap: mean ticks between arrivals (``nan`` when unknown, e.g. a trace).
        min_gap: shortest possible gap in ticks (``floor(min_interval / timebase) + 1``, at least 1).
    """

    n: int
    accuracy: np.ndarray
    latency_ms: np.ndarray
    ticks: np.ndarray
    charge: np.ndarray
    net_charge: np.ndarray
    idle_charge: float
    available: np.ndarray
    capacity: float
    buffer: int
    horizon: int
    gap: float
    min_gap: float

    @classmethod
    def of(cls, view: DecisionView) -> Facts:
        """Read the facts off a decision view (an engine)."""
        costs = view.model_costs()
        try:
            gap = mean_gap_ticks(view.scenario)
        except TinySimError:
            gap = math.nan
        return cls(
            n=int(view.n_models),
            accuracy=np.asarray(view.accuracies, dtype=np.float64),
            latency_ms=np.array(view.scenario.profile.total_latencies_ms, dtype=np.float64),
            ticks=costs.ticks,
            charge=np.asarray(view.inference_charge_mah, dtype=np.float64),
            net_charge=costs.net_charge,
            idle_charge=costs.idle_charge,
            available=costs.available,
            capacity=float(view.scenario.battery.capacity_mah),
            buffer=int(view.buffer_size),
            horizon=int(view.horizon_ticks),
            gap=gap,
            min_gap=float(max(1, view.period_ticks)),
        )

    def allowed(self) -> np.ndarray:
        """Indices of the models the policy may choose."""
        return np.flatnonzero(self.available)

    def by_accuracy(self) -> np.ndarray:
        """Allowed models, most accurate first (ties: the quicker first)."""
        ok = self.allowed()
        return ok[np.lexsort((self.ticks[ok], -self.accuracy[ok]))]

    def fastest(self) -> int:
        """The allowed model with the fewest busy ticks (ties: the more accurate)."""
        ok = self.allowed()
        return int(ok[np.lexsort((-self.accuracy[ok], self.ticks[ok]))[0]])

    def pareto_front(self) -> list[int]:
        """Allowed models no other allowed model beats on both accuracy and latency, most accurate first."""
        idx = self.allowed()
        front = []
        for i in idx:
            dominated = any(
                self.accuracy[j] >= self.accuracy[i]
                and self.ticks[j] <= self.ticks[i]
                and (self.accuracy[j] > self.accuracy[i] or self.ticks[j] < self.ticks[i])
                for j in idx
            )
            if not dominated:
                front.append(int(i))
        return sorted(front, key=lambda k: (-self.accuracy[k], self.ticks[k], k))


def check_number(name: str, value: Any, lo: float, hi: float) -> float:
    """A finite number in ``[lo, hi]``, or a one-line :class:`TinySimError` saying what is allowed."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TinySimError(f"{name}: expected a number in {lo:g}..{hi:g}, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise TinySimError(f"{name}: {value!r} is outside the allowed range {lo:g}..{hi:g}")
    return v


def check_index(name: str, value: Any, n: int) -> int:
    """A model index in ``0..n-1``, or a one-line :class:`TinySimError`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TinySimError(f"{name}: expected an integer model index in 0..{n - 1}, got {value!r}")
    if not 0 <= int(value) < n:
        raise TinySimError(f"{name}: model index {int(value)} out of range 0..{n - 1}")
    return int(value)


def check_sequence(name: str, value: Any) -> list[Any]:
    """A list from a list/tuple/array (or a comma-separated string, as ``--param`` gives it)."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
        out: list[Any] = []
        for v in value:
            try:
                out.append(int(v))
            except ValueError:
                try:
                    out.append(float(v))
                except ValueError:
                    raise TinySimError(f"{name}: {v!r} is not a number") from None
        return out
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, Sequence | np.ndarray):
        raise TinySimError(f"{name}: expected a list of numbers, got {value!r}")
    return list(value)
