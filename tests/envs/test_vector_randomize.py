"""Domain randomisation in the batched env: every sub-env reset draws, exactly as the single env does."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.vector_env import TinySimVectorEnv

# one agent step serves every decision of an episode, so each step is one whole episode
CFG = {"scenario": "usps-random-horizon", "decisions_per_step": 1_000_000}
EPISODES = 4


def _drawn(sc):
    return sc.battery.capacity_mah, sc.workload.min_interval_ms


def _single(seed):
    env = TinySimEnv(dict(CFG))
    out = []
    for ep in range(EPISODES):
        env.reset(seed=seed if ep == 0 else None)
        drawn = _drawn(env.scenario)
        _, _, term, _, info = env.step(0)
        assert term
        out.append((drawn, info["episode_metrics"]))
    return out


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_sub_env_i_draws_what_a_single_env_seeded_s_plus_i_draws(mode):
    seed, n = 7, 3
    venv = TinySimVectorEnv(n, dict(CFG), autoreset_mode=mode)
    venv.reset(seed=seed)
    seen = [[] for _ in range(n)]
    while min(len(s) for s in seen) < EPISODES:
        drawn = [_drawn(venv.scenarios[i]) for i in range(n)]
        _, _, _, ended = venv.step_raw(np.zeros(n, dtype=np.int64))
        for i, _, info in ended:
            seen[i].append((drawn[i], info["episode_metrics"]))
    for i in range(n):  # gymnasium's convention: sub-env i is seeded seed + i
        assert seen[i][:EPISODES] == _single(seed + i), i
    caps = [d[0] for s in seen for d, _ in s]
    assert len(set(caps)) == len(caps) and all(0.05 <= c <= 0.15 for c in caps)  # real draws, in the range
    assert venv.scenario is venv.template and venv.template.randomize  # the template keeps its ranges


def test_a_concrete_scenario_is_never_redrawn():
    venv = TinySimVectorEnv(2, {"scenario": "usps-l476-async-horizon", "decisions_per_step": 1_000_000},
                            autoreset_mode=AutoresetMode.SAME_STEP)
    venv.reset(seed=0)
    engines = list(venv.engines)
    venv.step(np.zeros(2, dtype=np.int64))
    assert venv.engines == engines and venv.scenarios == [venv.scenario] * 2
