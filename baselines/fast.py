"""The compiled fast path for heuristics whose decision function lives in numba.

The engine's own fast path (``Engine.run``) knows two selector kernels, static and fuzzy. Heuristics with
more logic (the ladder, queue-greedy, budget tracking, the seeded random selector) each carry a small numba
loop, ``loop(engine) -> (fn, params, mem)``, that calls the engine's kernels (``advance``/``apply``) and their
own decision function between them; ``Engine.run`` drives it. :func:`run_episode` builds the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import njit

from tinysim_gym.core import kernels as K
from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.core.engine import Engine

#: Status a loop returns when its own pre-drawn data (e.g. random draws) ran out: ``Engine.run`` then calls
#: ``selector.more(params, mem)``.
NEED_MORE = K.NEED_MORE


@njit(cache=True)
def pick_loop(pick, ST, FS, PI, PF, arr, params, mem):  # noqa: N803 - the kernels' array names
    """Run the engine, answering each decision with ``pick(tick, remaining_mah, queue, params, mem)``."""
    while True:
        status = K.advance(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status
        K.apply(ST, FS, PI, PF, pick(ST[K.S_T], FS[K.G_R], ST[K.S_Q], params, mem))


def compiled_loop(pick: Callable[..., int]) -> Callable[..., int]:
    """``Engine.run``'s loop form (``fn(ST, FS, PI, PF, arr, params, mem)``) for a numba decision function."""

    def fn(ST, FS, PI, PF, arr, params, mem):  # noqa: N803, ANN001, ANN202
        return pick_loop(pick, ST, FS, PI, PF, arr, params, mem)

    return fn


def run_episode(
    target: Engine | ScenarioConfig | str,
    selector: Any,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Run one whole episode with ``selector`` on the fastest path it supports; return the metrics.

    Args:
        target: an engine, a scenario, or a scenario name / path.
        selector: a baseline (anything with ``select``; ``loop`` or ``kernel`` make it compiled).
        seed: episode seed (default mode).
        progress: optional ``progress(fraction_of_battery_used)``, called between arrival chunks.

    Returns:
        ``engine.metrics()`` of the finished episode (the same figures ``Engine.run`` gives).
    """
    if isinstance(target, Engine):
        engine = target
    else:
        sc = target if isinstance(target, ScenarioConfig) else load_scenario(target)
        engine = Engine(sc, chunk=1 << 16)
    return engine.run(selector, seed=seed, progress=progress)
