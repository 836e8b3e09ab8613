"""Dynamic-programming solvers over a :class:`~tinysim_gym.optimal.mdp.DecisionModel`.

* :func:`average_reward`: policy iteration for the long-run reward per tick of the SMDP, with the reward
  ``accuracy - price * net charge`` (a Lagrangian price on charge). Used by the oracle for every charge price.
* :func:`finite_horizon`: backward induction over every tick of a short horizon on an exact model (no
  phase grouping, no deadline): the exact optimum of the expected accuracy sum, used to check the model
  against brute force.
* :func:`pacing`: backward induction over (time block, charge) choosing, per block, one of the stationary
  priced policies (each with its accuracy and charge rates): how a finite battery and a harvester are
  paced over a horizon. Charge is linearly interpolated on a grid and moves as the engine's storage does
  (:mod:`tinysim_gym.optimal.fluid`); a block that runs out of charge earns the fraction of it the charge lasts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinysim_gym.core.jit import njit
from tinysim_gym.optimal.fluid import run_block
from tinysim_gym.optimal.mdp import DecisionModel


@dataclass(frozen=True)
class PricedPolicy:
    """The optimal stationary policy for one charge price.

    Attributes:
        price: charge price (accuracy points per mAh).
        policy: action index per state.
        gain: long-run reward per tick.
        cont: ``cont[x, k]``: the value of action ``k`` in state ``x`` without its immediate accuracy
            (``-price * net charge - gain * tau + E h(next)``).
        accuracy_rate: accuracy credited per tick under the policy.
        charge_rate: charge drawn per tick (idle included).
        stationary: share of decision epochs spent in each state.
    """

    price: float
    policy: np.ndarray
    gain: float
    cont: np.ndarray
    accuracy_rate: float
    charge_rate: float
    stationary: np.ndarray


#: per-epoch probability of a restart in state 0 while a policy is evaluated: a policy with several recurrent
#: classes (states it never leaves) makes the evaluation system singular, and a solver then returns noise
#: that keeps policy iteration cycling; the vanishing restart makes every policy unichain at no visible cost
RESTART = 1e-9


def _unichain(P: np.ndarray, to: np.ndarray) -> np.ndarray:
    """``P`` with a restart of probability :data:`RESTART` into the distribution ``to`` at every epoch."""
    return (1.0 - RESTART) * P + RESTART * to[None, :]


def _evaluate(P: np.ndarray, r: np.ndarray, tau: np.ndarray) -> tuple[float, np.ndarray]:
    """Gain and bias of a fixed policy: ``h = r - g tau + P h`` with ``h[0] = 0`` (least squares if singular)."""
    S = len(r)
    A = np.zeros((S + 1, S + 1))
    A[:S, :S] = np.eye(S) - _unichain(P, np.eye(1, S)[0])
    A[:S, S] = tau
    A[S, 0] = 1.0
    rhs = np.append(r, 0.0)
    try:
        sol = np.linalg.solve(A, rhs)
    except np.linalg.LinAlgError:
        sol = np.linalg.lstsq(A, rhs, rcond=None)[0]
    return float(sol[S]), sol[:S]


def stationary_of(P: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Long-run share of epochs in each state of the chain ``P`` (unichain: one linear solve)."""
    S = len(P)
    P = _unichain(P, start)
    A = (np.eye(S) - P).T
    A[0, :] = 1.0
    rhs = np.zeros(S)
    rhs[0] = 1.0
    try:
        mu = np.linalg.solve(A, rhs)
    except np.linalg.LinAlgError:
        mu = start.copy()  # several recurrent classes: average the powers from the start distribution
        acc = np.zeros_like(mu)
        for _ in range(2000):
            mu = mu @ P
            acc += mu
        mu = acc
    mu = np.maximum(mu, 0.0)
    return mu / mu.sum()


def average_reward(model: DecisionModel, price: float, start: np.ndarray, max_iter: int = 60,
                   init: np.ndarray | None = None) -> PricedPolicy:
    """Policy iteration for ``max`` long-run ``(accuracy - price * net charge)`` per tick.

    Args:
        model: the discretised SMDP.
        price: charge price (>= 0).
        start: an initial state distribution (for the stationary shares).
        max_iter: policy-iteration steps at most.
        init: a policy to start from (a neighbouring price's optimum converges in a few steps).
    """
    S = model.n_states
    r_all = model.reward - price * model.net_charge[None, :]
    pol = np.argmin(model.tau, axis=1) if init is None else init.copy()  # default: the fastest model
    rows = np.arange(S)
    gain, h = 0.0, np.zeros(S)
    for _ in range(max_iter):
        gain, h = _evaluate(model.trans[rows, pol], r_all[rows, pol], model.tau[rows, pol])
        q = r_all - gain * model.tau + model.trans @ h
        best = q.max(axis=1)
        keep = q[rows, pol] >= best - 1e-9 * max(1.0, np.abs(best).max())
        new = np.where(keep, pol, np.argmax(q, axis=1))
        if np.array_equal(new, pol):
            break
        pol = new
    cont = -price * model.net_charge[None, :] - gain * model.tau + model.trans @ h
    mu = stationary_of(model.trans[rows, pol], start)
    t_mean = float(mu @ model.tau[rows, pol])
    acc_rate = float(mu @ model.reward[rows, pol]) / t_mean
    charge_rate = float(mu @ model.net_charge[pol]) / t_mean + model.idle_charge
    return PricedPolicy(price, pol, gain, cont, acc_rate, charge_rate, mu)


def finite_horizon(model: DecisionModel, horizon: int, price: float = 0.0) -> tuple[float, np.ndarray]:
    """Exact expected ``sum(accuracy - price * net charge)`` of the optimal policy over ``horizon`` ticks.

    Tick-level backward induction on an exact model (``model.exact``): ``V[t, x]`` for a decision at tick
    ``t`` and ``W[t, z]`` for an idle chip at the end of tick ``t`` in phase ``z``. An inference started before
    the horizon counts whole and is charged up to the horizon, as in the engine.

    Returns:
        ``(value from tick 0, V)`` with ``V`` of shape ``(horizon, n_states)``.
    """
    if not model.exact or model.direct is None or model.idle_exit is None:
        raise ValueError("finite_horizon: needs an exact model (no phase grouping, no deadline)")
    S, A = model.n_states, len(model.actions)
    nz = len(model.chain.init)
    into = np.array([model.index(0, int(model.phase_bin[z]), 0) for z in range(nz)])
    # per-tick charge above idle (idle ticks cost the same for any policy); a zero-tick skip costs nothing
    d = np.divide(model.net_charge, model.ticks, out=np.zeros(A), where=model.ticks > 0)
    V = np.zeros((horizon + 1, S))
    W = np.zeros((horizon + 1, nz))
    p0, p1 = model.chain.p0, model.chain.p1
    instant = [k for k in range(A) if model.ticks[k] == 0]
    for t in range(horizon - 1, -1, -1):
        if t + 1 < horizon:
            W[t] = p0 @ W[t + 1] + p1 @ V[t + 1][into]
        best = np.full(S, -np.inf)
        for k in range(A):
            L = int(model.ticks[k])
            if L == 0:
                continue
            run = min(L, horizon - t)
            r = model.reward[:, k] - price * run * d[k]
            if t + L < horizon:
                r = r + model.direct[:, k] @ V[t + L] + model.idle_exit[:, k] @ W[t + L]
            best = np.maximum(best, r)
        V[t] = best
        for _ in range(model.buffer + 1 if instant else 0):  # a zero-tick skip leads to q - 1 at this tick
            for k in instant:
                V[t] = np.maximum(V[t], model.reward[:, k] + model.direct[:, k] @ V[t] + model.idle_exit[:, k] @ W[t])
    value = float(model.chain.init @ W[0]) if horizon > 0 else 0.0
    return value, V[:horizon]


@njit(cache=True)
def _pacing(acc_rate, charge_rate, bounds, PF, hoff, cap, n_charge):
    nb = len(bounds) - 1
    grid = np.linspace(0.0, cap, n_charge)
    V = np.zeros((nb + 1, n_charge))
    for b in range(nb - 1, -1, -1):
        for j in range(n_charge):
            best = -1e300
            for i in range(len(acc_rate)):
                best = max(best, block_value(V[b + 1], grid[j], acc_rate[i], charge_rate[i], int(bounds[b]),
                                             int(bounds[b + 1]), PF, hoff, cap))
            V[b, j] = best
    return V


@njit(cache=True)
def block_value(v_next, r, a, c, t0, t1, PF, hoff, cap):
    """Accuracy over ticks ``[t0, t1)`` at rates ``(a, c)`` from charge ``r``, plus the table's value after.

    The storage moves as :func:`~tinysim_gym.optimal.fluid.run_block` says; a block that empties it earns
    the fraction it was powered and nothing after.
    """
    dt = t1 - t0
    r2, powered = run_block(r, c, t0, dt, PF, hoff, cap)
    if powered < 1.0:
        return a * dt * powered
    u = min(r2, cap) / cap * (len(v_next) - 1)
    j = min(int(u), len(v_next) - 2)
    f = u - j
    return a * dt + v_next[j] * (1.0 - f) + v_next[j + 1] * f


@dataclass(frozen=True)
class Pacing:
    """The pacing table: ``value[b, j]`` from the start of block ``b`` with charge ``grid[j]``."""

    value: np.ndarray
    bounds: np.ndarray
    cap: float


def pacing(acc_rate: np.ndarray, charge_rate: np.ndarray, bounds: np.ndarray, PF: np.ndarray, hoff: int,
           cap: float, n_charge: int = 801) -> Pacing:
    """Backward induction over blocks ``[bounds[b], bounds[b+1])`` (ticks) and a charge grid over ``[0, cap]``.

    Args:
        acc_rate: accuracy per tick of each priced policy.
        charge_rate: charge per tick (mAh) of each priced policy.
        bounds: block bounds in ticks.
        PF: the engine's float parameters.
        hoff: the offset of its harvest block (0: none).
        cap: the storage's capacity (mAh, as the engine reports charge).
        n_charge: points of the charge grid.
    """
    V = _pacing(np.asarray(acc_rate, np.float64), np.asarray(charge_rate, np.float64),
                np.asarray(bounds, np.float64), PF, int(hoff), float(cap), int(n_charge))
    return Pacing(V, np.asarray(bounds, np.float64), float(cap))
