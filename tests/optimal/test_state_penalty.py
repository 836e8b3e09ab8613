"""A penalty on the modulating state at a service window's end: still a bound in the mean, over every path exactly.

A tiny Markov-modulated per-tick law: a two-state chain ``s_0, s_1, ...`` (one step per tick), tick ``u``
holding one arrival with probability ``P_ARRIVE[s_u]``. The kernels condition a decision at tick ``t`` on
``ctx[t] = s_{t + 1}`` (the state governing the window's first tick) and index the table by
``ctx[t2] = s_{t2 + 1}`` at the window's end ``t2``. The causal optimum here is an expectimax whose policy even
knows ``s_{t + 1}`` at its decision (more than the engine's policies): every valid penalty keeps the exact
mean bound above it.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pytest

from tests.support.tiny_device import TINY_BOARD, TINY_PROFILE
from tests.support.tiny_fifo import drop_tail, offline_value
from tinysim_gym.config import load_scenario
from tinysim_gym.errors import TinySimError
from tinysim_gym.optimal.dual_penalty import capped_mmpp, capped_mmpp_joint, capped_poisson
from tinysim_gym.optimal.hindsight import hindsight_seed
from tinysim_gym.optimal.offline_fifo import NO_PENALTY
from tinysim_gym.optimal.penalty_fit import fit_penalty, penalised_bound, shortened

H, B, D = 6, 2, 2
L = np.array([1, 2], np.int64)
ACC = np.array([50.0, 90.0])
P_ARRIVE = (0.15, 0.9)  # calm, burst
STAY = (0.8, 0.6)  # per-tick probability of keeping the state
START = (0.7, 0.3)


def step(s):
    """``[(next state, probability)]`` of the chain."""
    return [(s, STAY[s]), (1 - s, 1.0 - STAY[s])]


def count(s):
    """``[(arrivals on a tick of state s, probability)]``."""
    return [(1, P_ARRIVE[s]), (0, 1.0 - P_ARRIVE[s])]


def window(s_first, ticks):
    """``{(end state, arrivals): probability}`` over ``ticks`` ticks, the first of state ``s_first``.

    The end state is the one after the window's last tick (``s_{t2 + 1}``).
    """
    out = {(s_first, 0): 1.0}
    for _ in range(ticks):
        nxt: dict[tuple[int, int], float] = {}
        for (s, n), p in out.items():
            for c, pc in count(s):
                for s2, ps in step(s):
                    nxt[(s2, n + c)] = nxt.get((s2, n + c), 0.0) + p * pc * ps
        out = nxt
    return out


def tables(h, law_of=window):
    """``E[h[S, k, min(q + N, B)] | s_{t + 1}]`` per starting state, action and occupancy, by enumeration."""
    eh = np.zeros((2, len(L), B + 1))
    for s in range(2):
        for k, lk in enumerate(L):
            for (e, n), p in law_of(s, int(lk)).items():
                for q in range(B + 1):
                    eh[s, k, q] += p * h[e, k, min(q + n, B)]
    return eh


@cache
def causal_optimum():
    """Expectimax over the policies that see the past and ``s_{t + 1}``: the engine's drop-tail FIFO."""

    @cache
    def decide(t, buf, new, s_next):
        if new > 0:
            pend, buf = t, drop_tail(B, buf, [t] * (new - 1))
        elif buf:
            pend, buf = buf[0], buf[1:]
        else:  # idle to the next tick
            if t + 1 >= H:
                return 0.0
            return sum(pc * ps * decide(t + 1, (), c, s2) for c, pc in count(s_next) for s2, ps in step(s_next))
        best = 0.0  # stop for good
        for lk, acc in zip(L, ACC, strict=True):
            t2 = t + int(lk)
            r = acc if t2 - pend <= D else 0.0
            if t2 < H:
                # the window's ticks t+1..t2: their states (from s_next on) and arrivals, then s_{t2 + 1}
                paths = [((), s_next, 1.0)]
                for _ in range(int(lk)):
                    paths = [((*cs, c), s2, p * pc * ps) for cs, s, p in paths for c, pc in count(s)
                             for s2, ps in step(s)]
                for cs, s_end, p in paths:
                    inside = [tk for tk, c in zip(range(t + 1, t2), cs[:-1], strict=True) for _ in range(c)]
                    r += p * decide(t2, drop_tail(B, buf, inside), cs[-1], s_end)
            best = max(best, r)
        return best

    return sum(p0 * pc * ps * decide(0, (), c, s1) for s0, p0 in enumerate(START) for c, pc in count(s0)
               for s1, ps in step(s0))


def paths():
    """Every (probability, arrival ticks, ``ctx``) of the tiny law, ``ctx[t] = s_{t + 1}``."""
    for states in itertools.product(range(2), repeat=H + 1):
        p_s = START[states[0]] * np.prod([STAY[a] if a == b else 1.0 - STAY[a]
                                          for a, b in itertools.pairwise(states)])
        for counts in itertools.product(range(2), repeat=H):
            p = p_s * np.prod([P_ARRIVE[s] if c else 1.0 - P_ARRIVE[s]
                               for s, c in zip(states[:-1], counts, strict=True)])
            if p > 0:
                yield p, np.flatnonzero(counts).astype(np.int64), np.array(states[1:], np.int8)


PATHS = list(paths())


def mean_bound(h, eh=None, relaxed=False):
    """The exact mean over every path of the (penalised) offline optimum (``relaxed``: the occupancy DP)."""
    total = 0.0
    if h is not None and eh is None:
        eh = tables(h)
    for p, arr, ctx in PATHS:
        pen = NO_PENALTY if h is None else (h, eh, ctx)
        total += p * offline_value(arr, H, B, L, ACC, D, pen, relaxed)
    return total


@pytest.fixture(scope="module")
def exact():
    return causal_optimum(), mean_bound(None)


def test_paths_are_a_law_and_hindsight_is_above_the_causal_optimum(exact):
    assert sum(p for p, _, _ in PATHS) == pytest.approx(1.0, abs=1e-12)
    opt, plain = exact
    assert plain > opt + 1.0  # foresight is worth something here, so a penalty has room to work


@pytest.mark.parametrize("relaxed", [False, True])
@pytest.mark.parametrize(("seed", "scale"), [(0, 10.0), (1, 10.0), (2, 60.0), (3, 60.0)])
def test_any_state_table_keeps_the_bound_above_the_causal_optimum(exact, seed, scale, relaxed):
    h = np.random.default_rng(seed).normal(0.0, scale, (2, len(L), B + 1))
    assert mean_bound(h, relaxed=relaxed) >= exact[0] - 1e-9


def test_zero_state_table_is_the_plain_bound(exact):
    assert mean_bound(np.zeros((2, len(L), B + 1))) == pytest.approx(exact[1], abs=1e-12)


def test_a_table_on_the_end_state_tightens_the_bound(exact):
    # a window that ends empty as a burst begins is worth less than its mean (the burst's samples will
    # find the chip idle anyway): charging the schedule for foreseeing it takes back part of its foresight
    # (171.35 -> 170.13, the causal optimum 166.49; the same price whatever the end state: 170.25)
    opt, plain = exact
    h = np.zeros((2, len(L), B + 1))
    h[1, :, 0] = -30.0
    tight = mean_bound(h)
    assert opt - 1e-9 <= tight < plain - 1.0


def test_joint_mmpp_law_closed_forms():
    rates, switch, tau = np.array([0.5, 4.0]), np.array([0.3, 1.1]), 1.7
    joint = capped_mmpp_joint(rates, switch, tau, 5)
    assert joint.sum(axis=(1, 2)) == pytest.approx(np.ones(2), abs=1e-12)
    assert joint.sum(axis=1) == pytest.approx(capped_mmpp(rates, switch, tau, 5), abs=1e-12)
    # equal rates: the count is Poisson whatever the path and the end state follows the two-state chain
    same = capped_mmpp_joint(np.array([2.0, 2.0]), switch, tau, 5)
    a, b = switch
    to1 = a / (a + b) * (1.0 - np.exp(-(a + b) * tau))
    for s, p1 in ((0, to1), (1, 1.0 - b / (a + b) * (1.0 - np.exp(-(a + b) * tau)))):
        assert same[s] == pytest.approx(np.outer([1.0 - p1, p1], capped_poisson(2.0 * tau, 5)), abs=1e-12)
    # no switching: the end state is the start, the count that state's Poisson
    frozen = capped_mmpp_joint(rates, np.zeros(2), tau, 5)
    for s in range(2):
        assert frozen[s, 1 - s] == pytest.approx(np.zeros(6), abs=1e-15)
        assert frozen[s, s] == pytest.approx(capped_poisson(rates[s] * tau, 5), abs=1e-12)


def tiny_mmpp():
    return load_scenario({
        "name": "tiny-mmpp", "board": TINY_BOARD, "profile": TINY_PROFILE,
        "workload": {"mode": "async", "process": "mmpp", "buffer_size": 2, "timebase_ms": 0.01,
                     "mmpp": {"rates_hz": [5000.0, 60000.0], "switch_hz": [4000.0, 8000.0]}},
        "battery": {"capacity_mah": 1.0}, "horizon_ms": 0.5, "deadline_ms": 0.06,
    })


def test_state_tables_on_a_scenario():
    sc = tiny_mmpp()
    for seed in range(3):
        plain = hindsight_seed(sc, seed)
        assert hindsight_seed(sc, seed, penalty=np.zeros((2, 3, 3))) == plain
        # one table for both end states is the table without the state axis
        h = np.random.default_rng(seed).normal(0.0, 20.0, (3, 3))
        assert hindsight_seed(sc, seed, penalty=np.stack([h, h])) == pytest.approx(
            hindsight_seed(sc, seed, penalty=h), abs=1e-9)
    with pytest.raises(TinySimError, match="table shape"):
        hindsight_seed(sc, 0, penalty=np.zeros((3, 3, 3)))


def test_fit_by_state_lowers_the_fitting_mean_on_a_shortened_copy():
    sc = tiny_mmpp()
    short = shortened(sc, 0.5)
    assert short.horizon_ms == pytest.approx(0.25) and short.battery.capacity_mah == pytest.approx(0.5)
    with pytest.raises(TinySimError, match="scale"):
        shortened(sc, 1.5)
    seeds = [0]
    h = fit_penalty(short, seeds, step=20.0, shared=True, by_state=True, max_sweeps=1)
    assert h.shape == (2, 3, 3) and (h == h[:, :1]).all() and h[1, 0, 0] != 0.0  # the burst's own row moved
    assert penalised_bound(short, seeds, h).mean < penalised_bound(short, seeds, None).mean - 1.0
