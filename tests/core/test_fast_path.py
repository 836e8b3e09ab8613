"""The register loops and the compiled arrival draws equal the general kernels and NumPy, exactly.

The register loops (``tinysim_gym.core.fast_static``, with a fixed model or the fuzzy selector choosing)
must leave every int of the state and every float bit for bit where the general ``advance``/``apply`` loop
leaves them, at every return (small arrival chunks make many returns), in both modes; the arrival streams
must give the original's (seed-compatible) and NumPy's (default) arrival ticks, and leave the default
generator where ``Generator.geometric`` would.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from baselines import fuzzy, original
from baselines.original import FuzzySelector, StaticSelector
from tests.core.test_properties import extended_scenario_st, fuzzy_fits, scenario_st
from tests.support import examples
from tinysim_gym.cli.common import dumps
from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.core import kernels as K
from tinysim_gym.core.arrival_draws import MT_DOUBLES_PER_TWIST, mt19937_doubles
from tinysim_gym.core.arrivals import GeometricStream, SeedCompatStream
from tinysim_gym.core.engine import Engine, run
from tinysim_gym.core.fast_static import fixed_model_loop, general_loop
from tinysim_gym.core.jit import njit  # the project's: its cache is the source-keyed one, as the kernels'

PUBLISHED_CASES = ["sync_1", "sync_2", "async_1", "async_2", "async_3", "async_4", "acc_first", "lat_first"]


@njit(cache=True)
def fuzzy_reference(ST, FS, PI, PF, arr, params, mem):  # the kernels' array names
    """The general kernels with the fuzzy rule base deciding, read from the state arrays at each decision.

    ``params`` is the fuzzy selector's: variant code, capacity (unused: the engine's own is read), rule base.
    """
    while True:
        status = K.advance(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status
        out = fuzzy.fuzzy_output(FS[K.G_R] / PF[K.F_CAP] * 100.0, float(ST[K.S_Q]), params[2:])
        K.apply(ST, FS, PI, PF, fuzzy.fuzzy_index_kernel(out, int(params[0])))


Loop = Callable[..., int]
Form = tuple[Loop, np.ndarray, np.ndarray]


def fixed_loops(model: int) -> tuple[Callable[[Engine], Form], Callable[[Engine], Form]]:
    """(register, reference) loop makers for a fixed model: the static selector's ``loop`` and the general loop."""

    def fast(e: Engine) -> Form:
        sel = StaticSelector(model)
        sel.reset(e)
        return sel.loop(e)

    return fast, (lambda e: (general_loop, np.array([float(model)]), np.zeros(1)))


def fuzzy_loops() -> tuple[Callable[[Engine], Form], Callable[[Engine], Form]]:
    """(register, reference) loop makers for the fuzzy selector: its ``loop`` and the general kernels."""

    def fast(e: Engine) -> Form:
        sel = FuzzySelector()
        sel.reset(e)
        return sel.loop(e)

    def ref(e: Engine) -> Form:
        _, params, mem = fast(e)
        return fuzzy_reference, params, mem

    return fast, ref


def drive(sc: ScenarioConfig, loop_for: Callable[[Engine], Form], seed: int | None,
          chunk: int) -> tuple[Engine, int]:
    """Run one episode with the loop ``loop_for(engine)`` gives; return the engine and the call count."""
    e = Engine(sc, chunk=chunk)
    e.reset(seed)
    fn, params, mem = loop_for(e)
    status, calls = (K.DECISION if e.decision_pending else K.DONE), 0
    while status != K.DONE:
        status = fn(e.ST, e.FS, e.PI, e.PF, e.arr, params, mem)
        calls += 1
        assert status in (K.NEED_ARRIVALS, K.DONE)
        if status == K.NEED_ARRIVALS:
            e.refill_arrivals()
    return e, calls


def assert_same_run(sc: ScenarioConfig, model: int | None, seed: int | None = 0,
                    chunk: int = 1 << 16) -> dict[str, Any]:
    """The register loop and the general kernels end in identical states (floats compared bit for bit).

    ``model``: a fixed model index, or None for the fuzzy selector.
    """
    fast_for, ref_for = fuzzy_loops() if model is None else fixed_loops(model)
    fast, n_fast = drive(sc, fast_for, seed, chunk)
    ref, n_ref = drive(sc, ref_for, seed, chunk)
    assert n_fast == n_ref  # the same returns: every refill happened at the same point
    assert np.array_equal(fast.ST, ref.ST), np.flatnonzero(fast.ST != ref.ST)
    assert np.array_equal(fast.FS.view(np.int64), ref.FS.view(np.int64)), (fast.FS, ref.FS)
    assert dumps(fast.metrics()) == dumps(ref.metrics())
    return fast.metrics()


@st.composite
def masked_st(draw: Any, base: ScenarioConfig) -> ScenarioConfig:
    """``base`` with a board memory that some models exceed (memory policy mask), when it has two models or more."""
    raw = base.model_dump()
    models = raw["profile"]["models"]
    if len(models) < 2:
        return base
    fit = draw(st.lists(st.booleans(), min_size=len(models), max_size=len(models)))
    fit[draw(st.integers(0, len(models) - 1))] = True
    raw["board"]["ram_kb"] = 100.0
    for m, ok in zip(models, fit, strict=True):
        m["ram_kb"] = 50.0 if ok else 200.0
    raw["memory_policy"] = "mask"
    return load_scenario(raw)


@st.composite
def binade_st(draw: Any) -> ScenarioConfig:
    """Long episodes (thousands of decisions) whose idle charge may rival the inference charge.

    The remaining charge crosses many binades, and the run that crosses one may be an idle run or an
    inference, at any point of the run: where the seed-compatible loop hands over to the general kernels.
    """
    tb = draw(st.sampled_from([0.01, 0.005, 0.1]))
    inf_ma = draw(st.floats(0.5, 300.0))
    mode = draw(st.sampled_from(["async", "async", "sync"]))
    lat = draw(st.floats(2.0, 300.0)) * tb
    interval = lat * draw(st.floats(1.0, 4.0)) if mode == "sync" else lat * draw(st.floats(0.2, 4.0))
    raw = {
        "name": "binades",
        "board": {"name": "b", "inference_current_ma": inf_ma,
                  "idle_current_ma": inf_ma * draw(st.sampled_from([0.0, 1e-3, 0.05, 0.3, 1.0]))},
        "profile": {"name": "p", "selector_latency_ms": 0.0, "fuzzy_variant": "stream",
                    "models": [{"id": i, "accuracy": draw(st.floats(0.0, 100.0)), "latency_ms": lat / (1 + i)}
                               for i in range(3)]},
        "workload": {"mode": mode, "min_interval_ms": interval, "arrival_probability": draw(st.floats(0.05, 1.0)),
                     "buffer_size": draw(st.integers(1, 8)), "timebase_ms": tb},
        "battery": {"capacity_mah": 1.0, "initial_soc": draw(st.floats(0.1, 1.0))},
        "seed_compat": draw(st.integers(0, 3)) > 0,  # the binade logic is the seed-compatible mode's
    }
    per_decision = inf_ma * interval / 3.6e6 * 2  # a rough charge of one decision
    raw["battery"]["capacity_mah"] = float(f"{per_decision * draw(st.floats(1000.0, 20000.0)):.5g}")
    return load_scenario(raw)


@settings(max_examples=examples(100))
@given(data=st.data())
def test_fixed_model_loop_equals_general_kernels_over_many_binades(data):
    sc = data.draw(binade_st())
    model = data.draw(st.sampled_from([0, 1, 2, None]))  # None: the fuzzy selector
    chunk = data.draw(st.sampled_from([1, 64, 4096]))
    note(f"scenario={sc.model_dump()}\nmodel={model} chunk={chunk}")
    assert_same_run(sc, model, 3, chunk)


@settings(max_examples=examples(150))
@given(data=st.data())
def test_fixed_model_loop_equals_general_kernels(data):
    sc = data.draw(scenario_st(max_decisions=2000, max_ticks=2_000_000))
    if data.draw(st.integers(0, 3)) == 0:
        sc = data.draw(masked_st(sc))
    model = data.draw(st.integers(0, len(sc.profile.models) - 1))
    if fuzzy_fits(sc) and data.draw(st.booleans()):
        model = None  # the fuzzy selector
    chunk = data.draw(st.sampled_from([1, 2, 7, 64, 4096]))
    seed = data.draw(st.integers(0, 2**31 - 1))
    note(f"scenario={sc.model_dump()}\nmodel={model} chunk={chunk} seed={seed}")
    assert_same_run(sc, model, seed, chunk)


@settings(max_examples=examples(100))
@given(data=st.data())
def test_fixed_model_loop_equals_general_kernels_with_extensions(data):
    sc = data.draw(extended_scenario_st())  # processes, per-model currents, deadlines, harvesters
    model = data.draw(st.integers(0, len(sc.profile.models) - 1))
    if fuzzy_fits(sc) and data.draw(st.booleans()):
        model = None
    chunk = data.draw(st.sampled_from([1, 3, 64, 4096]))
    seed = data.draw(st.integers(0, 2**31 - 1))
    note(f"scenario={sc.model_dump()}\nmodel={model} chunk={chunk} seed={seed}")
    assert_same_run(sc, model, seed, chunk)


@pytest.mark.parametrize("seed_compat", [True, False])
@pytest.mark.parametrize("case", PUBLISHED_CASES)
def test_published_cases_every_model(case, seed_compat):
    sc = load_scenario(case, seed_compat=seed_compat)
    for model in (0, 1, 5, 9, None):
        assert_same_run(sc, model, seed=7)
    assert_same_run(sc, None, seed=7, chunk=5)


@pytest.mark.parametrize("seed_compat", [True, False])
def test_readme_command_at_a_tenth_of_its_battery(seed_compat):
    """The README command's scenario over many binades of the remaining charge (1.5 M decisions)."""
    sc = load_scenario("async_1", workload={"min_interval_ms": 3.0}, battery={"capacity_mah": 10.0},
                       seed_compat=seed_compat)
    m = assert_same_run(sc, 0, seed=0)
    assert m["inferences"] > 1_000_000
    assert_same_run(sc, None, seed=0)


def test_engine_run_uses_the_register_loops_for_the_original_selectors():
    for sel in (StaticSelector(0), FuzzySelector()):
        e = Engine(load_scenario("async_1"))
        sel.reset(e)
        assert sel.loop(e)[0] in (fixed_model_loop, original._fuzzy_loop)
    m = run(load_scenario("async_1"), StaticSelector(0))
    assert (m["ticks"], m["inferences"], m["dropped"]) == (33645063, 146283, 20273)


# ------------------------------------------------------------------------------------------ arrival draws


def original_arrivals(min_interval_ticks: float, p: float, count: int) -> list[int]:
    """The original's arrival ticks, tick by tick: Python ``random`` seeded with 1, one draw per eligible tick."""
    rnd = random.Random(1)
    base = int(min_interval_ticks // 1)
    out, t = [], 0
    while len(out) < count:
        t += base + 1  # the first tick that may hold the next arrival
        while not rnd.uniform(0, 1) > 1 - p:
            t += 1
        out.append(t)
    return out


@pytest.mark.parametrize("p", [0.5, 1.0, 0.9, 0.05, 1 / 3])
@pytest.mark.parametrize("m", [0.0, 0.7, 300.0])
def test_seed_compat_stream_is_the_originals(p, m):
    want = original_arrivals(m, p, 5000)
    for chunk in (1, 7, 4096, 70_000):
        s = SeedCompatStream(m, p, block=997)  # a block that is no multiple of anything: carries across blocks
        out = np.zeros(chunk, dtype=np.int64)
        got: list[int] = []
        while len(got) < len(want):
            s.fill(out)
            got.extend(out.tolist())
        assert got[: len(want)] == want


@pytest.mark.parametrize("p", [1.0, 0.999, 0.5, 0.3333333333333333, 0.33333333333333337, 0.34, 0.2, 0.01])
def test_geometric_stream_draws_what_numpy_geometric_draws(p):
    for seed in (0, 1, 2**31 - 1):
        for chunk in (1, 5, 4096):
            mine, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
            s = GeometricStream(3.5, p, mine)
            out = np.zeros(chunk, dtype=np.int64)
            last = 0
            for _ in range(20 if chunk > 100 else 200):
                s.fill(out)
                want = last + np.cumsum(3 + theirs.geometric(p, size=chunk))
                assert np.array_equal(out, want), (p, seed, chunk)
                last = int(want[-1])
            assert mine.bit_generator.state == theirs.bit_generator.state


@pytest.mark.parametrize("seed", [1, 0, 12345])
def test_compiled_mersenne_twister_draws_what_python_random_draws(seed):
    rnd = random.Random(seed)
    key = np.array(random.Random(seed).getstate()[1][:624], dtype=np.uint32)
    out = np.empty(MT_DOUBLES_PER_TWIST * 3)
    for _ in range(2):
        mt19937_doubles(key, out)
        assert out.tolist() == [rnd.random() for _ in range(len(out))]
