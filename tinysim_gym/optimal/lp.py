"""The optimal-policy bound: the best weighted accuracy any model-selection policy can reach.

A linear program over *model-usage fractions* (how many of the samples each model serves) under the two
resources every policy shares, solved with :func:`scipy.optimize.linprog` (HiGHS):

* **energy**: serving a sample with model ``k`` draws its inference charge ``e_k`` instead of ``L_k`` ticks
  of idle current (net charge ``e'_k = e_k - L_k * d_idle``); every tick the device lives draws ``d_idle``.
* **busy time** (utilisation at most 1): the chip serves one sample at a time, ``L_k`` ticks each.

Two episode definitions:

*deployment horizon* (``horizon_ms`` set; weighted accuracy = accuracy sum / all arrivals in the horizon).
    With ``N`` the expected arrivals (horizon / mean gap), ``x_k`` the samples served by model ``k`` and
    ``T`` the ticks the device lives (``T <= H``)::

        maximise    sum_k acc_k x_k / N
        subject to  sum_k x_k               <= N T / H     (only samples that arrived can be served)
                    sum_k L_k x_k           <= T           (busy time: utilisation <= 1)
                    sum_k e'_k x_k + d_idle T <= budget    (initial charge, plus any harvest)

    One more sample may be cut short by the end of the episode (the engine counts an inference whose first
    tick it could power); a variable ``z`` (at most one sample, one tick of charge and time) covers it, so
    the bound holds exactly and not only in the limit.

*until depletion* (no horizon; weighted accuracy = accuracy sum / (inferences + dropped)).
    The ratio objective becomes linear in the fractions ``f_k`` of arrivals served by each model (the rest,
    ``1 - sum f_k``, are dropped)::

        maximise    sum_k acc_k f_k
        subject to  sum_k f_k <= 1,   sum_k L_k f_k <= gap   (utilisation <= 1)

    Energy only sets how long the episode lasts, not the ratio, so it does not constrain the fractions.

Exact for sync mode (periodic arrivals and no queueing: any integer usage vector is realisable by
serving the first ``x_0`` samples with model 0, the next ``x_1`` with model 1, ..., so the LP is exact up
to rounding one sample); a *fluid upper bound* for async mode, where random gaps and a finite buffer make
a utilisation of 1 unreachable without drops. Deadlines (``deadline_ms``) are ignored (a relaxation) and
a harvester's charge is counted in full, ignoring the capacity cap (also a relaxation; a supercapacitor's at
its best worth to the board, see ``harvest_budget_mah``). The skip action
(``allow_skip``) needs no variable: an unserved sample is free here, and a skip costs the selector's time
and charge, so it never does better than leaving the sample unserved and the bound holds with it as is.

How loose: on ``usps_tova`` / NUCLEO-L476RG the ``budget`` baseline comes within about 0.001 points of the
bound on ``usps-l476-async-horizon`` and 0.003 points on ``usps-l476-async1`` and the interval-1 ms
published cases (seeds 0-39: 0.00005-0.0013 and 0.001-0.004), because the Bernoulli gaps are nearly
periodic (``floor(m)`` ticks plus a geometric number of ticks with mean 2); burstier workloads lose more
to queueing, and a harvester's timing is not modelled.

Pass ``observed=metrics`` (a finished run's metrics) for the *pathwise* bound of that very sample path:
the realised arrivals and operating time replace the expected ones, so no run can exceed it at all.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.config.loading import require_concrete
from tinysim_gym.core import kernels as K
from tinysim_gym.core.costs import model_costs
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import TinySimError
from tinysim_gym.optimal.fluid import harvest_worth

_REL = 1e-9  # relative slack that counts a constraint as binding / keeps the second LP stage feasible


def mean_gap_ticks(scenario: ScenarioConfig) -> float:
    """Mean ticks between arrivals: ``floor(m) + 1`` (sync), ``floor(m) + 1/p`` (async Bernoulli), ...

    Raises:
        TinySimError: for a workload whose mean gap is unknown before it is read (a trace).
    """
    w = scenario.workload
    gap_ms = w.mean_gap_ms() if hasattr(w, "mean_gap_ms") else None
    if gap_ms is None and getattr(w, "process", "bernoulli") == "bernoulli":
        ticks = math.floor(w.min_interval_ms / w.timebase_ms)
        gap_ms = (ticks + (1.0 if w.mode == "sync" else 1.0 / w.arrival_probability)) * w.timebase_ms
    if gap_ms is None:
        raise TinySimError(
            f"bound: workload.process {w.process!r} has no known mean gap; pass observed=<a run's metrics> "
            "for the pathwise bound (allowed without a run: bernoulli, periodic, poisson, mmpp)"
        )
    return gap_ms / w.timebase_ms


def harvest_budget_mah(engine: Engine) -> float:
    """Board charge a harvester could deliver over the horizon (0 without one; the capacity cap is ignored).

    A supercapacitor's harvest is counted at its best worth (:func:`~tinysim_gym.optimal.fluid.harvest_worth`).
    """
    off = int(engine.PI[K.I_HOFF]) if hasattr(K, "I_HOFF") else 0
    if off == 0 or engine.horizon_ticks < 0:
        return 0.0
    raw = float(K.harvest_between(engine.PF, off, 0, engine.horizon_ticks, engine.PF[K.F_TB]))
    return raw * harvest_worth(engine.PF)


@dataclass(frozen=True)
class BoundResult:
    """The optimal-policy bound of one scenario.

    Attributes:
        scenario: scenario name.
        episode: ``"horizon"`` or ``"until-depletion"``.
        weighted_accuracy: the bound (%): no policy's weighted accuracy exceeds it (fluid in async mode).
        mixture: model id -> fraction of arrivals it serves at the optimum (models it does not use: 0).
        dropped_fraction: fraction of arrivals the optimum leaves unserved.
        exact: True for sync mode (the bound is reached, up to one sample), False for async (fluid).
        note: one line saying which of the two it is.
        binding: constraints at their limit at the optimum (``arrivals``, ``busy``, ``energy``, ``horizon``).
        utilisation: busy ticks / operating ticks at the optimum.
        mean_gap_ticks: mean ticks between arrivals used (realised, for a pathwise bound).
        arrivals: expected arrivals counted in the denominator (until depletion: at the optimum's lifetime).
        inferences, dropped: expected samples served / dropped at the optimum.
        operating_time_ms: how long the optimum's device lives (the longest among optimal mixtures).
        ticks: the same in ticks.
        energy_mah: charge drawn at the optimum.
        model_counts: model id -> expected inferences at the optimum.
        pathwise: True when computed for one observed run (``observed=``).
    """

    scenario: str
    episode: str
    weighted_accuracy: float
    mixture: dict[str, float]
    dropped_fraction: float
    exact: bool
    note: str
    binding: list[str]
    utilisation: float
    mean_gap_ticks: float
    arrivals: float
    inferences: float
    dropped: float
    operating_time_ms: float
    ticks: float
    energy_mah: float
    model_counts: dict[str, float] = field(default_factory=dict)
    pathwise: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``weighted_accuracy`` and ``mixture`` first)."""
        return asdict(self)

    def as_row(self) -> dict[str, Any]:
        """The bound as a ``tinysim compare`` row: ``policy="bound"`` and the run metrics' keys it can fill."""
        return {
            "policy": "bound",
            "scenario": self.scenario,
            "end_reason": "horizon" if self.episode == "horizon" and "energy" not in self.binding else "depleted",
            "operating_time_ms": self.operating_time_ms,
            "ticks": self.ticks,
            "inferences": self.inferences,
            "dropped": self.dropped,
            "arrivals": self.arrivals,
            "weighted_accuracy": self.weighted_accuracy,
            "energy_mah": self.energy_mah,
            "busy_ticks": self.utilisation * self.ticks,
            "model_counts": dict(self.model_counts),
            "note": self.note,
        }


def _solve(c: np.ndarray, a_ub: np.ndarray, b_ub: np.ndarray, bounds: list[tuple[float, float | None]]) -> Any:
    from scipy.optimize import linprog  # imported here: scipy.optimize is slow to import

    tol = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs", options=tol)
    if res.status != 0:
        raise TinySimError(f"bound: the linear program failed ({res.message})")
    return res


def _lexicographic(
    c1: np.ndarray, c2: np.ndarray, a_ub: np.ndarray, b_ub: np.ndarray, bounds: list[tuple[float, float | None]]
) -> tuple[float, np.ndarray]:
    """Minimise ``c1``; among (near-)optimal points minimise ``c2``. Returns ``(c1 optimum, point)``."""
    first = _solve(c1, a_ub, b_ub, bounds)
    best = float(first.fun)
    cap = best + _REL * max(1.0, abs(best))
    second = _solve(c2, np.vstack([a_ub, c1]), np.append(b_ub, cap), bounds)
    return best, second.x


def bound(scenario: ScenarioConfig | str, observed: dict[str, Any] | None = None) -> BoundResult:
    """The optimal-policy bound of ``scenario`` (a config, or a built-in name / path).

    Args:
        scenario: the scenario.
        observed: optional metrics of one finished run (``Engine.run``); the bound is then computed for
            that run's own arrivals and operating time, so the run cannot exceed it even by sampling luck.

    Returns:
        A :class:`BoundResult`.

    Example:
        >>> round(bound("sync_1").weighted_accuracy, 2)
        94.08
    """
    sc = require_concrete(load_scenario(scenario) if not isinstance(scenario, ScenarioConfig) else scenario, "bound")
    engine = Engine(sc, chunk=1)
    costs = model_costs(engine)
    n = engine.n_models
    tb = engine.timebase_ms
    sync = sc.workload.mode == "sync"
    exact = sync
    note = (
        "exact (sync: periodic arrivals, no queueing; up to one sample)"
        if exact
        else "fluid upper bound (async: random gaps and a finite buffer cost more than the LP sees)"
    )
    ids = engine.model_ids
    avail = costs.available
    if observed is not None:
        served_den = _left(observed)
        gap = observed["ticks"] / max(served_den, 1)
    else:
        gap = mean_gap_ticks(sc)
    budget = engine.initial_mah + harvest_budget_mah(engine)
    zero_bounds = [(0.0, None if avail[k] else 0.0) for k in range(n)]
    if engine.horizon_ticks >= 0:
        result = _horizon(sc, engine, costs, gap, budget, zero_bounds, observed)
    else:
        result = _until_depletion(sc, engine, costs, gap, budget, zero_bounds, observed)
    served, wa, ticks, energy, binding, arrivals = result
    served = np.where(served > 1e-12 * max(1.0, float(np.abs(served).max(initial=0.0))), served, 0.0)
    total = float(served.sum())
    busy = float(np.dot(served, costs.ticks))
    return BoundResult(
        scenario=sc.name,
        episode="horizon" if engine.horizon_ticks >= 0 else "until-depletion",
        weighted_accuracy=wa,
        mixture={ids[k]: float(served[k] / arrivals) if arrivals else 0.0 for k in range(n)},
        dropped_fraction=max(0.0, 1.0 - total / arrivals) if arrivals else 0.0,
        exact=exact,
        note=note if observed is None else "pathwise bound of one observed run",
        binding=binding,
        utilisation=busy / ticks if ticks else 0.0,
        mean_gap_ticks=gap,
        arrivals=arrivals,
        inferences=total,
        dropped=max(0.0, arrivals - total),
        operating_time_ms=ticks * tb,
        ticks=ticks,
        energy_mah=energy,
        model_counts={ids[k]: float(served[k]) for k in range(n)},
        pathwise=observed is not None,
    )


def _left(observed: dict[str, Any]) -> int:
    """Samples that left the observed run: served, dropped or skipped (the weighted accuracy's denominator)."""
    return int(observed["inferences"]) + int(observed["dropped"]) + int(observed.get("skipped", 0))


def _horizon(sc, engine, costs, gap, budget, zero_bounds, observed):
    """Deployment horizon: variables ``x_0..x_{n-1}, z_0..z_{n-1}, T``, solved in scaled units.

    HiGHS ignores matrix entries below 1e-9, and per-tick charges in mAh are far smaller, so the LP runs on
    ``x / N`` (fractions of arrivals), ``T / H`` and charge / budget, and the answer is scaled back.
    """
    n = engine.n_models
    H = float(engine.horizon_ticks)
    if observed is not None:
        N = float(_left(observed))
    elif sc.workload.mode == "sync":
        N = float(max(0, (engine.horizon_ticks - 1) // engine.period_ticks))  # arrivals at P, 2P, ... < H
    else:
        N = H / gap
    if N <= 0:
        return np.zeros(n), 0.0, H, 0.0, [], 0.0
    acc, L = costs.accuracy, costs.ticks
    E = budget if budget > 0 else 1.0
    nv = 2 * n + 1
    rows, rhs = [], []
    # arrivals: sum (x + z) <= N T / H, the samples that arrived while alive (pathwise: <= N, realised)
    r = np.zeros(nv)
    r[:n] = 1.0
    r[n : 2 * n] = 1.0 / N
    if observed is None:
        r[-1] = -1.0
        rhs.append(0.0)
    else:
        rhs.append(1.0)
    rows.append(r)
    # busy: sum L x + sum z <= T
    r = np.zeros(nv)
    r[:n] = L * N / H
    r[n : 2 * n] = 1.0 / H
    r[-1] = -1.0
    rows.append(r)
    rhs.append(0.0)
    # energy: sum e' x + sum first z + d_idle T <= budget
    r = np.zeros(nv)
    r[:n] = costs.net_charge * N / E
    r[n : 2 * n] = costs.first_tick_charge / E
    r[-1] = costs.idle_charge * H / E
    rows.append(r)
    rhs.append(budget / E)
    # at most one sample cut short
    r = np.zeros(nv)
    r[n : 2 * n] = 1.0
    rows.append(r)
    rhs.append(1.0)
    a_ub, b_ub = np.array(rows), np.array(rhs)
    bounds = zero_bounds + zero_bounds + [(0.0, 1.0)]
    c1 = np.zeros(nv)
    c1[:n] = -acc
    c1[n : 2 * n] = -acc / N
    c2 = np.zeros(nv)
    c2[-1] = -1.0  # among optimal mixtures: the longest-lived
    best, v = _lexicographic(c1, c2, a_ub, b_ub, bounds)
    x, z, T = v[:n] * N, v[n : 2 * n], float(v[-1]) * H
    served = x + z
    energy = float(np.dot(costs.net_charge, x) + np.dot(costs.first_tick_charge, z)) + costs.idle_charge * T
    slack = b_ub - a_ub @ v
    binding = [nm for nm, s_ in zip(["arrivals", "busy", "energy"], slack[:3], strict=True) if s_ <= 1e-7]
    if T >= H * (1 - 1e-9):
        binding.append("horizon")
    return served, -best, T, energy, binding, N  # the first stage optimum (the second may give up 1e-9)


def _until_depletion(sc, engine, costs, gap, budget, zero_bounds, observed):
    """Until depletion: fractions ``f_k`` of arrivals (pathwise: counts ``y_k`` and one cut-short ``z_k``)."""
    n = engine.n_models
    acc, L = costs.accuracy, costs.ticks
    if observed is not None:
        A = float(_left(observed))
        T_obs = float(observed["ticks"])
        if A <= 0:
            return np.zeros(n), 0.0, T_obs, 0.0, [], 0.0
        nv = 2 * n
        a_ub = np.zeros((3, nv))
        a_ub[0, :] = 1.0
        a_ub[1, :n] = L
        a_ub[1, n:] = 1.0
        a_ub[2, n:] = 1.0
        b_ub = np.array([A, T_obs, 1.0])
        c1 = -np.tile(acc, 2)
        best, x = _lexicographic(c1, np.tile(L, 2), a_ub, b_ub, zero_bounds + zero_bounds)
        served = x[:n] + x[n:]
        slack = b_ub - a_ub @ x
        binding = [nm for nm, s, s0 in zip(["arrivals", "busy"], slack[:2], [A, T_obs], strict=True) if s <= 1e-7 * s0]
        return served, -best / A, T_obs, float(observed.get("energy_mah", 0.0)), binding, A
    a_ub = np.vstack([np.ones(n), L])
    b_ub = np.array([1.0, gap])
    # among optimal mixtures: the one drawing the least charge per arrival (the longest-lived)
    best, f = _lexicographic(-acc, costs.net_charge, a_ub, b_ub, zero_bounds)
    per_arrival = float(np.dot(costs.net_charge, f)) + costs.idle_charge * gap
    A = budget / per_arrival if per_arrival > 0 else math.inf
    if not math.isfinite(A):
        raise TinySimError("bound: nothing draws charge, so the episode never ends; give the scenario a horizon_ms")
    slack = b_ub - a_ub @ f
    binding = [nm for nm, s, s0 in zip(["arrivals", "busy"], slack, [1.0, gap], strict=True) if s <= 1e-7 * s0]
    binding.append("energy")
    return f * A, -best, A * gap, budget, binding, A

