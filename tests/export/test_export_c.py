"""The C export against Python on >= 1e5 states of real episodes: observations bit for bit, actions equal.

One set of episodes (the short pacing scenario, every optional feature on, one decision per step) feeds
every check here; each export compiles once with ``gcc -std=c99 -O2 -Wall -Wextra -Werror``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.support.export_policies import GENTLE, SHORT_ENV, pace_ladder
from tinysim_gym.envs.settings import EnvSettings, split_kwargs
from tinysim_gym.export import bundle
from tinysim_gym.export.distill import fit_table, fit_tree
from tinysim_gym.export.mlp import InputStage, Int8Mlp, Layer, MlpPolicy
from tinysim_gym.export.observation import ObsSpec
from tinysim_gym.export.states import Visited, visit
from tinysim_gym.export.verify import HostBuild

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs the host gcc")

CFG = split_kwargs({**SHORT_ENV, "obs_last_action": True, "obs_arrival_rate": True, "drop_window": 16}, {})
SEEDS = list(range(56))


def _policy(masked: bool) -> MlpPolicy:
    # the policy reads five of the six features (not last_action), normalised, in its own order
    names = EnvSettings(CFG).feature_names
    keep = ["horizon_elapsed", "soc", "buffer_fill", "recent_drops", "arrival_rate"]
    idx = np.array([names.index(k) for k in keep])
    mean, std = np.full(5, 0.25), np.full(5, 0.5)
    (w1, b1), (w2, b2) = pace_ladder(5, soc=1, horizon=0, steepness=GENTLE)
    # undo the normalisation in the first layer: x = (z + 0.5) / 2 for z = (x - 0.25) / 0.5
    w1 = (w1 / 2.0).astype(np.float32)
    b1 = (b1 + 0.5 * (w1[0] + w1[1])).astype(np.float32)
    return MlpPolicy(InputStage(idx, mean, std, 5.0), (Layer(w1, b1, "tanh"), Layer(w2, b2, "identity")), masked)


@pytest.fixture(scope="module")
def spec() -> ObsSpec:
    return ObsSpec.of(EnvSettings(CFG))


@pytest.fixture(scope="module")
def episodes() -> Visited:
    ladder = _policy(masked=True)

    def mixed(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        # the ladder in even sub-envs; the most accurate (slow) model in odd ones, which fills the buffer
        actions = ladder.act(obs, masks)
        actions[1::2] = 0
        return actions

    return visit(mixed, CFG, SEEDS)


@pytest.fixture(scope="module")
def ladder_actions(episodes: Visited) -> np.ndarray:
    return _policy(masked=True).act(episodes.obs, episodes.masks)


def _build(policy: bundle.Exportable, spec: ObsSpec, tmp: Path, heuristic: bool = False) -> HostBuild:
    bundle.write(bundle.build(policy, spec, 10, {"test": "c"}), tmp)
    return HostBuild(tmp, heuristic=heuristic)


@pytest.fixture(scope="module")
def float_build(spec: ObsSpec, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostBuild]:
    hb = _build(_policy(masked=True), spec, tmp_path_factory.mktemp("float"))
    yield hb
    hb.close()


def test_real_episodes_give_enough_states(episodes: Visited) -> None:
    assert len(episodes.obs) >= 100_000
    assert len(episodes.metrics) == len(SEEDS)
    assert 0.0 < episodes.weighted_accuracy < 94.08  # below the best model: the ladder spends accuracy to last


def test_observation_builder_matches_the_env_bit_for_bit(episodes: Visited, spec: ObsSpec,
                                                         float_build: HostBuild) -> None:
    c_obs = float_build.observations(episodes.records, spec.obs_dim)
    assert c_obs.shape == episodes.record_obs.shape and len(c_obs) >= 100_000
    assert np.array_equal(c_obs.view(np.uint32), episodes.record_obs.view(np.uint32))
    # the continuous features take many values and the counts several, so this covers more than constants
    distinct = {name: len(np.unique(c_obs[:, j])) for j, name in enumerate(spec.feature_names)}
    assert min(distinct["soc"], distinct["horizon_elapsed"], distinct["arrival_rate"]) > 100
    assert min(distinct["buffer_fill"], distinct["last_action"], distinct["recent_drops"]) >= 3


def test_float_export_agrees_on_every_action(episodes: Visited, float_build: HostBuild,
                                             ladder_actions: np.ndarray) -> None:
    c = float_build.act(episodes.obs, episodes.masks)
    assert np.array_equal(c, ladder_actions)
    assert len(np.unique(c)) >= 3  # the ladder's rungs are all reached
    unmasked = _policy(masked=False).act(episodes.obs)
    assert np.array_equal(float_build.act(episodes.obs), unmasked)


def test_int8_c_matches_its_reference(episodes: Visited, spec: ObsSpec, tmp_path: Path,
                                      ladder_actions: np.ndarray) -> None:
    # agreement with the float policy is measured where it means something, on an agent's own decisions
    # (tests/agents/test_export_agent.py): here one decision per sample keeps the state within a
    # quantisation step of the ladder's boundary for most of an episode
    q = Int8Mlp.quantize(_policy(masked=True), episodes.obs[::7])
    assert all(layer.q_weight.dtype == np.int8 and np.abs(layer.q_weight).max() == 127 for layer in q.layers)
    hb = _build(q, spec, tmp_path)
    try:
        c = hb.act(episodes.obs, episodes.masks)
    finally:
        hb.close()
    assert np.mean(c == q.act(episodes.obs, episodes.masks)) >= 0.9999
    assert np.mean(c == ladder_actions) >= 0.5


def test_distilled_tree_and_table_run_the_same_in_c(episodes: Visited, spec: ObsSpec, tmp_path: Path,
                                                     ladder_actions: np.ndarray) -> None:
    tree = fit_tree(episodes.obs[::10], ladder_actions[::10])  # fitted on a tenth, checked on all
    table = fit_table(episodes.obs[::10], ladder_actions[::10], np.array([0, 3]))
    # it learnt the ladder (better than its most frequent model); how closely is the agent tests' business
    assert np.mean(tree.act(episodes.obs) == ladder_actions) > np.bincount(ladder_actions).max() / len(ladder_actions)
    for i, policy in enumerate((tree, table)):
        hb = _build(policy, spec, tmp_path / str(i))
        try:
            assert np.array_equal(hb.act(episodes.obs), policy.act(episodes.obs))
        finally:
            hb.close()
    assert tree.flash_bytes() <= 2048 and table.flash_bytes() <= 2048
