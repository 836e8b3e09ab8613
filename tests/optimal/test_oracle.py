"""The DP oracle: exact on tiny instances against brute force in the real engine, below every upper
bound, above every heuristic on the stationary training scenarios."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import baselines
from tests.support.tiny_device import TINY_BOARD, TINY_PROFILE
from tinysim_gym.config import load_scenario
from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine
from tinysim_gym.optimal import cache
from tinysim_gym.optimal.dp import average_reward, finite_horizon
from tinysim_gym.optimal.hindsight import hindsight_seed
from tinysim_gym.optimal.ladder import ladder
from tinysim_gym.optimal.lp import bound
from tinysim_gym.optimal.mdp import build_model
from tinysim_gym.optimal.oracle import solve, upper_hull
from tinysim_gym.optimal.selector import MMPPReplay, OracleSelector


def tiny(horizon_ms=0.2, capacity=1.0, interval=0.02, p=0.5, buffer=2, deadline_ms=None, **extra):
    """Three models of 5, 2 and 1 ticks (timebase 0.01 ms); Bernoulli arrivals every >= interval."""
    return load_scenario({
        "name": "tiny-oracle", "board": TINY_BOARD, "profile": TINY_PROFILE,
        "workload": {"mode": "async", "min_interval_ms": interval, "arrival_probability": p, "buffer_size": buffer},
        "battery": {"capacity_mah": capacity}, "horizon_ms": horizon_ms, "deadline_ms": deadline_ms, **extra,
    })


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYSIM_CACHE_DIR", str(tmp_path))


# ------------------------------------------------------------------ brute force in the real engine


def arrival_paths(base: int, p: float, horizon: int):
    """Every Bernoulli arrival path before ``horizon`` (gaps ``base + G``) with its probability."""
    out = []

    def rec(last, ticks, prob):
        g = 1
        while last + base + g < horizon:
            rec(last + base + g, [*ticks, last + base + g], prob * p * (1 - p) ** (g - 1))
            g += 1
        out.append((prob * (1 - p) ** (g - 1), ticks))

    rec(0, [], 1.0)
    return out


def expectimax(scenario, paths):
    """The best expected accuracy sum of any causal policy: at each decision every model is tried, and paths
    are grouped by what a policy has seen so far (the arrivals up to the decision tick)."""
    eng = Engine(scenario, chunk=64)
    H = eng.horizon_ticks
    arrs = []
    for _, ticks in paths:
        a = np.full(64, H + 10_000, dtype=np.int64)
        a[: len(ticks)] = ticks
        arrs.append(a)

    def load(i, st_, fs_):
        eng.ST[:] = st_
        eng.FS[:] = fs_
        eng.arr[:] = arrs[i]
        eng.ST[K.S_AN] = 64

    def value(group, st_, fs_):  # a decision is pending in every path of the group (same history)
        best = -1.0
        for k in range(eng.n_actions):  # every model, and the skip when the scenario has one
            total, nxt = 0.0, {}
            for i in group:
                load(i, st_, fs_)
                status = K.step(eng.ST, eng.FS, eng.PI, eng.PF, eng.arr, k)
                if status == K.DONE:
                    total += paths[i][0] * eng.FS[K.G_ACC_SUM]
                else:
                    t = int(eng.ST[K.S_T])
                    seen = tuple(x for x in paths[i][1] if x <= t)
                    nxt.setdefault((t, seen), ([], eng.ST.copy(), eng.FS.copy()))[0].append(i)
            for g, s2, f2 in nxt.values():
                w = sum(paths[i][0] for i in g)
                total += w * value(g, s2, f2) if w > 0 else 0.0
            best = max(best, total / sum(paths[i][0] for i in group))
        return best

    total = 0.0
    groups = {}
    st0, fs0 = K.empty_state(eng.n_models, eng.buffer_size)
    fs0[K.G_R] = eng.initial_mah
    for i in range(len(paths)):
        load(i, st0, fs0)
        status = K.advance(eng.ST, eng.FS, eng.PI, eng.PF, eng.arr)
        if status == K.DONE:
            continue
        t = int(eng.ST[K.S_T])
        seen = tuple(x for x in paths[i][1] if x <= t)
        groups.setdefault((t, seen), ([], eng.ST.copy(), eng.FS.copy()))[0].append(i)
    for g, s2, f2 in groups.values():
        total += sum(paths[i][0] for i in g) * value(g, s2, f2)
    return total


@pytest.mark.parametrize("interval,horizon_ms", [(0.02, 0.16), (0.01, 0.12), (0.03, 0.2)])
@pytest.mark.parametrize("skip", [None, 0.0, 0.01], ids=["no-skip", "skip-0-ticks", "skip-1-tick"])
def test_finite_horizon_dp_equals_expectimax_in_the_engine(interval, horizon_ms, skip):
    """With a skip: of zero ticks (no selector latency) or of one tick (the selector's 0.01 ms)."""
    extra = {} if skip is None else {"allow_skip": True, "profile": {**TINY_PROFILE, "selector_latency_ms": skip}}
    sc = tiny(horizon_ms=horizon_ms, interval=interval, **extra)
    model = build_model(sc)
    assert model.exact
    H = round(horizon_ms / 0.01)
    paths = arrival_paths(round(interval / 0.01), 0.5, H)
    assert abs(sum(p for p, _ in paths) - 1.0) < 1e-12
    dp_value, _ = finite_horizon(model, H)
    assert dp_value == pytest.approx(expectimax(sc, paths), abs=1e-9)


def test_model_transitions_are_distributions_and_times_are_means():
    for sc in (tiny(), tiny(deadline_ms=0.04), load_scenario("usps-l476-async1")):
        m = build_model(sc)
        assert np.allclose(m.trans.sum(axis=2), 1.0)
        assert (m.tau >= m.ticks[None, :] - 1e-9).all()
    m = build_model(tiny(interval=0.02, p=0.5, buffer=2))
    pol = average_reward(m, 0.0, np.eye(m.n_states)[0])
    # the mean gap is 2 + 1/p = 4 ticks: no policy serves more than one sample per 4 ticks
    assert pol.accuracy_rate * 4.0 <= 90.0 + 1e-9


def test_upper_hull_keeps_only_the_concave_frontier():
    c = np.array([1.0, 2.0, 3.0, 2.5, 4.0])
    a = np.array([1.0, 3.0, 4.0, 2.0, 4.0])
    assert list(upper_hull(c, a)) == [0, 1, 2]


# ------------------------------------------------------------------ below every upper bound


@settings(max_examples=8, deadline=None)
@given(
    interval=st.sampled_from([0.01, 0.02, 0.03]),
    p=st.sampled_from([0.3, 0.6, 1.0]),
    capacity=st.floats(2e-7, 2e-6),
    horizon=st.sampled_from([0.3, 0.6]),
    deadline=st.sampled_from([None, 0.03, 0.06]),
    skip=st.booleans(),
)
def test_oracle_never_exceeds_the_upper_bounds(interval, p, capacity, horizon, deadline, skip):
    sc = tiny(horizon_ms=horizon, capacity=capacity, interval=interval, p=p, deadline_ms=deadline, allow_skip=skip)
    sol = solve(sc, use_cache=False)
    for seed in (0, 1):
        run = Engine(sc).run(OracleSelector(solution=sol), seed=seed)
        assert run["weighted_accuracy"] <= hindsight_seed(sc, seed) + 1e-9
        assert run["weighted_accuracy"] <= bound(sc, observed=run).weighted_accuracy + 1e-9


def test_ladder_keys_and_order():
    out = ladder(tiny(horizon_ms=1.0, capacity=5e-6), seeds=[0, 1])
    assert {"lp", "hindsight", "oracle", "upper", "certified_gap", "oracle_observed"} <= set(out)
    assert out["upper"] == min(out["lp"], out["hindsight"])
    assert out["certified_gap"] == pytest.approx(out["upper"] - out["oracle"])
    assert out["certified_gap"] >= 0


# ------------------------------------------------------------------ above every heuristic


@pytest.mark.parametrize("name", ["usps-l476-async-horizon", "usps-l476-async1"])
def test_oracle_beats_every_heuristic_on_training_scenarios(name):
    sc = load_scenario(name)
    seeds = (0, 1)
    sol = solve(sc)
    oracle = np.mean([Engine(sc, chunk=1 << 16).run(OracleSelector(solution=sol), seed=s)["weighted_accuracy"]
                      for s in seeds])
    for h in baselines.names():
        mean = np.mean([baselines.run_episode(sc, baselines.make(h, sc), seed=s)["weighted_accuracy"] for s in seeds])
        assert oracle >= mean, (name, h, oracle, mean)


# ------------------------------------------------------------------ cache and hidden state


def test_solutions_are_cached_by_content(tmp_path):
    sc = tiny()
    first = solve(sc)
    assert not first.stats["cached"]
    again = solve(sc)
    assert again.stats["cached"]
    assert np.array_equal(first.cont, again.cont) and np.array_equal(first.observed_q, again.observed_q)
    assert len(list(cache.cache_dir().glob("*.npz"))) == 1
    assert not solve(tiny(capacity=2.0)).stats["cached"]  # other content, other entry


def test_mmpp_replay_matches_the_engine_stream_and_observed_variant_runs():
    sc = tiny(horizon_ms=2.0, workload={"mode": "async", "process": "mmpp", "buffer_size": 2,
                                        "mmpp": {"rates_hz": [2000.0, 40000.0], "switch_hz": [3000.0, 3000.0]}})
    from tinysim_gym.core.arrivals import MMPPStream

    rng = np.random.default_rng(5)
    stream = MMPPStream((2000.0, 40000.0), (3000.0, 3000.0), 0.01, rng)
    replay = MMPPReplay((2000.0, 40000.0), (3000.0, 3000.0), 5)
    ticks = np.zeros(300, dtype=np.int64)
    stream.fill(ticks)
    seen = []  # the replay's arrival events, walked one event at a time, land on the stream's arrival ticks
    while len(seen) < len(ticks):
        when, is_switch = replay._peek()
        replay.state_before(when + 1e-12)
        if not is_switch:
            seen.append(int(np.floor(when / 0.01)))
    assert seen == list(ticks)
    assert replay.state == stream.state  # both stopped right after the same arrival
    sol = solve(sc)
    assert sol.phase_kind == "mmpp"
    full = np.mean([Engine(sc).run(OracleSelector(solution=sol), seed=s)["weighted_accuracy"] for s in range(4)])
    obs = np.mean([Engine(sc).run(OracleSelector(True, sol), seed=s)["weighted_accuracy"] for s in range(4)])
    assert 0 < obs <= 90 and 0 < full <= 90
