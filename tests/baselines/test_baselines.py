"""Baselines: the registry, the published figures, fast path = decision path, the SB3 adapter, errors."""

from __future__ import annotations

import numpy as np
import pytest

import baselines
from agents.vec_env import TinySimVecEnv
from baselines import make, names, run_episode
from baselines.budget import BudgetTracker
from baselines.ladder import BatteryLadder
from tests.support import PUBLISHED, assert_published
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.errors import TinySimError
from tinysim_gym.optimal.lp import bound

# a short default-mode scenario for per-decision comparisons
SHORT = {"battery": {"capacity_mah": 0.01}, "horizon_ms": 5000.0}


def test_names_and_descriptions():
    assert names() == [
        "reference", "accuracy-first", "latency-first", "random", "fuzzy",
        "ladder", "ratio", "energy", "queue-greedy", "budget", "deadline",
    ]
    assert set(names(aliases=True)) >= {"static", "fuzzy-tova", "fuzzy-stream", "budget-round"}
    assert set(baselines.describe()) == set(names())


@pytest.mark.parametrize("case", sorted(PUBLISHED))
def test_original_selectors_give_the_published_figures(case):
    sc = load_scenario(case)
    assert_published(case, run_episode(sc, make(sc.selector, sc)))  # registry + fast path
    assert_published(case, Engine(sc, chunk=1 << 16).run(make(sc.selector, sc)))  # the engine's own run


@pytest.mark.parametrize("name", ["ladder", "queue-greedy", "budget", "random", "ratio", "energy", "deadline"])
@pytest.mark.parametrize("scenario", ["usps-l476-async-horizon", "usps-l476-async1"])
def test_compiled_loop_equals_decision_by_decision(name, scenario):
    sc = load_scenario(scenario, **SHORT) if scenario.endswith("horizon") else load_scenario(
        scenario, battery={"capacity_mah": 0.01})
    fast = run_episode(sc, make(name), seed=5)

    class Slow:  # hides loop/kernel: the engine calls select() once per decision
        def __init__(self, inner):
            self.inner = inner

        def reset(self, view):
            self.inner.reset(view)

        def select(self, view):
            return self.inner.select(view)

    slow = Engine(sc).run(Slow(make(name)), seed=5)
    for key in ("weighted_accuracy", "inferences", "dropped", "operating_time_ms", "model_counts", "energy_mah"):
        assert fast[key] == slow[key], (name, key)


def test_random_matches_the_original_sequence():
    sc = load_scenario("async_2")
    ours = run_episode(sc, make("random"))
    from baselines.original import RandomSelector

    original = Engine(sc).run(RandomSelector())
    assert ours == original


def test_budget_within_one_point_of_the_bound_on_the_horizon_scenario():
    sc = load_scenario("usps-l476-async-horizon")
    b = bound(sc).weighted_accuracy
    runs = [run_episode(sc, make("budget"), seed=s) for s in (0, 1, 2)]
    mean = float(np.mean([r["weighted_accuracy"] for r in runs]))
    assert mean <= b
    assert b - mean < 1.0
    assert b - mean < 0.01  # in fact within a hundredth of a point
    # the realised usage follows the LP's mixture
    mix = bound(sc).mixture
    counts = runs[0]["model_counts"]
    total = sum(counts.values())
    for k in ("4", "5"):
        assert counts[k] / total == pytest.approx(mix[k], abs=0.02)
    assert all(r["end_reason"] == "horizon" and r["dropped"] == 0 for r in runs)


def test_budget_tracks_the_busy_budget_until_depletion():
    sc = load_scenario("usps-l476-async1")
    m = run_episode(sc, make("budget"), seed=0)
    assert bound(sc).weighted_accuracy - m["weighted_accuracy"] < 0.05
    assert m["dropped"] < 10


def _two_model_params(dither: bool) -> np.ndarray:
    """Horizon 1000 ticks, gap 10, no idle drain; models (charge 1, 50 %) and (charge 3, 90 %), 1 tick each."""
    return np.array([1000.0, 10.0, 0.0, 4.0, 2.0, float(dither), 1.0, 1.0, 50.0, 0.0, 3.0, 1.0, 90.0, 1.0])


@pytest.mark.parametrize(("budget", "share", "model"), [(1.8, 0.4, 0), (2.0, 0.5, 1), (2.2, 0.6, 1)])
def test_budget_round_takes_the_dearer_model_from_half_its_share(budget, share, model):
    from baselines.budget import _pick

    # 101 samples to come (the waiting one and 1000 / 10 arrivals): charge left = budget x 101; the LP mixes the
    # two models with the dearer one's share (1 - 1 / b) / (3 / b - 1 / b)
    assert (1 - 1 / budget) / (3 / budget - 1 / budget) == pytest.approx(share)
    mem = np.zeros(1)
    picks = [_pick(0.0, budget * 101, 0, _two_model_params(False), mem) for _ in range(10)]
    assert picks == [model] * 10  # no hidden state: the same decision state, the same model
    mem = np.zeros(1)
    dithered = [_pick(0.0, budget * 101, 0, _two_model_params(True), mem) for _ in range(10)]
    assert sum(dithered) == round(10 * share)  # the default realises the share by error diffusion


def test_budget_round_paces_charge_as_closely_as_budget():
    sc = load_scenario("usps-l476-async-horizon")
    b = bound(sc).weighted_accuracy
    runs = [run_episode(sc, make("budget-round"), seed=s) for s in (0, 1, 2)]
    assert b - float(np.mean([r["weighted_accuracy"] for r in runs])) < 0.01
    mix = bound(sc).mixture  # the charge left feeds back into the next budget: the mixture is realised anyway
    counts = runs[0]["model_counts"]
    for k in ("4", "5"):
        assert counts[k] / sum(counts.values()) == pytest.approx(mix[k], abs=0.02)


def test_heuristics_choose_what_they_say():
    sc = load_scenario("usps-l476-async-horizon")
    eng = Engine(sc)
    assert make("ratio", eng).selector.index == 1  # accuracy per ms favours the fastest on usps_tova
    assert make("ratio", eng, alpha=0).selector.index == 0
    assert make("energy", eng).selector.index == 1
    assert make("energy", eng, min_accuracy=93).selector.index == 5
    lad = make("ladder", eng).selector
    assert lad.rungs == [0, 7, 4, 1]  # Pareto front from most accurate to fastest, four rungs
    assert make("ladder", eng, thresholds=[50], models=[3, 2]).selector.rungs == [3, 2]
    eng.reset(0)
    g = make("queue-greedy", eng)
    assert g.select(eng) == 0  # empty buffer: the most accurate model fits


def test_ladder_steps_down_with_the_battery():
    sc = load_scenario("usps-l476-async-horizon")
    m = run_episode(sc, make("ladder", sc, thresholds=[60, 30], models=[0, 4, 1]), seed=0)
    c = m["model_counts"]
    assert c["0"] > 0 and c["4"] > 0 and c["1"] > 0 and sum(c.values()) == c["0"] + c["4"] + c["1"]


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: make("fuzy"), r"unknown baseline 'fuzy'; did you mean fuzzy.*allowed: reference, accuracy-first"),
        (lambda: make("ladder", thresholds=[120, 50]), r"thresholds: 120 is outside the allowed range 0\.\.100"),
        (lambda: make("ladder", thresholds=[-1]), r"outside the allowed range 0\.\.100"),
        (lambda: make("ladder", thresholds=[25, 50]), r"strictly descending values in 0\.\.100"),
        (lambda: make("ladder", thresholds=[50], models=[0]), r"need one model per rung, 2"),
        (lambda: make("ladder", "sync_1", thresholds=[50], models=[0, 10]), r"model index 10 out of range 0\.\.9"),
        (lambda: make("static", "sync_1", index=12), r"static model index 12 out of range 0\.\.9"),
        (lambda: make("reference", "sync_1", index=-1), r"out of range 0\.\.9"),
        (lambda: make("reference", index="a"), r"expected an integer model index"),
        (lambda: make("budget", windw=3), r"unknown parameter 'windw' \(allowed: window, dither\)"),
        (lambda: make("accuracy-first", index=2), r"unknown parameter 'index' \(allowed: none\)"),
        (lambda: make("energy", "sync_1", min_accuracy=99), r"no model reaches 99 % \(allowed: 0\.\.94\.08\)"),
        (lambda: make("ratio", alpha=float("nan")), r"alpha: nan is outside the allowed range 0\.\.10"),
        (lambda: make("fuzzy", variant="tovva"), r"unknown fuzzy variant 'tovva' \(allowed: tova, stream\)"),
    ],
)
def test_errors_are_one_line_and_list_what_is_allowed(call, pattern):
    with pytest.raises(TinySimError, match=pattern) as info:
        call()
    assert "\n" not in str(info.value)


def test_select_view_needs_reset_parameters():
    lad = BatteryLadder(thresholds="80, 40")
    assert lad.thresholds == [80.0, 40.0]
    with pytest.raises(TinySimError, match="not a number"):
        BatteryLadder(thresholds="80, x")
    with pytest.raises(TinySimError, match="window"):
        BudgetTracker(window=0)


# ------------------------------------------------------------------ SB3 adapter


def test_evaluate_policy_works_with_the_env():
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    env = Monitor(TinySimEnv(scenario="usps-l476-async-horizon", **SHORT))
    policy = make("budget", env)
    rewards, lengths = evaluate_policy(policy, env, n_eval_episodes=2, return_episode_rewards=True)
    sc = load_scenario("usps-l476-async-horizon", **SHORT)
    wa = bound(sc).weighted_accuracy
    for r, n in zip(rewards, lengths, strict=True):
        assert r / n * 100 == pytest.approx(wa, abs=0.1)  # every sample served: return / steps = accuracy


def test_predict_follows_the_engine_path_exactly():
    sc = load_scenario("usps-l476-async1", battery={"capacity_mah": 0.01})
    for name in ("budget", "ladder", "queue-greedy", "fuzzy", "random"):
        env = TinySimEnv(scenario=sc)
        policy = make(name, env)
        obs, _ = env.reset(seed=4)
        done = False
        while not done:
            action, _ = policy.predict(obs, deterministic=True)
            assert action.shape == ()
            obs, _, term, trunc, info = env.step(action)
            done = term or trunc
        expected = run_episode(sc, make(name), seed=4)
        assert info["episode_metrics"]["weighted_accuracy"] == expected["weighted_accuracy"], name
        assert info["episode_metrics"]["model_counts"] == expected["model_counts"], name


def test_predict_on_vector_envs():
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([lambda: TinySimEnv(scenario="usps-l476-async-horizon", **SHORT)] * 2)
    policy = make("queue-greedy", venv)
    obs = venv.reset()
    actions, state = policy.predict(obs, episode_start=np.ones(2, dtype=bool))
    assert actions.shape == (2,) and state is None
    rewards, _ = evaluate_policy(policy, venv, n_eval_episodes=2, return_episode_rewards=True)
    assert len(rewards) == 2

    batched = TinySimVecEnv(2, {"scenario": "usps-l476-async-horizon", **SHORT})
    rewards, _ = evaluate_policy(make("budget", batched), batched, n_eval_episodes=2, return_episode_rewards=True)
    assert len(rewards) == 2


def test_predict_without_env_is_an_error():
    with pytest.raises(TinySimError, match="no env bound"):
        make("budget").predict(np.zeros(3))
