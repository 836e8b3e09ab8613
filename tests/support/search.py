"""Exhaustive search over open-loop action sequences on one arrival path, for brute-force checks on tiny cases."""

from __future__ import annotations

from typing import Any

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine


def open_loop_leaves(scenario: ScenarioConfig, seed: int = 0) -> list[dict[str, Any]]:
    """Metrics of every action sequence on the seed's arrival path (every policy, for that path)."""
    eng = Engine(scenario, chunk=4096)
    assert eng.reset(seed)
    out: list[dict[str, Any]] = []

    def rec() -> None:
        st, fs = eng.ST.copy(), eng.FS.copy()
        for k in range(eng.n_actions):  # the models, and the skip when the scenario has one
            eng.ST[:] = st
            eng.FS[:] = fs
            status = K.step(eng.ST, eng.FS, eng.PI, eng.PF, eng.arr, k)
            assert status != K.NEED_ARRIVALS
            if status == K.DECISION:
                rec()
            else:
                out.append(eng.metrics())

    rec()
    return out
