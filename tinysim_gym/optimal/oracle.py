"""The dynamic-programming oracle: solve the scenario's SMDP, then act greedily on it in the real engine.

The solution has two levels (the discretisation is :mod:`tinysim_gym.optimal.mdp`'s):

1. **Priced stationary policies.** For a grid of charge prices ``lambda`` (accuracy points per mAh), policy
   iteration (:func:`~tinysim_gym.optimal.dp.average_reward`) gives the policy that maximises the long-run
   ``accuracy - lambda * charge`` per tick over the state ``(queue, arrival phase, head age)``, its value
   table, and its accuracy and charge rates. The grid holds 0, every price at which two models trade
   places, prices around those, and a geometric sweep.
2. **Pacing over the horizon.** Backward induction over (time block, charge)
   (:func:`~tinysim_gym.optimal.dp.pacing`) picks which priced policy to follow in each block, with the
   harvester's charge per block and the storage's capacity, the charge moving as the engine's storage
   does (:mod:`tinysim_gym.optimal.fluid`: a battery, or a supercapacitor behind its converter). Until
   depletion the weighted accuracy is a ratio per arrival whatever the battery, so the price-0 policy is
   optimal and no pacing is needed.

At a decision the oracle reads the engine: the tick, charge, queue, the exact phase (ticks since the last
arrival, from the engine's arrival buffer; for an MMPP the hidden modulating state, replayed from the same
seed), the waiting sample's age; it picks the priced policy by one step of the pacing table, then the model
with the best value in that policy's table (the immediate accuracy judged at the sample's true age).

Information an agent's observation does not carry: the arrival phase and the MMPP state, and the waiting
sample's age. :class:`OracleSelector` with ``observed=True`` is the variant restricted to the agent's
observation (charge, time, queue): each value is averaged over the hidden state with the policy's
long-run shares of the states having that queue.

With ``allow_skip`` the skip is one more action of the SMDP (no accuracy, the selector's ticks and charge);
the tables and the greedy step take any number of actions, and the selector answers its engine index.

Solutions are cached on disk (:mod:`tinysim_gym.optimal.cache`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine
from tinysim_gym.optimal import cache
from tinysim_gym.optimal.dp import Pacing, average_reward, pacing
from tinysim_gym.optimal.fluid import reserve_table
from tinysim_gym.optimal.mdp import build_model

VERSION = 5
#: ``phase_bins``: under a horizon (dozens of priced policies); ``depletion_phase_bins``: until depletion, where
#: one policy is solved and every phase of the built-in workloads (up to 201) fits, so the model is exact
SETTINGS = {"phase_bins": 100, "depletion_phase_bins": 400, "age_bins": 24, "blocks": 200, "charge_points": 801,
            "version": VERSION}


@dataclass
class OracleSolution:
    """Everything the greedy step needs (plain arrays, so it caches as ``.npz``).

    Attributes:
        prices: charge price of each priced policy (ascending).
        cont: ``cont[i, x, k]``: value of action ``k`` in state ``x`` under policy ``i``, less its accuracy.
        reward: ``reward[x, k]``: accuracy credited at the state's age bin.
        observed_q: ``observed_q[i, q, k]``: the full value averaged over the hidden state given queue ``q``.
        acc_rate, charge_rate: per tick, of each priced policy.
        actions, ticks, accuracy, charge: per action: model index, service ticks, accuracy, inference charge.
        idle_charge: charge of one idle tick.
        reserve_bounds, reserve: the charge needed at each bound (ticks) to serve every later sample with the
            cheapest policy until the horizon (:func:`~tinysim_gym.optimal.fluid.reserve_table`; empty
            until depletion).
        capacity: the storage's capacity as the engine reports charge (mAh).
        phase_bin, age_edges: the state discretisation; ``phase_kind``/``phase_cap`` how to read the phase.
        buffer, deadline, horizon: as the engine counts them (ticks; -1: none).
        pace: the pacing table (None until depletion or when charge never binds).
        stats: solve time and sizes.
    """

    prices: np.ndarray
    cont: np.ndarray
    reward: np.ndarray
    observed_q: np.ndarray
    acc_rate: np.ndarray
    charge_rate: np.ndarray
    actions: np.ndarray
    ticks: np.ndarray
    accuracy: np.ndarray
    charge: np.ndarray
    idle_charge: float
    reserve_bounds: np.ndarray
    reserve: np.ndarray
    capacity: float
    phase_bin: np.ndarray
    age_edges: np.ndarray
    phase_kind: str
    phase_cap: int
    buffer: int
    deadline: int
    horizon: int
    pace: Pacing | None
    stats: dict[str, Any]

    @property
    def n_age(self) -> int:
        """Number of age bins."""
        return len(self.age_edges)

    @property
    def n_phase(self) -> int:
        """Number of phase bins."""
        return int(self.phase_bin.max()) + 1

    def state(self, q: int, phase: int, age: float) -> int:
        """Flat state index of an exact (queue, phase, age)."""
        a = int(np.searchsorted(self.age_edges, age, side="right") - 1)
        return (min(q, self.buffer) * self.n_phase + int(self.phase_bin[phase])) * self.n_age + max(a, 0)

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays and JSON metadata for the cache."""
        arrays = {k: np.asarray(getattr(self, k)) for k in (
            "prices", "cont", "reward", "observed_q", "acc_rate", "charge_rate", "actions", "ticks", "accuracy",
            "charge", "phase_bin", "age_edges", "reserve_bounds", "reserve")}
        if self.pace is not None:
            arrays.update(pace_value=self.pace.value, pace_bounds=self.pace.bounds)
        meta = {"idle_charge": self.idle_charge, "capacity": self.capacity,
                "phase_kind": self.phase_kind, "phase_cap": self.phase_cap, "buffer": self.buffer,
                "deadline": self.deadline, "horizon": self.horizon, "stats": self.stats,
                "pace_cap": None if self.pace is None else self.pace.cap}
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> OracleSolution:
        """Rebuild from :meth:`to_arrays`' output."""
        pace = None
        if "pace_value" in arrays:
            pace = Pacing(arrays["pace_value"], arrays["pace_bounds"], float(meta["pace_cap"]))
        keys = ("prices", "cont", "reward", "observed_q", "acc_rate", "charge_rate", "actions", "ticks", "accuracy",
                "charge", "phase_bin", "age_edges", "reserve_bounds", "reserve")
        return cls(**{k: arrays[k] for k in keys}, idle_charge=float(meta["idle_charge"]),
                   capacity=float(meta["capacity"]), phase_kind=meta["phase_kind"], phase_cap=int(meta["phase_cap"]),
                   buffer=int(meta["buffer"]), deadline=int(meta["deadline"]), horizon=int(meta["horizon"]),
                   pace=pace, stats=dict(meta["stats"], cached=True))


def price_grid(net_charge: np.ndarray, accuracy: np.ndarray, points: int = 40) -> np.ndarray:
    """Charge prices worth solving: 0, a sweep, the window of every model, and one at which only charge counts.

    The sweep is geometric, from a third of the lowest price at which two models trade places to three times
    the highest. A model on the upper hull of (charge, accuracy) is the best static choice for the prices
    between the slopes to its two hull neighbours; that window can be narrower than the sweep's step, so the
    slopes and the middle of each window are added.
    """
    pts = []
    for i in range(len(accuracy)):
        for j in range(len(accuracy)):
            de, da = net_charge[j] - net_charge[i], accuracy[j] - accuracy[i]
            if de > 0 and da > 0:
                pts.append(da / de)
    if not pts:
        return np.zeros(1)
    hull = upper_hull(np.asarray(net_charge, np.float64), np.asarray(accuracy, np.float64))
    pairs = zip(hull[:-1], hull[1:], strict=True)
    slopes = sorted((accuracy[b] - accuracy[a]) / (net_charge[b] - net_charge[a]) for a, b in pairs)
    windows = [s * f for s in slopes for f in (0.98, 1.02)]
    windows += [float(np.sqrt(a * b)) for a, b in zip(slopes[:-1], slopes[1:], strict=True)]
    grid = np.concatenate(([0.0], np.geomspace(min(pts) / 3, max(pts) * 3, points), windows, [max(pts) * 1e3]))
    return np.unique(grid)


def upper_hull(charge: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Indices of the points on the upper concave hull of (charge rate, accuracy rate), by charge.

    Only these are worth pacing with: any other policy is beaten by a time-share of two hull points.
    """
    order = np.lexsort((-acc, charge))
    hull: list[int] = []
    for i in order:
        if hull and charge[i] <= charge[hull[-1]] * (1 + 1e-12):
            continue  # same charge, lower accuracy
        if hull and acc[i] <= acc[hull[-1]]:
            continue  # more charge for no more accuracy
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (charge[b] - charge[a]) * (acc[i] - acc[a]) - (acc[b] - acc[a]) * (charge[i] - charge[a])
            if cross >= 0:
                hull.pop()  # b lies on or under the chord from a to i
            else:
                break
        hull.append(int(i))
    return np.array(hull, dtype=np.int64)


def _solve(sc: ScenarioConfig) -> OracleSolution:
    t0 = time.perf_counter()
    eng = Engine(sc, chunk=1)
    bins = SETTINGS["phase_bins"] if eng.horizon_ticks >= 0 else SETTINGS["depletion_phase_bins"]
    model = build_model(sc, int(bins), SETTINGS["age_bins"])
    start = np.zeros(model.n_states)
    start[model.index(0, 0, 0)] = 1.0
    horizon = int(eng.horizon_ticks)
    prices = price_grid(model.net_charge, model.accuracy) if horizon >= 0 else np.zeros(1)
    policies, init = [], None
    for p in prices:
        pol = average_reward(model, float(p), start, init=init)
        init = pol.policy
        policies.append(pol)
    keep = upper_hull(np.array([p.charge_rate for p in policies]), np.array([p.accuracy_rate for p in policies]))
    policies = [policies[i] for i in sorted(keep, key=lambda i: policies[i].price)]
    t1 = time.perf_counter()
    S, A = model.n_states, len(model.actions)
    B = model.buffer
    cont = np.stack([p.cont for p in policies])
    full = cont + model.reward[None]
    observed_q = np.zeros((len(policies), B + 1, A))
    per_q = model.n_phase * model.n_age
    for i, p in enumerate(policies):
        for q in range(B + 1):
            w = p.stationary[q * per_q : (q + 1) * per_q]
            w = w / w.sum() if w.sum() > 0 else np.full(per_q, 1.0 / per_q)
            observed_q[i, q] = w @ full[i, q * per_q : (q + 1) * per_q]
    acc_rate = np.array([p.accuracy_rate for p in policies])
    charge_rate = np.array([p.charge_rate for p in policies])
    pace = None
    cap = float(eng.capacity_mah)
    hoff = int(eng.PI[K.I_HOFF])
    res_bounds, reserve = np.zeros(1), np.zeros(1)
    if horizon >= 0:
        nb = SETTINGS["blocks"]
        if sc.harvester is not None and sc.harvester.kind == "solar":
            nb = max(nb, math.ceil(horizon / (sc.harvester.period_ms / sc.workload.timebase_ms / 50)))
        bounds = np.unique(np.round(np.linspace(0, horizon, min(nb, 4000) + 1))).astype(np.float64)
        if len(policies) > 1:
            pace = pacing(acc_rate, charge_rate, bounds, eng.PF, hoff, cap, SETTINGS["charge_points"])
        # the reserve on a finer grid: a block's harvest is spread evenly over it, and at sunrise the first
        # part of a long block is darker than its mean
        res_bounds = np.unique(np.round(np.linspace(0, horizon, min(max(nb, 1000), 4000) + 1))).astype(np.float64)
        reserve = reserve_table(res_bounds, float(charge_rate.min()), eng.PF, hoff, cap)
    t2 = time.perf_counter()
    stats = {"states": S, "actions": A, "policies": len(policies), "prices_tried": len(prices),
             "solve_s": t2 - t0, "policies_s": t1 - t0, "pacing_s": t2 - t1, "cached": False}
    return OracleSolution(
        prices=np.array([p.price for p in policies]), cont=cont, reward=model.reward, observed_q=observed_q,
        acc_rate=acc_rate, charge_rate=charge_rate, actions=model.actions, ticks=model.ticks,
        accuracy=model.accuracy, charge=model.net_charge + model.ticks * model.idle_charge,
        idle_charge=model.idle_charge, reserve_bounds=res_bounds, reserve=reserve, capacity=cap,
        phase_bin=model.phase_bin, age_edges=model.age_edges,
        phase_kind=model.chain.kind,
        phase_cap=model.chain.cap, buffer=B, deadline=model.deadline, horizon=horizon, pace=pace, stats=stats,
    )


def solve(scenario: ScenarioConfig | str, use_cache: bool = True) -> OracleSolution:
    """The oracle's solution of ``scenario`` (from the disk cache when it was solved before).

    Raises:
        TinySimError: for a workload without a Markov model (a trace) or the seed-compatible sync mode.
    """
    sc = load_scenario(scenario) if not isinstance(scenario, ScenarioConfig) else scenario
    key = cache.scenario_key(sc, SETTINGS)
    if use_cache:
        hit = cache.load(key)
        if hit is not None:
            return OracleSolution.from_arrays(*hit)
    # hundreds of small dense solves: a multi-threaded BLAS only fights for the cores (tens of times slower
    # on a busy machine), so the solve runs its linear algebra on one thread
    with threadpool_limits(limits=1, user_api="blas"):
        sol = _solve(sc)
    if use_cache:
        cache.save(key, *sol.to_arrays())
    return sol
