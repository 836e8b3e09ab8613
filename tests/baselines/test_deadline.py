"""The deadline-aware heuristic on a tiny deterministic case (one sample every 21 ticks, two models)."""

from __future__ import annotations

import numpy as np

import baselines
from baselines.deadline import _pick
from tests.core.test_skip import tiny
from tinysim_gym.core.engine import Engine


def run(name: str, **over: object) -> dict:
    e = Engine(tiny(**over))
    return e.run(baselines.make(name, e).selector, seed=0)


def test_pick_by_hand() -> None:
    """deadline 40, models by accuracy: 0 (31 ticks), 1 (11 ticks); skip index 2."""
    params = np.array([40.0, 2.0, 2.0, 0.0, 1.0, 31.0, 11.0, 1.0])
    assert _pick(100, 100, 1 << 62, params) == 0  # fresh sample, nothing behind it: the accurate model
    assert _pick(100, 90, 1 << 62, params) == 1  # age 10: only the fast model is in time
    assert _pick(100, 95, 98, params) == 1  # the slow model would make the next one late (131 + 11 - 98 > 40)
    assert _pick(100, 65, 1 << 62, params) == 2  # age 35: no model is in time, skip
    params[1] = -1.0
    assert _pick(100, 65, 1 << 62, params) == 1  # no skip action: the fastest model


def test_impossible_deadline_skips_every_sample() -> None:
    """A deadline shorter than the fastest model: every sample is skipped (with the skip) or late (without)."""
    m = run("deadline", deadline_ms=0.5)
    assert m["inferences"] == 0 and m["skipped"] == m["arrivals"] > 0
    m = run("deadline", deadline_ms=0.5, allow_skip=False)
    assert m["skipped"] == 0 and m["deadline_misses"] == m["inferences"] == m["model_counts"]["fast"] > 0


def test_meets_every_deadline_and_beats_both_static_choices() -> None:
    """Deadline 40 ticks: the slow model alone makes later samples late, the fast one wastes accuracy."""
    m = run("deadline", deadline_ms=4.0)
    assert m["deadline_misses"] == 0 and m["skipped"] == 0 and m["dropped"] == 0
    assert m["model_counts"]["slow"] > 0 and m["model_counts"]["fast"] > 0
    for other in ("accuracy-first", "latency-first"):
        assert m["weighted_accuracy"] > run(other, deadline_ms=4.0)["weighted_accuracy"]


def test_select_and_compiled_loop_agree() -> None:
    e = Engine(tiny(deadline_ms=4.0))
    sel = baselines.make("deadline", e).selector
    sel.reset(e)
    e.reset(seed=0)
    while e.decision_pending:
        e.step(sel.select(e))
    assert e.metrics() == run("deadline", deadline_ms=4.0)
