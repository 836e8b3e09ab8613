"""Row views without a reference count: the batched kernel on them equals the per-row kernel on plain rows."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import tinysim_gym  # noqa: F401  (registers the ids)
from tinysim_gym.core import kernels as K
from tinysim_gym.envs.kernels import batch_step, env_step, step_reward
from tinysim_gym.envs.raw_views import float32_row, float64_row, int64_row

N = 6
STEPS = 40


def _state(scenario: str, seed: int, reps: int) -> tuple[list[np.ndarray], np.ndarray, float, int]:
    venv = gym.make_vec("TinySim-v0", num_envs=N, scenario=scenario, decisions_per_step=reps, max_steps=None)
    u = venv.unwrapped
    u.reset(seed=seed)
    arrays = [u.ST, u.FS, u.PI, u.PF, u.ARR, u.WK, u.OBS]
    return [a.copy() for a in arrays], u._status.copy(), u.settings.drop_penalty, u.single_action_space.n


@pytest.mark.parametrize(
    ("scenario", "seed", "reps"),
    [
        ("usps-l476-async-horizon", 0, 1),
        ("usps-l476-async-horizon", 5, 16),
        ("sync_1", 3, 4),
        ("solar-l476-async-horizon", 1, 2),
        ("mlperf-kws-ndp9120-supercap-sun-7d", 2, 3),
    ],
)
def test_batch_step_equals_env_step_on_plain_rows_bit_for_bit(scenario, seed, reps):
    a, status_a, dp, n_actions = _state(scenario, seed, reps)
    b, status_b = [x.copy() for x in a], status_a.copy()
    rew_a, rew_b = np.zeros(N), np.zeros(N)
    rng = np.random.default_rng(seed)
    stepped = 0
    for _ in range(STEPS):
        actions = rng.integers(0, n_actions, size=N)
        batch_step(*a, actions, reps, dp, status_a, rew_a)
        for i in range(N):  # the reference: the same kernel on plain row slices, one row per call
            if status_b[i] != K.DECISION:
                rew_b[i] = 0.0
                continue
            r = env_step(*(x[i] for x in b), int(actions[i]), reps)
            status_b[i] = r[0]
            if r[0] != K.NEED_ARRIVALS:
                rew_b[i] = step_reward(b[3][i], int(actions[i]), r[1], r[2], dp)
            stepped += 1
        assert status_a.tolist() == status_b.tolist()
        assert rew_a.tobytes() == rew_b.tobytes()
        assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))  # observations among them
    assert stepped > N * STEPS // 2  # most rows were stepped, not waiting


def test_row_views_read_and_write_the_rows_of_a_strided_array():
    base = np.arange(40, dtype=np.int64).reshape(4, 10)
    ints = base[:, 2:7]  # rows contiguous, row stride larger than a row
    floats = np.arange(24, dtype=np.float64).reshape(3, 8)[:, 1:4]
    small = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert int64_row(ints, 2).tolist() == ints[2].tolist()
    assert float64_row(floats, 1).tolist() == floats[1].tolist()
    assert float32_row(small, 3).tolist() == small[3].tolist()
    int64_row(ints, 1)[0] = -1
    assert base[1, 2] == -1 and (base == -1).sum() == 1


def test_batch_step_refuses_rows_that_are_not_contiguous():
    a, status, dp, _ = _state("usps-l476-async-horizon", 0, 1)
    a[0] = a[0][:, ::2]  # every other column: rows not contiguous
    with pytest.raises(ValueError, match="contiguous rows"):
        batch_step(*a, np.zeros(N, dtype=np.int64), 1, dp, status, np.zeros(N))
