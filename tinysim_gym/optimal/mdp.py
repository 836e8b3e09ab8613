"""The scenario as a semi-Markov decision process over a small discretised state.

Decision epochs are the engine's decision points: the chip is free and one sample waits to be served.
The state at an epoch is ``x = (q, z, a)``:

* ``q`` (0..buffer): samples waiting in the buffer besides the one being decided on (exact);
* ``z``: the arrival process's phase at the decision tick. Bernoulli: ticks since the last arrival, capped at
  ``floor(min_interval / timebase)`` (after that the process is memoryless), grouped into at most
  ``phase_bins`` bins (phase 0 and the capped phase keep their own bins); periodic (sync): the same with ``p = 1``;
  Poisson: one phase; MMPP: the modulating state (hidden from an agent's observation);
* ``a``: the age of the sample being decided on, in ``age_bins`` bins up to the deadline (one bin without a
  deadline; ages from which no model can meet the deadline share the last bin).

An action is a model or, with ``allow_skip``, the skip (engine index ``n_models``, the last action): no
accuracy, the selector's ticks and charge. A skip of zero ticks (no selector latency) moves to the next
buffered sample at the same tick, or, with an empty buffer, idles until the next arrival.

Serving with model ``k`` keeps the chip busy ``L_k`` ticks (the engine's service ticks). Arrivals during
ticks ``t+1 .. t+L-1`` join the buffer (overflow is dropped); at tick ``t+L`` an arrival is served directly,
else the buffer head, else the chip idles until the next arrival, exactly as the engine's kernels do.

Error sources of the discretisation (exact when there are none: no phase grouping, no deadline):

* phase grouping: a bin's transitions are the average over its member phases (uniform weights);
* at most one arrival per tick: Poisson and MMPP ticks have an arrival with probability ``1 - exp(-rate tb)``
  and a second one in the same tick is ignored; MMPP switches at most once per tick;
* periodic workloads with jitter are treated as periodic with a whole-tick period;
* deadlines: ages are binned (a bin's reward uses its mid age), and the age of a sample taken from the
  buffer is a distribution (:func:`next_head_ages`: under Poisson and MMPP arrivals the waiting samples
  lie uniformly over the current sample's age, or over the service they arrived in; under a countdown
  process one mean gap after the current sample). The head's age and the queue are the state, not the
  ages of the others: their spread is assumed afresh at every decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine
from tinysim_gym.core.jit import njit
from tinysim_gym.errors import TinySimError


@dataclass(frozen=True)
class ArrivalChain:
    """The arrival process as a per-tick Markov chain over phases.

    Attributes:
        p0: ``p0[z, z']``: probability of moving to ``z'`` in one tick with no arrival.
        p1: the same with one arrival in that tick.
        init: phase distribution at tick 0.
        kind: ``"gap"`` (phase = ticks since the last arrival, capped) or ``"mmpp"`` (modulating state) or
            ``"memoryless"``.
        cap: the phase cap of a ``"gap"`` chain.
        mean_gap: mean ticks between arrivals in each phase's regime (for age estimates).
    """

    p0: np.ndarray
    p1: np.ndarray
    init: np.ndarray
    kind: str
    cap: int
    mean_gap: np.ndarray


def arrival_chain(scenario: ScenarioConfig) -> ArrivalChain:
    """The per-tick chain of the scenario's arrival process.

    Raises:
        TinySimError: for a trace workload or the seed-compatible sync mode (no Markov model).
    """
    w = scenario.workload
    tb = w.timebase_ms
    if scenario.seed_compat and w.mode == "sync":
        raise TinySimError("oracle: the seed-compatible sync mode has no decisions worth solving (lump charge)")
    if w.mode == "sync" or w.process in ("bernoulli", "periodic"):
        if w.mode == "sync":
            base, p = math.floor((w.min_interval_ms or 0.0) / tb), 1.0
        elif w.process == "bernoulli":
            base, p = math.floor((w.min_interval_ms or 0.0) / tb), w.arrival_probability
        else:
            base, p = max(0, round((w.min_interval_ms or 0.0) / tb) - 1), 1.0
        n = base + 1
        p0, p1 = np.zeros((n, n)), np.zeros((n, n))
        for j in range(base):
            p0[j, j + 1] = 1.0
        p1[base, 0] = p
        p0[base, base] = 1.0 - p
        init = np.zeros(n)
        init[0] = 1.0
        return ArrivalChain(p0, p1, init, "gap", base, np.full(n, base + 1.0 / p))
    if w.process == "poisson":
        a = 1.0 - math.exp(-(w.rate_hz or 0.0) * tb / 1000.0)
        return ArrivalChain(np.array([[1.0 - a]]), np.array([[a]]), np.ones(1), "memoryless", 0, np.array([1.0 / a]))
    if w.process == "mmpp":
        assert w.mmpp is not None
        rates = np.asarray(w.mmpp.rates_hz) * tb / 1000.0
        sw = 1.0 - np.exp(-np.asarray(w.mmpp.switch_hz) * tb / 1000.0)
        arr = 1.0 - np.exp(-rates)
        p0, p1 = np.zeros((2, 2)), np.zeros((2, 2))
        for m in range(2):
            for m2 in range(2):
                move = sw[m] if m2 != m else 1.0 - sw[m]
                p1[m, m2] = arr[m] * move
                p0[m, m2] = (1.0 - arr[m]) * move
        s0, s1 = w.mmpp.switch_hz
        init = np.array([s1 / (s0 + s1), s0 / (s0 + s1)])
        return ArrivalChain(p0, p1, init, "mmpp", 0, 1.0 / arr)
    raise TinySimError(f"oracle: workload.process {w.process!r} has no Markov model (allowed: bernoulli, "
                       "periodic, poisson, mmpp, sync mode)")


def phase_bins_of(chain: ArrivalChain, max_bins: int) -> np.ndarray:
    """Bin index of each exact phase: ``gap`` chains group the countdown; phase 0 and the cap stay alone."""
    n = len(chain.init)
    if chain.kind != "gap" or n <= max_bins:
        return np.arange(n)
    # phase 0 (a decision right after an arrival) and the cap keep their own bins; the countdown between
    # them is grouped evenly
    width = math.ceil((n - 2) / (max_bins - 2))
    out = np.empty(n, dtype=np.int64)
    out[0] = 0
    out[1:-1] = 1 + (np.arange(n - 2) // width)
    out[-1] = out[-2] + 1
    return out


@njit(cache=True)
def _propagate(nz, src, dst, prob, arrive, ticks, nmax):
    """Window distributions of every action from every exact phase.

    ``out[k, z0, z, n, a]``: after ``ticks[k] - 1`` ticks from phase ``z0``, phase ``z`` with ``n`` arrivals
    (clipped at ``nmax``), then a last tick with (``a = 1``) or without an arrival.
    """
    nk = len(ticks)
    out = np.zeros((nk, nz, nz, nmax + 1, 2))
    m = np.zeros((nz, nz, nmax + 1))
    for z in range(nz):
        m[z, z, 0] = 1.0
    lmax = 0
    for k in range(nk):
        lmax = max(lmax, ticks[k])
    for s in range(lmax):
        for k in range(nk):
            if ticks[k] - 1 == s:
                for e in range(len(src)):
                    a = arrive[e]
                    for z0 in range(nz):
                        for c in range(nmax + 1):
                            out[k, z0, dst[e], c, a] += m[z0, src[e], c] * prob[e]
        if s == lmax - 1:
            break
        m2 = np.zeros_like(m)
        for e in range(len(src)):
            a = arrive[e]
            for z0 in range(nz):
                for c in range(nmax + 1):
                    v = m[z0, src[e], c]
                    if v != 0.0:
                        m2[z0, dst[e], min(c + a, nmax)] += v * prob[e]
        m = m2
    return out


@dataclass
class DecisionModel:
    """The discretised SMDP of one scenario (see the module docstring).

    Attributes:
        buffer: buffer size ``B``; ``q`` runs over ``0..B``.
        n_phase: number of phase bins; ``phase_bin`` maps an exact phase to its bin.
        n_age: number of age bins; ``age_edges[i]`` is the first age of bin ``i``.
        actions: model index of each action.
        ticks, net_charge, accuracy: per action, as the engine charges it (net of idle ticks replaced).
        idle_charge: charge of one idle tick (mAh).
        deadline: deadline in ticks (-1: none).
        trans: ``trans[x, k, x']``: next-epoch distribution with idle periods folded in.
        tau: expected ticks to the next epoch.
        reward: expected accuracy credited (deadlines judged at the bin's mid age).
        direct: ``direct[x, k, x']``: next epoch at exactly ``t + L_k`` (exact models only, for finite horizons).
        idle_exit: ``idle_exit[x, k, z]``: idle from ``t + L_k`` with exact phase ``z`` (exact models only).
        chain: the per-tick arrival chain.
        exact: no phase grouping and no deadline: the finite-horizon solver is exact on this model.
    """

    buffer: int
    n_phase: int
    phase_bin: np.ndarray
    n_age: int
    age_edges: np.ndarray
    actions: np.ndarray
    ticks: np.ndarray
    net_charge: np.ndarray
    accuracy: np.ndarray
    idle_charge: float
    deadline: int
    trans: np.ndarray
    tau: np.ndarray
    reward: np.ndarray
    direct: np.ndarray | None
    idle_exit: np.ndarray | None
    chain: ArrivalChain
    exact: bool

    @property
    def n_states(self) -> int:
        """Number of decision states."""
        return (self.buffer + 1) * self.n_phase * self.n_age

    def index(self, q: int, z_bin: int, a_bin: int) -> int:
        """Flat index of a decision state."""
        return (q * self.n_phase + z_bin) * self.n_age + a_bin

    def age_bin(self, age: float) -> int:
        """Bin of an age in ticks."""
        return int(np.searchsorted(self.age_edges, age, side="right") - 1)

    def credit(self, age: float) -> np.ndarray:
        """Accuracy each action earns for a sample of ``age`` ticks (0 when it would miss the deadline)."""
        if self.deadline < 0:
            return self.accuracy
        return np.where(age + self.ticks <= self.deadline, self.accuracy, 0.0)


def _age_edges(deadline: int, ticks: np.ndarray, n_age: int) -> np.ndarray:
    """Age bin edges: ``n_age - 1`` equal bins over the ages some model can still serve in time, then one."""
    if deadline < 0:
        return np.array([0.0])
    hopeless = max(1, deadline - int(ticks.min()) + 1)
    inner = np.unique(np.floor(np.linspace(0, hopeless, max(2, n_age))).astype(np.int64))
    return inner.astype(np.float64)


def next_head_ages(kind: str, edges: np.ndarray, L: int, age: float, q: int, gap: float, nmax: int) -> np.ndarray:
    """Distribution over the age bins of the sample decided on ``L`` ticks after this decision.

    This decision is on a sample of ``age`` ticks with ``q`` others waiting; row ``n`` of the result is for
    ``n`` arrivals during those ticks (``0..nmax``). With others waiting the next sample is the oldest of
    them. Poisson and MMPP arrivals (``kind`` other than ``"gap"``) put the ``q`` others uniformly over the
    current sample's age, so the oldest is
    ``L + age * Y`` ticks old with ``Y ~ Beta(q, 1)`` (``P(Y <= y) = y^q``); with none waiting it is the
    oldest of the ``n`` that arrived during the service, ``L * Y`` with ``Y ~ Beta(n, 1)``. A countdown
    process spaces arrivals by at least its minimum interval: the next sample arrived one mean ``gap`` after
    the current one (``L`` less the gap's share of the service with none waiting).
    """
    na = len(edges)
    out = np.zeros((nmax + 1, na))
    if na == 1:
        out[:, 0] = 1.0
        return out
    for n in range(nmax + 1):
        base, span, m = (L, age, q) if q >= 1 else (0.0, float(L), n)
        if kind == "gap" or m == 0 or span <= 0:
            point = L + age - min(gap, age) if q >= 1 else L - L / (n + 1.0)
            out[n, int(np.searchsorted(edges, point, side="right") - 1)] = 1.0
            continue
        # P(age < edge) per bin edge; the first edge is 0 and the last bin is open
        below = np.clip((np.append(edges, np.inf) - base) / span, 0.0, 1.0) ** m
        out[n] = below[1:] - below[:-1]
        out[n, 0] += below[0]
    return out


def build_model(scenario: ScenarioConfig, phase_bins: int = 48, age_bins: int = 24) -> DecisionModel:
    """Discretise ``scenario`` into a :class:`DecisionModel`.

    Args:
        scenario: a validated scenario (default mode, or seed-compatible async).
        phase_bins: at most this many bins for a countdown phase.
        age_bins: age bins under a deadline.
    """
    eng = Engine(scenario, chunk=1)
    chain = arrival_chain(scenario)
    avail = np.flatnonzero(eng.available)
    d_idle = float(eng.PF[K.F_D_IDLE])
    ticks = eng.service_ticks[avail].astype(np.int64)
    charge = np.asarray(eng.inference_charge_mah)[avail]
    acc = eng.accuracies[avail].astype(np.float64)
    if eng.allow_skip:
        avail = np.append(avail, eng.n_models)
        ticks = np.append(ticks, eng.skip_ticks)
        charge = np.append(charge, eng.skip_charge_mah)
        acc = np.append(acc, 0.0)
    net = charge - ticks * d_idle
    B = int(eng.buffer_size)
    D = int(eng.deadline_ticks)
    nz = len(chain.init)
    zb = phase_bins_of(chain, phase_bins)
    nzb = int(zb.max()) + 1
    edges = _age_edges(D, ticks[: len(ticks) - int(eng.allow_skip)], age_bins)  # ages some model serves in time
    na = len(edges)
    mids = np.append((edges[:-1] + edges[1:] - 1) / 2.0, edges[-1]) if na > 1 else np.zeros(1)
    src, dst = np.nonzero(chain.p0)
    s1, d1 = np.nonzero(chain.p1)
    prob = np.concatenate([chain.p0[src, dst], chain.p1[s1, d1]])
    arrive = np.concatenate([np.zeros(len(src), np.int64), np.ones(len(s1), np.int64)])
    win = _propagate(nz, np.concatenate([src, s1]), np.concatenate([dst, d1]), prob, arrive, np.maximum(ticks, 1), B)
    # idle: expected wait and the phase after the arrival that ends it, from each exact phase
    fund = np.linalg.inv(np.eye(nz) - chain.p0)
    wait = fund @ np.ones(nz)
    exit_phase = fund @ chain.p1
    members = [np.flatnonzero(zb == b) for b in range(nzb)]
    S, A = (B + 1) * nzb * na, len(avail)
    trans = np.zeros((S, A, S))
    tau = np.zeros((S, A))
    reward = np.zeros((S, A))
    exact = nzb == nz and na == 1
    direct = np.zeros((S, A, S)) if exact else None
    idle_exit = np.zeros((S, A, nz)) if exact else None

    def idx(q: int | np.ndarray, b: int | np.ndarray, a: int | np.ndarray) -> int | np.ndarray:
        return (q * nzb + b) * na + a

    gap_of_bin = np.array([chain.mean_gap[m].mean() for m in members])
    counts = np.arange(B + 1)
    into = idx(0, zb, 0)  # decision state after an idle period ends in exact phase z
    idle_to = np.zeros((nz, S))
    for z3 in range(nz):
        np.add.at(idle_to, (slice(None), into[z3]), exit_phase[:, z3])
    for k in range(A):
        L = int(ticks[k])
        if L == 0:
            _zero_tick_action(k, chain.kind, members, zb, nzb, na, B, edges, mids, gap_of_bin, idle_to, wait,
                              trans, tau, direct, idle_exit)
            continue
        for b in range(nzb):
            block = win[k][members[b]].mean(axis=0)  # (nz, B+1, 2): phase after, arrivals, last-tick arrival
            for q in range(B + 1):
                q1 = np.minimum(q + counts, B)
                for ai in range(na):
                    x = idx(q, b, ai)
                    age = mids[ai]
                    reward[x, k] = acc[k] if D < 0 or age + L <= D else 0.0
                    row = np.zeros(S)
                    # an arrival on the last tick is served directly
                    np.add.at(row, idx(q1[None, :], zb[:, None], 0).ravel(), block[:, :, 1].ravel())
                    # else the buffer head
                    pop = q1 > 0
                    spread = next_head_ages(chain.kind, edges, L, age, q, gap_of_bin[b], B)  # (B+1, n_age)
                    ys = idx(np.maximum(q1 - 1, 0)[None, :, None], zb[:, None, None], np.arange(na)[None, None, :])
                    np.add.at(row, ys[:, pop].ravel(), (block[:, pop, 0][:, :, None] * spread[None, pop]).ravel())
                    if direct is not None:
                        direct[x, k] = row
                    t_exp = float(L)
                    if q == 0:  # else the chip idles until the next arrival
                        idle = block[:, 0, 0]
                        row += idle @ idle_to
                        t_exp += float(idle @ wait)
                        if idle_exit is not None:
                            idle_exit[x, k] = idle
                    trans[x, k] = row
                    tau[x, k] = t_exp
    return DecisionModel(
        buffer=B, n_phase=nzb, phase_bin=zb, n_age=na, age_edges=edges, actions=avail, ticks=ticks,
        net_charge=net, accuracy=acc, idle_charge=d_idle, deadline=D, trans=trans, tau=tau, reward=reward,
        direct=direct, idle_exit=idle_exit, chain=chain, exact=exact,
    )


def _zero_tick_action(k, kind, members, zb, nzb, na, B, edges, mids, gap_of_bin, idle_to, wait, trans, tau,
                      direct, idle_exit):
    """Fill column ``k`` for a skip that takes no time (no selector latency); it earns nothing.

    With a buffered sample the next decision is at the same tick, on that sample (its age estimated as for a
    model's buffer head, the service being zero ticks); with an empty buffer the chip idles from the current
    phase until the next arrival.
    """
    for b in range(nzb):
        here = np.zeros(len(zb))
        here[members[b]] = 1.0 / len(members[b])
        for q in range(B + 1):
            for ai in range(na):
                x = (q * nzb + b) * na + ai
                row = np.zeros(trans.shape[2])
                if q >= 1:
                    spread = next_head_ages(kind, edges, 0, mids[ai], q, gap_of_bin[b], 0)[0]
                    row[((q - 1) * nzb + b) * na : ((q - 1) * nzb + b + 1) * na] = spread
                    if direct is not None:
                        direct[x, k] = row
                else:
                    row += here @ idle_to
                    tau[x, k] = float(here @ wait)
                    if idle_exit is not None:
                        idle_exit[x, k] = here
                trans[x, k] = row
