"""The batched env's compiled bookkeeping against the numpy expressions it replaces, on random rows."""

from __future__ import annotations

import numpy as np
import pytest

from tinysim_gym.core import kernels as K
from tinysim_gym.envs.batch_ends import out_of_range, step_ends


@pytest.mark.parametrize("max_steps", [None, 0, 3, 7])
def test_step_ends_equal_the_numpy_reference(max_steps):
    rng = np.random.default_rng(max_steps or 11)
    for _ in range(200):
        n = int(rng.integers(1, 12))
        status = rng.choice([K.DECISION, K.DONE, K.NEED_ARRIVALS], size=n).astype(np.int64)
        waiting = rng.random(n) < 0.3
        steps = rng.integers(0, 9, size=n).astype(np.int64)
        ref_steps = steps.copy()
        ref_term = (status == K.DONE) & ~waiting
        if max_steps is None:
            ref_trunc = np.zeros(n, dtype=bool)
        else:
            ref_steps += ~waiting
            ref_trunc = (ref_steps >= max_steps) & ~ref_term & ~waiting
        term, trunc = np.empty(n, dtype=bool), np.empty(n, dtype=bool)
        ended = step_ends(status, waiting, steps, -1 if max_steps is None else max_steps, term, trunc)
        assert np.array_equal(term, ref_term) and np.array_equal(trunc, ref_trunc)
        assert np.array_equal(steps, ref_steps)
        assert ended == bool(ref_term.any() or ref_trunc.any())


def test_out_of_range():
    assert not out_of_range(np.array([0, 3, 4], dtype=np.int64), 5)
    assert out_of_range(np.array([0, 5], dtype=np.int64), 5)
    assert out_of_range(np.array([-1, 2], dtype=np.int64), 5)
    assert not out_of_range(np.array([], dtype=np.int64), 5)
