"""The skip action (``allow_skip``): closed-form costs, sample conservation, refusal in seed mode."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.test_properties import scenario_st
from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.core.engine import Engine, discharge_mah
from tinysim_gym.errors import ConfigError, TinySimError

TB = 0.1  # ms per tick


def tiny(**over: Any) -> ScenarioConfig:
    """Two models (31 and 11 ticks with the selector's 1 tick), one sample every 21 ticks, a 100 ms horizon."""
    raw: dict[str, Any] = {
        "name": "tiny-skip",
        "board": {"name": "b", "inference_current_ma": 36.0, "idle_current_ma": 3.6},
        "profile": {"name": "p", "selector_latency_ms": 0.1, "models": [
            {"id": "slow", "accuracy": 90.0, "latency_ms": 3.0},
            {"id": "fast", "accuracy": 70.0, "latency_ms": 1.0},
        ]},
        "workload": {"mode": "async", "min_interval_ms": 2.0, "arrival_probability": 1.0, "buffer_size": 2,
                     "timebase_ms": TB},
        "battery": {"capacity_mah": 1.0},
        "horizon_ms": 100.0,
        "allow_skip": True,
    }
    return load_scenario(raw | over)


def test_skip_costs_the_selector_only_closed_form() -> None:
    """Skipping every sample: 1 busy tick each at the inference current, idle otherwise, no accuracy."""
    e = Engine(tiny())
    assert (e.n_actions, e.skip_ticks) == (3, 1)
    e.reset(seed=0)
    while e.decision_pending:
        e.step(2)
    m = e.metrics()
    arrivals = 999 // 21  # one sample on every 21st tick from tick 21 (the first period), before tick 1000
    assert m["arrivals"] == m["skipped"] == arrivals
    assert (m["inferences"], m["dropped"], m["buffered_at_end"], m["weighted_accuracy"]) == (0, 0, 0, 0.0)
    assert m["busy_ticks"] == arrivals and m["idle_ticks"] == 1000 - arrivals
    d_inf, d_idle = discharge_mah(TB, 36.0), discharge_mah(TB, 3.6)
    assert m["energy_mah"] == pytest.approx(arrivals * d_inf + (1000 - arrivals) * d_idle, rel=1e-12)


def test_skip_counts_in_the_weighted_accuracy() -> None:
    """Serve one sample with the fast model, skip the rest: the accuracy is 70 over every sample."""
    e = Engine(tiny())
    e.reset(seed=0)
    e.step(1)
    while e.decision_pending:
        e.step(2)
    m = e.metrics()
    assert m["inferences"] == 1 and m["skipped"] == m["arrivals"] - 1
    assert m["weighted_accuracy"] == pytest.approx(70.0 / m["arrivals"])


def test_zero_selector_latency_skips_at_the_same_tick() -> None:
    """With no selector latency a skip takes no time: the next buffered sample is decided at once."""
    sc = tiny(profile={"name": "p0", "models": [{"id": 0, "accuracy": 80.0, "latency_ms": 8.0}]})
    e = Engine(sc)
    assert e.skip_ticks == 0 and e.skip_charge_mah == 0.0
    e.reset(seed=0)
    e.step(0)  # ticks 21..101: the samples of ticks 42 and 63 wait (84 overflows the buffer of 2)
    t = e.tick
    assert e.queue >= 1
    e.step(1)
    assert e.tick == t and e.skipped == 1


def test_skip_index_refused_without_allow_skip() -> None:
    e = Engine(tiny(allow_skip=False))
    e.reset(seed=0)
    assert e.n_actions == 2
    with pytest.raises(TinySimError, match="out of range 0..1"):
        e.step(2)


def test_skip_refused_in_seed_compatible_mode() -> None:
    with pytest.raises(ConfigError, match=r"seed_compat: the original model has no allow_skip") as info:
        load_scenario("async_1", allow_skip=True)
    assert "\n" not in str(info.value)


@settings(max_examples=40, deadline=None)
@given(sc=scenario_st(seed_compat=False, max_decisions=150), seed=st.integers(0, 2**31), p_skip=st.floats(0, 1))
def test_samples_are_conserved_with_skips(sc: ScenarioConfig, seed: int, p_skip: float) -> None:
    """``arrivals == served + dropped + skipped + buffered`` at every decision and at the end; time adds up."""
    e = Engine(load_scenario(sc.model_dump() | {"allow_skip": True}))
    rng = np.random.default_rng(seed)
    e.reset(seed=seed)
    n = e.n_models
    # a free skip (no selector latency) on a board that idles at no charge never ends without a horizon
    for _ in range(20_000):
        if not e.decision_pending:
            break
        m = e.metrics()
        assert m["arrivals"] == m["inferences"] + m["dropped"] + m["skipped"] + e.queue + 1, m
        assert m["ticks"] == e.tick == m["busy_ticks"] + m["idle_ticks"], m
        e.step(n if rng.random() < p_skip else int(rng.integers(n)))
    m = e.metrics()
    held = e.queue + 1 if e.decision_pending else m["buffered_at_end"]  # cut short: the sample being decided
    assert m["arrivals"] == m["inferences"] + m["dropped"] + m["skipped"] + held, m
    assert m["energy_mah"] == pytest.approx(m["inference_charge_mah"] + m["idle_charge_mah"], rel=1e-9, abs=1e-15)
