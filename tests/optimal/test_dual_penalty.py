"""The penalised hindsight bound: an upper bound on the causal optimum in the mean, over every trace exactly."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pytest
from scipy.stats import poisson

from tests.support.tiny_device import TINY_BOARD, TINY_PROFILE
from tests.support.tiny_fifo import drop_tail, offline_value
from tinysim_gym.config import load_scenario
from tinysim_gym.errors import TinySimError
from tinysim_gym.optimal.dual_penalty import capped_mmpp, capped_poisson, expected_h
from tinysim_gym.optimal.hindsight import hindsight_seed
from tinysim_gym.optimal.ladder import dual_rungs
from tinysim_gym.optimal.offline_fifo import NO_PENALTY
from tinysim_gym.optimal.penalty_fit import fit_penalty, penalised_bound, read_penalty, read_penalty_file

# a tiny trace law: each tick independently holds 0, 1 or 2 arrivals
P_TICK = (0.5, 0.3, 0.2)
H, B, D = 8, 2, 2
L = np.array([1, 2], np.int64)
ACC = np.array([50.0, 90.0])


def window_law(ticks, law=P_TICK):
    """Law of the arrivals in ``ticks`` ticks (the per-tick law convolved)."""
    out = np.array([1.0])
    for _ in range(ticks):
        out = np.convolve(out, law)
    return out


def tables(h, law=P_TICK):
    """``E[h[k, min(q + N, B)]]`` under the tiny law, per action and occupancy."""
    eh = np.empty_like(h)
    for k, lk in enumerate(L):
        win = window_law(int(lk), law)
        for q in range(B + 1):
            eh[k, q] = sum(p * h[k, min(q + n, B)] for n, p in enumerate(win))
    return eh


def causal_optimum(law=P_TICK):
    """Expectimax over the causal policies: the engine's drop-tail FIFO, decided with the past only."""

    @cache
    def decide(t, buf, new):
        if new > 0:  # an arrival on the decision tick is served first, the others join the buffer
            pend, buf = t, drop_tail(B, buf, [t] * (new - 1))
        elif buf:
            pend, buf = buf[0], buf[1:]
        else:  # idle to the next tick
            return 0.0 if t + 1 >= H else sum(p * decide(t + 1, (), n) for n, p in enumerate(law))
        best = 0.0  # stop for good
        for lk, acc in zip(L, ACC, strict=True):
            t2 = t + int(lk)
            r = acc if t2 - pend <= D else 0.0
            if t2 < H:
                for counts in itertools.product(range(len(law)), repeat=int(lk)):
                    p = float(np.prod([law[c] for c in counts]))
                    inside = [tk for tk, c in zip(range(t + 1, t2), counts[:-1], strict=True) for _ in range(c)]
                    r += p * decide(t2, drop_tail(B, buf, inside), counts[-1])
            best = max(best, r)
        return best

    return sum(p * decide(0, (), n) for n, p in enumerate(law))


def mean_bound(h, law=P_TICK, relaxed=False):
    """The exact mean over every trace of the (penalised) offline optimum (``relaxed``: the occupancy DP)."""
    pen = NO_PENALTY if h is None else (h[None], tables(h, law)[None], np.zeros(H, np.int8))
    total = 0.0
    for counts in itertools.product(range(len(law)), repeat=H):
        p = float(np.prod([law[c] for c in counts]))
        arr = np.array([t for t, c in enumerate(counts) for _ in range(c)], np.int64)
        total += p * offline_value(arr, H, B, L, ACC, D, pen, relaxed)
    return total


def tiny_poisson():
    """A tiny Poisson scenario under a deadline (three models, buffer 2)."""
    return load_scenario({
        "name": "tiny-poisson", "board": TINY_BOARD, "profile": TINY_PROFILE,
        "workload": {"mode": "async", "process": "poisson", "rate_hz": 40_000.0, "buffer_size": 2,
                     "timebase_ms": 0.01},
        "battery": {"capacity_mah": 1.0}, "horizon_ms": 0.4, "deadline_ms": 0.06,
    })


@pytest.fixture(scope="module")
def exact():
    return causal_optimum(), mean_bound(None)


def test_without_uncertainty_the_expectimax_is_the_offline_optimum():
    # one arrival on every tick: nothing to foresee, so the two models of the problem must agree
    law = (0.0, 1.0, 0.0)
    assert causal_optimum(law) == pytest.approx(mean_bound(None, law), abs=1e-9)
    h = np.random.default_rng(9).normal(0.0, 60.0, (2, B + 1))
    assert mean_bound(h, law) == pytest.approx(mean_bound(None, law), abs=1e-9)  # a sure count: no penalty


def test_hindsight_is_above_the_causal_optimum(exact):
    opt, plain = exact
    assert plain >= opt - 1e-9
    assert plain - opt > 1.0  # foresight is worth something here, so a penalty has room to work


@pytest.mark.parametrize("relaxed", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_any_penalty_keeps_the_bound_above_the_causal_optimum(exact, seed, relaxed):
    h = np.random.default_rng(seed).normal(0.0, 60.0, (2, B + 1))
    assert mean_bound(h, relaxed=relaxed) >= exact[0] - 1e-9


def test_a_penalty_on_the_empty_buffer_tightens_the_bound(exact):
    # an empty buffer after a service is worth less (nothing waits to be served): charging the schedule for
    # knowing it takes back part of its foresight (294.99 -> 293.26, the causal optimum 274.53)
    opt, plain = exact
    h = np.zeros((2, B + 1))
    h[:, 0] = -20.0
    tight = mean_bound(h)
    assert opt - 1e-9 <= tight < plain - 1.5


def test_zero_penalty_is_the_plain_hindsight_bound():
    sc = tiny_poisson()
    for seed in range(3):
        assert hindsight_seed(sc, seed, penalty=np.zeros((3, 3))) == hindsight_seed(sc, seed)


def test_poisson_expectation_closed_form():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(2, 5))
    mu = np.array([0.7, 2.5])
    eh = expected_h(h, np.array([capped_poisson(m, 4) for m in mu]))
    for k in range(2):
        for q in range(5):
            n = np.arange(5 - q)
            want = poisson.pmf(n[:-1], mu[k]) @ h[k, q:4] + poisson.sf(4 - q - 1, mu[k]) * h[k, 4]
            assert eh[k, q] == pytest.approx(want, abs=1e-12)


def test_mmpp_count_law_closed_forms():
    # equal rates: a Poisson count whatever the state; no switching: the starting state's Poisson count
    same = capped_mmpp(np.array([2.0, 2.0]), np.array([0.3, 1.1]), 1.5, 4)
    for s in range(2):
        assert same[s] == pytest.approx(capped_poisson(3.0, 4), abs=1e-12)
    frozen = capped_mmpp(np.array([0.5, 4.0]), np.array([0.0, 0.0]), 2.0, 4)
    assert frozen[0] == pytest.approx(capped_poisson(1.0, 4), abs=1e-12)
    assert frozen[1] == pytest.approx(capped_poisson(8.0, 4), abs=1e-12)


def test_penalty_is_refused_where_its_mean_is_not_exact():
    sc = load_scenario({
        "name": "tiny-bernoulli", "board": TINY_BOARD, "profile": TINY_PROFILE,
        "workload": {"mode": "async", "min_interval_ms": 0.02, "arrival_probability": 0.5, "buffer_size": 2},
        "battery": {"capacity_mah": 1.0}, "horizon_ms": 0.3,
    })
    with pytest.raises(TinySimError, match="poisson or mmpp"):
        hindsight_seed(sc, 0, penalty=np.zeros((3, 3)))


def test_fitted_penalty_lowers_the_fitting_mean_and_has_the_bound_shape():
    sc = tiny_poisson()
    seeds = [0, 1, 2]
    h = fit_penalty(sc, seeds, step=20.0, min_step=5.0, budget_s=2.0, shared=True)
    assert h.shape == (3, 3) and (h == h[0]).all()
    assert penalised_bound(sc, seeds, h).mean <= penalised_bound(sc, seeds, None).mean


def test_ladder_dual_rungs_pair_the_penalised_bound_with_the_oracle():
    sc = tiny_poisson()
    seeds = [0, 1, 2]
    runs = [80.0, 70.0, 75.0]
    zero = dual_rungs(sc, seeds, runs, 200.0, np.zeros((3, 3)))
    plain = [hindsight_seed(sc, s) for s in seeds]
    assert zero["dual"] == pytest.approx(np.mean(plain), abs=1e-12)
    assert zero["dual_se"] == pytest.approx(np.std(plain, ddof=1) / np.sqrt(3), abs=1e-12)
    assert zero["dual_certified_gap"] == pytest.approx(np.mean(plain) - 75.0, abs=1e-12)
    diff = np.asarray(plain) - runs
    assert zero["dual_certified_gap_se"] == pytest.approx(np.std(diff, ddof=1) / np.sqrt(3), abs=1e-12)
    assert dual_rungs(sc, seeds, runs, 10.0, np.zeros((3, 3)))["dual_certified_gap"] == pytest.approx(-65.0)


def test_read_penalty_refuses_bad_tables_in_one_line(tmp_path):
    sc = tiny_poisson()
    good = tmp_path / "good.json"
    good.write_text("[[0, 1, 2], [0, 0, 0], [0, -1, 5]]")
    assert read_penalty(str(good), sc).tolist() == [[0, 1, 2], [0, 0, 0], [0, -1, 5]]
    fitted = tmp_path / "fitted.json"
    fitted.write_text('{"penalty": [[0, 1, 2], [0, 0, 0], [0, -1, 5]], "fit_seeds": [0, 1, 2]}')
    table, seeds = read_penalty_file(str(fitted), sc)
    assert table.tolist() == [[0, 1, 2], [0, 0, 0], [0, -1, 5]] and seeds == [0, 1, 2]
    assert read_penalty_file(str(good), sc)[1] is None
    for name, text, match in [("shape.json", "[[0, 1], [0, 0]]", "table shape"),
                              ("state.json", str([[[0, 0, 0]] * 3] * 2), "table shape"),
                              ("nan.json", "[[0, 1, NaN], [0, 0, 0], [0, 0, 0]]", "finite"),
                              ("text.json", "not json", "JSON array"),
                              ("strings.json", '[["0", 1, 2], [0, 0, 0], [0, 0, 0]]', "JSON array"),
                              ("bools.json", "[[true, 1, 2], [0, 0, 0], [0, 0, 0]]", "JSON array"),
                              ("deep.json", "[" * 100_000 + "]" * 100_000, "JSON array"),
                              ("seeds.json", '{"penalty": [[0, 0, 0]], "fit_seeds": ["0"]}', "fit_seeds")]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(TinySimError, match=match) as err:
            read_penalty(str(path), sc)
        assert "\n" not in str(err.value)
    with pytest.raises(TinySimError, match="JSON array"):
        read_penalty(str(tmp_path / "missing.json"), sc)
