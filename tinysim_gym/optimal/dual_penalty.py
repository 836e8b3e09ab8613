"""An information-relaxation penalty for the hindsight bound (Brown, Smith and Sun 2010).

The hindsight bound lets a schedule see the future arrivals; a penalty charges it for what it learns. At
a decision at tick ``t`` with action ``k`` and ``q`` samples left waiting, let ``N`` be the arrivals in the
ticks ``(t, t + L_k]`` (the service window; the penalty is zero when the window reaches the horizon) and
take away::

    z = h[k, min(q + N, B)] - E[h[k, min(q + N, B)] | t, q, k]

from the schedule's reward, for any table ``h``. Under Poisson arrivals floored to ticks the counts in
disjoint tick windows are independent Poisson variables with mean ``rate * ticks * timebase``, so ``N`` is
independent of everything a causal policy knows at ``t`` and the expectation is the closed form of
:func:`expected_h`. Then ``E[z | past] = 0`` at every decision of every causal policy (the decision, ``q``
and ``k`` being known at ``t``), the penalties of its run sum to zero in the mean, and the mean over the
seeds of the penalised offline optimum is still an upper bound on every causal policy. Unlike the plain
hindsight bound it holds in the mean only, not seed by seed: it is a sample mean, reported with its
standard error. ``h = 0`` is the plain hindsight bound; a good ``h`` (the value of the occupancy a service
window leaves behind) takes back the worth of knowing whether a clump follows.

Under an MMPP the count depends on the modulating state: the expectation is conditioned on the state at the
window's start (``(t + 1) * timebase``, replayed from the seed with a twin of the engine's generator; knowing
it is more than any causal policy, the oracle included, knows, and the count after it depends on the past
only through it), and is exact by the matrix exponential of the (capped count, state) chain. The table may
also depend on the modulating state ``S`` at the window's end (``(t2 + 1) * timebase``, ``t2 = t + L_k``):
``z = h[S, k, min(q + N, B)] - E[same | state at the window's start]``, the mean over the joint law of
(``S``, ``N``) from the same matrix exponential. That prices knowing the burst state itself: a schedule that
sees a burst begin inside its window (or a calm spell) is charged for it, which no causal policy can be.

Valid only where that mean is exact: Poisson and MMPP arrivals, and a battery (a supercapacitor's
brownouts stop decisions in ways the schedule does not follow).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import expm

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.errors import TinySimError


def capped_poisson(mu: float, B: int) -> np.ndarray:
    """The law of ``min(N, B)`` for ``N ~ Poisson(mu)`` (``B + 1`` entries)."""
    pmf = np.array([math.exp(-mu + n * math.log(mu) - math.lgamma(n + 1)) if mu > 0 else float(n == 0)
                    for n in range(B)])
    return np.append(pmf, max(0.0, 1.0 - float(pmf.sum())))


def capped_mmpp(rates: np.ndarray, switch: np.ndarray, tau: float, B: int) -> np.ndarray:
    """The law of ``min(N, B)`` over a time ``tau`` of a two-state MMPP, per starting state: ``(2, B + 1)``."""
    return capped_mmpp_joint(rates, switch, tau, B).sum(axis=1)


def capped_mmpp_joint(rates: np.ndarray, switch: np.ndarray, tau: float, B: int) -> np.ndarray:
    """The joint law of (state at ``tau``, ``min(N, B)``) of a two-state MMPP, per starting state: ``(2, 2, B + 1)``.

    ``rates`` and ``switch`` per unit of ``tau``. The chain over (count capped at ``B``, state) is solved by
    its matrix exponential.
    """
    n = B + 1
    Q = np.zeros((2 * n, 2 * n))
    for s in range(2):
        for c in range(n):
            i = s * n + c
            if c < B:
                Q[i, i + 1] = rates[s]
            Q[i, (1 - s) * n + c] = switch[s]
            Q[i, i] = -Q[i].sum()
    P = expm(Q * tau)
    return np.array([[P[s * n, :n], P[s * n, n:]] for s in range(2)])


def expected_h_joint(h: np.ndarray, laws: np.ndarray) -> np.ndarray:
    """``E[h[S, k, min(q + N, B)]]`` per starting state, action ``k`` and occupancy ``q``.

    Args:
        h: the penalty table per state at the window's end, shape ``(states, actions, B + 1)``.
        laws: the joint law of (end state ``S``, capped count) per action's window and starting state, shape
            ``(actions, states, states, B + 1)``.

    Returns:
        The expectations, shape ``(states, actions, B + 1)``.
    """
    n_s = h.shape[0]
    return np.array([sum(expected_h(h[e], laws[:, s, e]) for e in range(n_s)) for s in range(n_s)])


def expected_h(h: np.ndarray, laws: np.ndarray) -> np.ndarray:
    """``E[h[k, min(q + N, B)]]`` per action ``k`` and occupancy ``q``, for ``min(N, B)`` of law ``laws[k]``.

    Args:
        h: the penalty table, shape ``(actions, B + 1)``.
        laws: the law of the capped count per action's window, shape ``(actions, B + 1)``.

    Returns:
        The expectations, shape ``(actions, B + 1)``.
    """
    n_act, width = h.shape
    out = np.empty((n_act, width))
    for k in range(n_act):
        for q in range(width):
            out[k, q] = float(laws[k] @ h[k, np.minimum(q + np.arange(width), width - 1)])
    return out


def mmpp_states(rates: np.ndarray, switch: np.ndarray, seed: int, ticks: np.ndarray, tb: float,
                arrivals: np.ndarray) -> np.ndarray:
    """The MMPP's state at the times ``ticks * tb`` of a seed, replayed as the engine draws its stream.

    Raises:
        TinySimError: the replayed arrivals are not the engine's (the twin would be wrong).
    """
    rng = np.random.default_rng(seed)
    pi1 = switch[0] / (switch[0] + switch[1])
    state = int(rng.random() < pi1)
    end = float(ticks[-1]) * tb if len(ticks) else 0.0
    now = 0.0
    switches, arr_t, s0 = [], [], state
    while now <= end:
        e, u = rng.exponential(1.0, size=4096), rng.random(size=4096)
        for i in range(4096):
            total = rates[state] + switch[state]
            now += e[i] / total
            if u[i] * total < rates[state]:
                arr_t.append(now)
            else:
                switches.append(now)
                state = 1 - state
    arr_ticks = np.floor(np.asarray(arr_t) / tb).astype(np.int64)
    if not np.array_equal(arr_ticks[arr_ticks < (ticks[-1] if len(ticks) else 0)], arrivals):
        raise TinySimError("hindsight penalty: the MMPP replay does not reproduce the seed's arrivals")
    flips = np.searchsorted(np.asarray(switches), ticks * tb, side="right")
    return ((s0 + flips) % 2).astype(np.int8)


def penalty_tables(scenario: ScenarioConfig, h: np.ndarray, service_ticks: np.ndarray, seed: int | None, H: int,
                   arrivals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(h, E[h] per context, context per tick)`` for the kernels, refused where the mean is not exact.

    Args:
        scenario: the scenario (Poisson or MMPP arrivals on a battery).
        h: the penalty table, shape ``(actions, buffer_size + 1)`` (the actions as the bound orders them:
            the available models, then the skip if the scenario has one), or under an MMPP one such table per
            modulating state at the window's end, ``(2, actions, buffer_size + 1)``.
        service_ticks: ticks per action, in the same order.
        seed: the episode seed (an MMPP's state is replayed from it).
        H: the horizon (ticks).
        arrivals: the seed's realised arrival ticks (the replay is checked against them).

    Raises:
        TinySimError: another workload, a supercapacitor, an MMPP without a seed, or a table of the wrong shape.
    """
    w = scenario.workload
    if w.mode != "async" or w.process not in ("poisson", "mmpp"):
        raise TinySimError(f"hindsight penalty: workload.process must be poisson or mmpp (async), not "
                           f"{w.process!r}: the count's conditional mean is exact only there")
    if scenario.storage is not None:
        raise TinySimError("hindsight penalty: storage must be a battery (a supercapacitor's brownouts are not "
                           "followed by the schedule)")
    B = int(w.buffer_size)
    n_ctx = 2 if w.process == "mmpp" else 1
    h = np.asarray(h, dtype=np.float64)
    shape = (len(service_ticks), B + 1)
    if h.shape not in (shape, (n_ctx, *shape)):
        raise TinySimError(f"hindsight penalty: table shape {h.shape}, allowed {shape} (actions, buffer_size + 1)"
                           f" or {(n_ctx, *shape)} (one per {'MMPP state' if n_ctx == 2 else 'context'} first)")
    # a writable C-contiguous copy with the state axis: one compiled signature of the kernels
    h = np.array(np.broadcast_to(h, (n_ctx, *shape)))
    tb = float(w.timebase_ms)
    windows_ms = np.asarray(service_ticks, dtype=np.float64) * tb
    if w.process == "poisson":
        laws = np.array([capped_poisson(float(w.rate_hz) / 1000.0 * x, B) for x in windows_ms])
        return h, expected_h(h[0], laws)[None], np.zeros(max(H, 0), np.int8)
    if seed is None or w.mmpp is None:
        raise TinySimError("hindsight penalty: an MMPP workload needs an integer seed (its state is replayed)")
    rates = np.asarray(w.mmpp.rates_hz, dtype=np.float64) / 1000.0
    switch = np.asarray(w.mmpp.switch_hz, dtype=np.float64) / 1000.0
    joint = np.array([capped_mmpp_joint(rates, switch, x, B) for x in windows_ms])  # (actions, 2, 2, B + 1)
    ctx = mmpp_states(rates, switch, seed, np.arange(1, H + 1, dtype=np.int64), tb, arrivals)
    return h, expected_h_joint(h, joint), ctx
