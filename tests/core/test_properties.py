"""Property-based tests: invariants of the engine over random valid scenarios and policies.

Scenarios are drawn over boards (built-in or random currents), model profiles (built-in or random model
sets), sync/async, timebases, intervals (also shorter than a tick and not multiples of it), arrival
probabilities, buffer sizes, initial states of charge, horizons and both modes. The battery is sized from
a target number of decisions so that every example stays small.

Invariants (see docs/reliability.md for the table and the case counts):

* samples: ``arrivals == inferences + dropped + queue + 1`` at every decision (the ``+ 1`` is the sample
  being decided on) and ``arrivals == inferences + dropped + buffered_at_end`` at the end;
* time: ``ticks == busy_ticks + idle_ticks`` at every decision and at the end (in seed-compatible sync
  mode an arrival tick counts as one busy tick although it is charged a whole inference: the lump rule),
  decision ticks strictly increase;
* energy: ``energy_mah == inference_charge_mah + idle_charge_mah`` to 1e-9 relative; the charge split
  follows the tick counts (queue machine: ``busy_ticks * d_inf`` and ``idle_ticks * d_idle``; lump
  machine: the lumps per model, plus ``d_idle`` per idle tick and the original's ``min_interval * timebase``
  idle term per arrival); the charge drawn never exceeds the initial charge in the default mode, and in
  the seed-compatible mode by less than the charge of the last *two* ticks (the stop rule reads the SoC
  at the start of a tick, so the tick that empties the battery and the one after it both run);
* the remaining charge never increases (no harvester) and the decision view stays in bounds;
* the same invariants, and the charge split, under the kinetic (KiBaM) and Peukert battery models;
* on a supercapacitor: samples conserved with ``dropped_off``, time split into busy, idle, off and boot,
  the capacitor's energy balance (harvest, load, converter loss, quiescent current, leakage), its voltage
  in ``[0, v_max]`` and at or above ``v_off`` at every decision;
* the event-driven engine equals the tick-by-tick reference (``tests/support/reference_sim.py``) exactly in
  seed-compatible mode; the compiled fast path equals the step-by-step path;
* determinism: the same scenario and seed give byte-identical metrics JSON within a process, across
  processes (with different ``PYTHONHASHSEED``) and through ``tinysim simulate --json``.
"""

from __future__ import annotations

import atexit
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st

from baselines import fuzzy
from baselines.original import FuzzySelector, LatencyFirst, StaticSelector
from tests.support import SELECTORS, examples
from tests.support.closed_form import closed_form_sync
from tests.support.invariants import check_decision_with_off
from tests.support.reference_sim import reference_for
from tinysim_gym.cli.common import dumps
from tinysim_gym.config import ScenarioConfig, builtin_names, load_profile, load_scenario
from tinysim_gym.core.engine import Engine, discharge_mah
from tinysim_gym.errors import ConfigError

BOARDS = builtin_names("boards")
# profiles whose models carry their own inference energy need a board's supply voltage and the default
# mode: those are drawn with their own boards (tests/core/test_properties_storage.py)
PROFILES = [p for p in builtin_names("profiles") if not any(m.energy_uj for m in load_profile(p).models)]
TIMEBASES = [0.01, 0.01, 0.01, 0.005, 0.02, 0.1, 0.25]

# ------------------------------------------------------------------------------------------ strategies


@st.composite
def board_st(draw: Any) -> Any:
    if draw(st.booleans()):
        return draw(st.sampled_from(BOARDS))
    return {
        "name": "random-board",
        "inference_current_ma": draw(st.floats(0.5, 300.0)),
        "idle_current_ma": draw(st.one_of(st.just(0.0), st.floats(1e-4, 5.0))),
    }


@st.composite
def profile_st(draw: Any, timebase: float) -> Any:
    if draw(st.booleans()):
        return draw(st.sampled_from(PROFILES))
    n = draw(st.integers(1, 10))
    sel = draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
    models = []
    base = draw(st.sampled_from([10.0, 2.0, 50.0, 0.6, 200.0]))  # a profile's typical latency, in ticks
    for i in range(n):
        # total latency in ticks: > 0.5 so that the original's round() gives at least one tick
        ticks = max(0.51, base * draw(st.floats(0.3, 3.0)))
        lat = max(ticks * timebase - sel, 0.0)
        assume(lat > 0 and (lat + sel) / timebase > 0.5)
        models.append({"id": i, "accuracy": draw(st.floats(0.0, 100.0)), "latency_ms": lat})
    return {"name": "random-profile", "selector_latency_ms": sel, "models": models}


def _resolved(kind: str, ref: Any) -> dict[str, Any]:
    from tinysim_gym.config import load_board, load_profile

    return (load_board if kind == "board" else load_profile)(ref).model_dump()


@st.composite
def scenario_st(draw: Any, seed_compat: bool | None = None, horizon: bool = True, max_ticks: int = 400_000,
                max_decisions: int = 400) -> ScenarioConfig:
    """A valid scenario whose battery lasts about ``max_decisions`` decisions and ``max_ticks`` ticks."""
    tb = draw(st.sampled_from(TIMEBASES))
    board = _resolved("board", draw(board_st()))
    profile = _resolved("profile", draw(profile_st(tb)))
    sc = profile["selector_latency_ms"]
    lats = [m["latency_ms"] + sc for m in profile["models"]]
    mode = draw(st.sampled_from(["async", "sync"]))
    if mode == "sync":
        interval = draw(st.one_of(st.just(max(lats)), st.floats(1.0, 4.0).map(lambda f: max(lats) * f)))
    else:
        interval = draw(st.one_of(st.floats(0.1, 3.0).map(lambda f: f * tb),
                                  st.floats(0.2, 3.0).map(lambda f: f * max(lats)),
                                  st.floats(0.01, 20.0)))
    interval = max(interval, 1e-6)
    p = draw(st.one_of(st.just(0.5), st.just(1.0), st.floats(0.05, 1.0)))
    buf = draw(st.integers(1, 12))
    seed = draw(st.booleans()) if seed_compat is None else seed_compat
    # battery: a target number of decisions times a rough charge per arrival
    d_inf = discharge_mah(tb, board["inference_current_ma"])
    d_idle = discharge_mah(tb, board["idle_current_ma"])
    svcs = [math.ceil(x / tb) for x in lats]
    svc_min, svc_mean = min(svcs), sum(svcs) / len(svcs)
    gap = math.floor(interval / tb) + (1 if mode == "sync" else 1 / p)
    lump_idle = discharge_mah(interval * tb, board["idle_current_ma"]) if mode == "sync" else 0.0
    # the battery lasts about `target` decisions of an average model (more with the fastest)
    per_arrival_min = svc_min * d_inf + max(gap - svc_min, 0) * d_idle + lump_idle
    per_arrival = svc_mean * d_inf + max(gap - svc_mean, 0) * d_idle + lump_idle
    tiny = draw(st.integers(0, 7)) == 0  # now and then a battery that dies before or at the first sample
    size = draw(st.sampled_from([float(max_decisions), 100.0, 30.0, 10.0, 3.0]))  # hypothesis favours the first
    target = draw(st.floats(0.01, 2.0) if tiny else st.floats(0.5, 1.0).map(lambda f: max(2.0, f * size)))
    # ticks: at most one busy tick per d_inf of charge, plus the gaps of at most charge / per_arrival decisions
    ticks_per_mah = 1 / d_inf + gap / per_arrival_min
    soc0 = draw(st.one_of(st.just(1.0), st.floats(0.05, 1.0)))
    charge = min(target * per_arrival, max_ticks / ticks_per_mah)
    cap = float(f"{charge / soc0:.4g}")
    assume(0 < cap <= 1e5)
    raw: dict[str, Any] = {
        "name": "prop",
        "board": board,
        "profile": profile,
        "workload": {"mode": mode, "min_interval_ms": interval, "arrival_probability": p, "buffer_size": buf,
                     "timebase_ms": tb},
        "battery": {"capacity_mah": cap, "initial_soc": soc0},
        "seed_compat": seed,
    }
    if horizon and draw(st.booleans()):  # from before the first sample to past the battery's end
        raw["horizon_ms"] = tb * max(1, round(draw(st.floats(0.02, 2.0)) * target * max(gap, svc_min)))
    return load_scenario(raw)


# ------------------------------------------------------------------------------------------ policies


@dataclass(frozen=True)
class PolicySpec:
    """A policy that the engine and the reference can both run: ``choose(soc_pct, q) -> index``."""

    kind: str  # static | random | threshold | fuzzy
    a: int = 0
    b: int = 0
    c: int = 0
    soc_thr: float = 50.0
    q_thr: int = 1
    seed: int = 0

    def chooser(self, sc: ScenarioConfig) -> Any:
        """A fresh ``choose(soc_pct, q)`` (policies with state start again)."""
        n = len(sc.profile.models)
        if self.kind == "static":
            return lambda soc, q: self.a % n
        if self.kind == "random":
            rnd = random.Random(self.seed)
            return lambda soc, q: rnd.randrange(n)
        if self.kind == "threshold":
            return lambda soc, q: (self.c if q >= self.q_thr else self.a if soc > self.soc_thr else self.b) % n
        code = fuzzy.VARIANTS[sc.profile.fuzzy_variant]
        return lambda soc, q: fuzzy.fuzzy_select_kernel(soc, float(q), fuzzy.DEFAULT_PARAMS, code)

    def fast(self, sc: ScenarioConfig) -> Any:
        """The compiled-kernel selector for this policy, or None."""
        if self.kind == "static":
            return StaticSelector(self.a % len(sc.profile.models))
        if self.kind == "fuzzy":
            return FuzzySelector()
        return None


class ViewSelector:
    """Engine selector calling ``choose(view.soc_pct, view.queue)``."""

    def __init__(self, choose: Any) -> None:
        self.choose = choose

    def select(self, view: Engine) -> int:
        return self.choose(view.soc_pct, view.queue)


def fuzzy_fits(sc: ScenarioConfig) -> bool:
    return len(sc.profile.models) >= (10 if sc.profile.fuzzy_variant == "tova" else 3)


@st.composite
def policy_st(draw: Any, sc: ScenarioConfig) -> PolicySpec:
    kinds = ["static", "random", "threshold"] + (["fuzzy"] if fuzzy_fits(sc) else [])
    idx = st.integers(0, 20)
    return PolicySpec(kind=draw(st.sampled_from(kinds)), a=draw(idx), b=draw(idx), c=draw(idx),
                      soc_thr=draw(st.floats(0.0, 100.0)), q_thr=draw(st.integers(0, 8)),
                      seed=draw(st.integers(0, 2**32 - 1)))


# ------------------------------------------------------------------------------------------ helpers


def tick_charges(sc: ScenarioConfig) -> dict[str, float]:
    """Charge of one tick of each kind, computed from the scenario as the original does."""
    w, b, tb = sc.workload, sc.board, sc.workload.timebase_ms
    out = {"inf": discharge_mah(tb, b.inference_current_ma), "idle": discharge_mah(tb, b.idle_current_ma)}
    out["lump_idle"] = discharge_mah(w.min_interval_ms * tb, b.idle_current_ma)
    out["lumps"] = [discharge_mah(math.ceil(x / tb) * tb, b.inference_current_ma)
                    for x in sc.profile.total_latencies_ms]
    lump_tick = max(out["lumps"]) + out["lump_idle"] if (sc.seed_compat and w.mode == "sync") else 0.0
    out["max_tick"] = max(out["inf"], out["idle"], lump_tick)
    return out


def service_ticks(sc: ScenarioConfig) -> list[int]:
    tb = sc.workload.timebase_ms
    lats = sc.profile.total_latencies_ms
    if sc.seed_compat:
        return [math.ceil(x / tb) if sc.workload.mode == "sync" else round(x / tb) for x in lats]
    return [max(1, math.ceil(x / tb - 1e-9)) for x in lats]


def check_decision(e: Engine, prev: dict[str, Any] | None) -> dict[str, Any]:
    """Invariants at a decision point; returns what the next call compares against."""
    m = e.metrics()
    assert e.decision_pending and not e.done
    assert m["arrivals"] == m["inferences"] + m["dropped"] + e.queue + 1, m
    assert 0 <= e.queue <= e.buffer_size
    assert m["ticks"] == e.tick == m["busy_ticks"] + m["idle_ticks"], m
    assert 0.0 <= e.soc <= 1.0
    assert e.seed_compat or e.remaining_mah >= 0.0  # the default mode never goes negative
    cur = {"tick": e.tick, "remaining": e.remaining_mah, "inferences": m["inferences"]}
    if prev is not None:
        assert cur["tick"] > prev["tick"], "decision ticks must strictly increase"
        assert cur["remaining"] <= prev["remaining"], "the remaining charge increased"
        assert cur["inferences"] == prev["inferences"] + 1
    return cur


def check_end(sc: ScenarioConfig, m: dict[str, Any], remaining: float) -> None:
    """Invariants of a finished episode."""
    tb = sc.workload.timebase_ms
    ch = tick_charges(sc)
    initial = sc.battery.capacity_mah * sc.battery.initial_soc
    lump = sc.seed_compat and sc.workload.mode == "sync"
    counts = list(m["model_counts"].values())
    # samples
    assert m["arrivals"] == m["inferences"] + m["dropped"] + m["buffered_at_end"], m
    assert m["dropped"] == m["dropped_overflow"] + m["dropped_after_end"]
    assert sum(counts) == m["inferences"]
    assert 0 <= m["buffered_at_end"] <= sc.workload.buffer_size
    if sc.horizon_ms is not None:
        assert m["buffered_at_end"] == 0  # with a horizon, what is left unserved counts as dropped
    if sc.workload.mode == "sync":
        assert m["dropped_overflow"] == 0
    # time
    assert m["ticks"] == m["busy_ticks"] + m["idle_ticks"], m
    assert m["operating_time_ms"] == m["ticks"] * tb
    assert m["end_reason"] in ("depleted", "horizon")
    if m["end_reason"] == "horizon":
        assert m["ticks"] == round(sc.horizon_ms / tb)
    if lump:
        assert m["busy_ticks"] == m["inferences"]
    else:
        # busy ticks = the service ticks of the inferences, but the last one may be cut short by the end
        # (seed mode, horizon), and in the default mode an inference the battery dies in is not counted
        # (its sample is lost) although its ticks ran
        full = sum(c * s for c, s in zip(counts, service_ticks(sc), strict=True))
        longest = max(service_ticks(sc))
        assert full - longest < m["busy_ticks"] or m["inferences"] == m["busy_ticks"] == 0
        assert m["busy_ticks"] <= (full if sc.seed_compat else full + longest - 1)
    # energy
    total = m["inference_charge_mah"] + m["idle_charge_mah"]
    # energy_mah is initial - remaining; both it and the split sums carry float rounding: at most half an ulp
    # of the charge per subtraction (one per tick in the seed mode's tick arithmetic, one per run of ticks
    # in the default mode) and per addition
    ops = m["ticks"] + m["inferences"] + 2 if sc.seed_compat else 4 * (m["arrivals"] + 2)
    scale = 2 * max(initial, m["energy_mah"], total)
    assert abs(m["energy_mah"] - total) <= ops * math.ulp(scale), (m["energy_mah"], total)
    if not sc.seed_compat:  # 1e-9 relative to the initial charge (the energy itself may be far smaller)
        assert abs(m["energy_mah"] - total) <= 1e-9 * initial, (m["energy_mah"], total)
    assert math.isclose(m["energy_mah"], initial - remaining, rel_tol=0, abs_tol=0)
    if lump:
        want_inf = sum(c * x for c, x in zip(counts, ch["lumps"], strict=True))
        want_idle = m["idle_ticks"] * ch["idle"] + m["inferences"] * ch["lump_idle"]
    else:
        want_inf = m["busy_ticks"] * ch["inf"]
        want_idle = m["idle_ticks"] * ch["idle"]
    assert math.isclose(m["inference_charge_mah"], want_inf, rel_tol=1e-12, abs_tol=1e-300)
    assert math.isclose(m["idle_charge_mah"], want_idle, rel_tol=1e-12, abs_tol=1e-300)
    if sc.seed_compat:
        # overshoot: less than the last two ticks' charge (at most two ticks run once the SoC is <= 0)
        assert m["energy_mah"] - initial < 2 * ch["max_tick"]
        if m["end_reason"] == "depleted":
            assert remaining <= 0.0
    else:
        assert 0.0 <= remaining <= initial
        assert m["energy_mah"] <= initial
        assert total <= initial * (1 + 1e-12)
        if m["end_reason"] == "depleted":
            assert remaining < max(ch["inf"], ch["idle"])  # the next tick could not be powered
    # accuracy
    served = m["inferences"] + m["dropped"]
    acc = sum(c * a for c, a in zip(counts, sc.profile.accuracies, strict=True))
    assert math.isclose(m["weighted_accuracy"], acc / served if served else 0.0, rel_tol=1e-12)
    assert 0.0 <= m["soc_end"] <= 1.0


def _bucket(n: int) -> str:
    """A coarse size class for hypothesis' statistics (--hypothesis-show-statistics)."""
    return "0" if n == 0 else f"<{10 ** len(str(n)):.0e}"


def run_steps(sc: ScenarioConfig, choose: Any, seed: int | None) -> tuple[dict[str, Any], float, int]:
    """Step through an episode checking the decision invariants; returns (metrics, remaining, decisions)."""
    e = Engine(sc, chunk=64)  # a small chunk: many refills
    e.reset(seed)
    prev = None
    n = 0
    while e.decision_pending:
        prev = check_decision(e, prev)
        e.step(choose(e.soc_pct, e.queue))
        n += 1
    assert e.done
    assert prev is None or e.remaining_mah <= prev["remaining"]
    return e.metrics(), e.remaining_mah, n


def ref_run(sc: ScenarioConfig, choose: Any) -> dict[str, Any]:
    return reference_for(sc, choose, max_ticks=5_000_000)


# ------------------------------------------------------------------------------------------ properties


@settings(max_examples=examples(300))
@given(data=st.data())
def test_invariants_hold_at_every_decision_and_at_the_end(data):
    sc = data.draw(scenario_st())
    pol = data.draw(policy_st(sc))
    seed = data.draw(st.integers(0, 2**31 - 1))
    note(f"scenario={sc.model_dump()}\npolicy={pol}")
    m, remaining, n = run_steps(sc, pol.chooser(sc), seed)
    event(f"{'seed-compatible' if sc.seed_compat else 'default'} {sc.workload.mode}, ended by {m['end_reason']}")
    event(f"decisions: {_bucket(n)}")
    check_end(sc, m, remaining)
    # determinism within the process: the whole-run path gives byte-identical metrics JSON
    again = Engine(sc).run(ViewSelector(pol.chooser(sc)), seed=seed)
    assert dumps(again) == dumps(m)


@settings(max_examples=examples(200))
@given(data=st.data())
def test_engine_equals_tick_reference_in_seed_mode(data):
    sc = data.draw(scenario_st(seed_compat=True, horizon=False, max_ticks=300_000, max_decisions=300))
    pol = data.draw(policy_st(sc))
    note(f"scenario={sc.model_dump()}\npolicy={pol}")
    m, remaining, n = run_steps(sc, pol.chooser(sc), None)
    r = ref_run(sc, pol.chooser(sc))
    event(f"{sc.workload.mode}, policy {pol.kind}")
    event(f"decisions: {_bucket(n)}")
    event(f"ticks: {_bucket(r['ticks'])}")
    for key in ("ticks", "operating_time_ms", "inferences", "dropped", "arrivals", "buffered_at_end",
                "busy_ticks", "idle_ticks", "weighted_accuracy", "energy_mah"):
        assert m[key] == r[key], (key, m[key], r[key])
    assert list(m["model_counts"].values()) == r["model_counts"]
    check_end(sc, m, remaining)
    fast = pol.fast(sc)
    if fast is not None:  # the compiled fast path equals the step-by-step path
        assert Engine(sc).run(fast) == m


@settings(max_examples=examples(100))
@given(data=st.data())
def test_fast_path_equals_step_path_both_modes(data):
    sc = data.draw(scenario_st(max_decisions=2000, max_ticks=2_000_000))
    kinds = ["static"] + (["fuzzy"] if fuzzy_fits(sc) else [])
    pol = PolicySpec(kind=data.draw(st.sampled_from(kinds)), a=data.draw(st.integers(0, 9)))
    seed = data.draw(st.integers(0, 2**31 - 1))
    note(f"scenario={sc.model_dump()}\npolicy={pol}")
    fast = Engine(sc, chunk=128).run(pol.fast(sc), seed=seed)
    slow = Engine(sc, chunk=4096).run(ViewSelector(pol.chooser(sc)), seed=seed)
    assert dumps(fast) == dumps(slow)


# ------------------------------------------------------------------------------------------ default-mode extensions

_TRACE_DIR = Path(tempfile.mkdtemp(prefix="tinysim-prop-"))
atexit.register(shutil.rmtree, _TRACE_DIR, ignore_errors=True)


@st.composite
def extended_scenario_st(draw: Any) -> ScenarioConfig:
    """Default-mode scenarios with the extensions: arrival processes, per-model currents, deadlines,
    harvesters (always with a horizon, as the config requires)."""
    tb = draw(st.sampled_from([0.01, 0.01, 0.02, 0.1]))
    board = _resolved("board", draw(board_st()))
    profile = _resolved("profile", draw(profile_st(tb)))
    for mm in profile["models"]:
        kind = draw(st.sampled_from(["board", "board", "current", "charge"]))
        if kind == "current":
            mm["inference_current_ma"] = draw(st.floats(0.5, 300.0))
        elif kind == "charge":
            mm["charge_per_inference_uah"] = draw(st.floats(0.001, 50.0))
    lat = max(m["latency_ms"] for m in profile["models"]) + profile["selector_latency_ms"]
    process = draw(st.sampled_from(["bernoulli", "periodic", "poisson", "mmpp", "trace"]))
    gap_ms = draw(st.floats(0.3, 3.0)) * lat
    w: dict[str, Any] = {"mode": "async", "process": process, "timebase_ms": tb,
                         "buffer_size": draw(st.integers(1, 12))}
    if process in ("bernoulli", "periodic"):
        w["min_interval_ms"] = gap_ms
        if process == "periodic":
            w["jitter_ms"] = draw(st.floats(0.0, 0.99)) * gap_ms
        else:
            w["arrival_probability"] = draw(st.floats(0.1, 1.0))
    elif process == "poisson":
        w["rate_hz"] = 1000.0 / gap_ms
    elif process == "mmpp":
        w["mmpp"] = {"rates_hz": [1000.0 / gap_ms, draw(st.floats(0.1, 10.0)) * 1000.0 / gap_ms],
                     "switch_hz": [draw(st.floats(0.5, 50.0)), draw(st.floats(0.5, 50.0))]}
    else:
        gaps = draw(st.lists(st.floats(0.0, 3 * gap_ms), min_size=1, max_size=300))
        path = _TRACE_DIR / f"trace-{len(list(_TRACE_DIR.iterdir()))}.csv"
        path.write_text("time_ms\n" + "\n".join(repr(x) for x in itertools.accumulate(gaps)) + "\n")
        w["trace"] = str(path)
    decisions = draw(st.sampled_from([1.0, 10.0, 100.0, 300.0])) * draw(st.floats(0.5, 1.0))
    horizon_ticks = int(decisions * gap_ms / tb) + 1
    # the cheapest decision (the least charge any model draws for one sample, plus the idle rest of the gap):
    # the battery lasts at most about `decisions` of them, whatever the policy picks
    charges = []
    for mm in profile["models"]:
        svc = max(1, math.ceil((mm["latency_ms"] + profile["selector_latency_ms"]) / tb - 1e-9))
        if mm.get("charge_per_inference_uah") is not None:
            charges.append(mm["charge_per_inference_uah"] / 1000.0)
        else:
            charges.append(svc * discharge_mah(tb, mm.get("inference_current_ma") or board["inference_current_ma"]))
    per = max(min(charges) + discharge_mah(gap_ms, board["idle_current_ma"]), 1e-12)
    raw: dict[str, Any] = {
        "name": "prop-ext", "board": board, "profile": profile, "workload": w,
        "battery": {"capacity_mah": float(f"{draw(st.floats(0.05, 2.0)) * decisions * per:.4g}"),
                    "initial_soc": draw(st.one_of(st.just(1.0), st.floats(0.05, 1.0)))},
    }
    if draw(st.booleans()):
        raw["horizon_ms"] = horizon_ticks * tb
    if draw(st.booleans()):
        raw["deadline_ms"] = draw(st.floats(0.5, 5.0)) * lat
    if draw(st.booleans()):
        raw["horizon_ms"] = horizon_ticks * tb
        h = draw(st.sampled_from(["constant", "solar"]))
        cur = draw(st.floats(0.0, 2.0)) * board["inference_current_ma"]
        raw["harvester"] = ({"kind": "constant", "current_ma": cur} if h == "constant" else
                            {"kind": "solar", "peak_current_ma": cur, "period_ms": horizon_ticks * tb / 2,
                             "day_fraction": draw(st.floats(0.1, 1.0)), "phase_ms": draw(st.floats(-100, 100))})
    try:
        return load_scenario(raw)
    except ConfigError as exc:  # a draw the config refuses (e.g. too many decisions): not a valid scenario
        assume(False)
        raise AssertionError from exc


@settings(max_examples=examples(200))
@given(data=st.data())
def test_invariants_with_processes_currents_deadlines_and_harvesters(data):
    sc = data.draw(extended_scenario_st())
    pol = data.draw(policy_st(sc))
    seed = data.draw(st.integers(0, 2**31 - 1))
    note(f"scenario={sc.model_dump()}\npolicy={pol}")
    choose = pol.chooser(sc)
    e = Engine(sc, chunk=64)
    e.reset(seed)
    harvest = sc.harvester is not None
    prev_tick, prev_r = -1, math.inf
    while e.decision_pending:
        m = e.metrics()
        assert m["arrivals"] == m["inferences"] + m["dropped"] + e.queue + 1, m
        assert m["ticks"] == e.tick == m["busy_ticks"] + m["idle_ticks"]
        assert e.tick > prev_tick
        assert 0.0 <= e.remaining_mah <= sc.battery.capacity_mah * (1 + 1e-12)
        assert harvest or e.remaining_mah <= prev_r
        prev_tick, prev_r = e.tick, e.remaining_mah
        e.step(choose(e.soc_pct, e.queue))
    m = e.metrics()
    event(f"process {sc.workload.process}, ended by {m['end_reason']}")
    event("harvester" if harvest else "no harvester")
    initial = sc.battery.capacity_mah * sc.battery.initial_soc
    assert m["arrivals"] == m["inferences"] + m["dropped"] + m["buffered_at_end"], m
    assert m["dropped"] == m["dropped_overflow"] + m["dropped_after_end"]
    assert m["ticks"] == m["busy_ticks"] + m["idle_ticks"]
    assert m["end_reason"] in ("depleted", "horizon", "workload_end")
    assert 0 <= m["deadline_misses"] <= m["inferences"]
    counts = list(m["model_counts"].values())
    acc = sum(c * a for c, a in zip(counts, sc.profile.accuracies, strict=True))
    served = m["inferences"] + m["dropped"]
    if served:
        got = m["weighted_accuracy"] * served
        assert acc - m["deadline_misses"] * max(sc.profile.accuracies) - 1e-6 <= got <= acc + 1e-6
    if not harvest:
        assert m["harvested_mah"] == 0.0
    # energy_mah is the charge drawn (gross); the battery's balance is drawn - harvested (after the cap)
    drawn = m["inference_charge_mah"] + m["idle_charge_mah"]
    scale = max(initial, drawn, m["harvested_mah"])
    assert abs(m["energy_mah"] - drawn) <= 1e-9 * scale, (m["energy_mah"], drawn)
    assert abs((initial - e.remaining_mah) - (drawn - m["harvested_mah"])) <= 1e-9 * scale
    assert 0.0 <= e.remaining_mah <= sc.battery.capacity_mah * (1 + 1e-12)
    assert m["spilled_mah"] >= 0.0 and m["harvested_mah"] >= 0.0
    again = Engine(sc).run(ViewSelector(pol.chooser(sc)), seed=seed)
    assert dumps(again) == dumps(m)


@st.composite
def battery_model_st(draw: Any) -> dict[str, Any]:
    """A non-linear battery model: a kinetic battery (valves from far slower to far faster than an episode)
    or Peukert's law (rated below, at or above the board's currents)."""
    if draw(st.booleans()):
        return {"model": "kibam", "kibam": {"c": draw(st.floats(0.02, 0.98)),
                                            "k_per_s": 10.0 ** draw(st.floats(-5.0, 4.0))}}
    return {"model": "peukert", "peukert": {"exponent": draw(st.floats(1.0, 1.6)),
                                            "rated_current_ma": 10.0 ** draw(st.floats(-2.0, 2.5))}}


@settings(max_examples=examples(100))
@given(data=st.data())
def test_invariants_with_kibam_and_peukert_batteries(data):
    """The default mode's invariants under the non-linear battery models: samples are conserved, the
    charge drawn splits into inference and idle charge, the remaining charge (and a kinetic battery's
    available well) never goes negative or up, and the whole-run path repeats the step path."""
    from tinysim_gym.core import kernels as K
    from tinysim_gym.core.peukert import effective_charge

    base = data.draw(scenario_st(seed_compat=False))
    model = data.draw(battery_model_st())
    raw = base.model_dump()
    raw["battery"] = {**raw["battery"], "kibam": None, "peukert": None, **model}
    sc = load_scenario({k: v for k, v in raw.items() if v is not None})
    pol = data.draw(policy_st(sc))
    seed = data.draw(st.integers(0, 2**31 - 1))
    note(f"scenario={sc.model_dump()}\npolicy={pol}")
    choose = pol.chooser(sc)
    initial = sc.battery.capacity_mah * sc.battery.initial_soc
    e = Engine(sc, chunk=64)
    e.reset(seed)
    prev = None
    while e.decision_pending:
        prev = check_decision(e, prev)
        if sc.battery.kibam is not None:
            c = sc.battery.kibam.c
            assert c * (e.remaining_mah - (1 - c) * e.FS[K.G_DELTA]) >= -1e-12 * initial  # the available well
        e.step(choose(e.soc_pct, e.queue))
    m = e.metrics()
    event(f"{model['model']}, ended by {m['end_reason']}")
    assert m["arrivals"] == m["inferences"] + m["dropped"] + m["buffered_at_end"], m
    assert m["dropped"] == m["dropped_overflow"] + m["dropped_after_end"]
    assert m["ticks"] == m["busy_ticks"] + m["idle_ticks"]
    assert m["end_reason"] in ("depleted", "horizon")
    assert 0.0 <= e.remaining_mah <= initial
    assert math.isclose(m["energy_mah"], initial - e.remaining_mah, rel_tol=0, abs_tol=0)
    drawn = m["inference_charge_mah"] + m["idle_charge_mah"]
    assert abs(m["energy_mah"] - drawn) <= 1e-9 * initial, (m["energy_mah"], drawn)
    tb, b = sc.workload.timebase_ms, sc.board
    d_inf, d_idle = discharge_mah(tb, b.inference_current_ma), discharge_mah(tb, b.idle_current_ma)
    if sc.battery.peukert is not None:  # effective charge: each current's ticks scaled once
        p = sc.battery.peukert
        d_inf, d_idle = effective_charge(np.array([d_inf, d_idle]), tb, p.exponent, p.rated_current_ma)
    assert math.isclose(m["inference_charge_mah"], m["busy_ticks"] * d_inf, rel_tol=1e-12, abs_tol=1e-300)
    assert math.isclose(m["idle_charge_mah"], m["idle_ticks"] * d_idle, rel_tol=1e-12, abs_tol=1e-300)
    again = Engine(sc).run(ViewSelector(pol.chooser(sc)), seed=seed)
    assert dumps(again) == dumps(m)
    fast = pol.fast(sc)
    if fast is not None:  # the compiled fast path equals the step-by-step path
        assert dumps(Engine(sc, chunk=128).run(fast, seed=seed)) == dumps(m)


@st.composite
def supercap_scenario_st(draw: Any) -> ScenarioConfig:
    """A device on a supercapacitor, sized to brown out and restart a few times within a short horizon."""
    tb = draw(st.sampled_from([0.01, 0.1, 1.0]))
    board = _resolved("board", draw(board_st()))
    profile = _resolved("profile", draw(profile_st(tb)))
    lat = max(m["latency_ms"] for m in profile["models"]) + profile["selector_latency_ms"]
    v_max = draw(st.floats(2.0, 12.0))
    v_off = v_max * draw(st.floats(0.1, 0.8))
    v_on = v_off + (v_max - v_off) * draw(st.floats(0.05, 1.0))
    gap_ms = draw(st.floats(0.5, 5.0)) * lat
    horizon_ms = gap_ms * draw(st.floats(5.0, 300.0))
    # the capacitance: a full capacitor powers the board's inference for a fraction of the horizon
    power_w = 3.3 * board["inference_current_ma"] / 1000
    cap_f = power_w * horizon_ms / 1000 * draw(st.floats(0.005, 0.5)) / (0.5 * (v_max**2 - v_off**2))
    storage = {"kind": "supercap", "capacitance_f": float(f"{cap_f:.4g}"), "v_max": v_max, "v_on": v_on,
               "v_off": v_off, "initial_v": draw(st.floats(0.0, 1.0)) * v_max,
               "leakage_ua": draw(st.one_of(st.just(0.0), st.floats(0.0, 500.0))),
               "boot_ms": draw(st.one_of(st.just(0.0), st.floats(0.0, 3.0))) * lat,
               "boot_current_ma": draw(st.floats(0.0, 2.0)) * board["inference_current_ma"]}
    raw: dict[str, Any] = {
        "name": "prop-supercap", "board": board, "profile": profile, "storage": storage,
        "converter": {"efficiency": draw(st.floats(0.5, 1.0)), "quiescent_ua": draw(st.floats(0.0, 100.0))},
        "workload": {"mode": "async", "process": draw(st.sampled_from(["poisson", "periodic"])), "timebase_ms": tb,
                     "buffer_size": draw(st.integers(1, 8)), "rate_hz": 1000.0 / gap_ms, "min_interval_ms": gap_ms},
        "horizon_ms": horizon_ms,
    }
    if draw(st.integers(0, 4)) > 0:
        cur = draw(st.floats(0.0, 1.5)) * board["inference_current_ma"]
        raw["harvester"] = draw(st.sampled_from([
            {"kind": "constant", "current_ma": cur},
            {"kind": "solar", "peak_current_ma": cur, "period_ms": horizon_ms / draw(st.floats(0.5, 4.0))}]))
    try:
        return load_scenario(raw)
    except ConfigError as exc:
        assume(False)
        raise AssertionError from exc


@settings(max_examples=examples(100))
@given(data=st.data())
def test_invariants_with_a_supercapacitor_browning_out(data):
    """Samples are conserved with ``dropped_off``; time splits into busy, idle, off and boot; the capacitor's
    energy balances (harvest in, board load, converter loss, quiescent, leakage); its voltage stays in
    ``[0, v_max]`` and at or above ``v_off`` while the device runs; the whole-run path repeats the step path."""
    sc = data.draw(supercap_scenario_st())
    pol = data.draw(policy_st(sc))
    seed = data.draw(st.integers(0, 2**31 - 1))
    note(f"scenario={sc.model_dump()}\npolicy={pol}")
    cap = sc.storage
    tb = sc.workload.timebase_ms
    choose = pol.chooser(sc)
    e = Engine(sc, chunk=64)
    e.reset(seed)
    prev_tick = -1
    while e.decision_pending:
        m = check_decision_with_off(e, tb)
        assert e.tick > prev_tick and 0.0 <= e.soc <= 1.0
        assert cap.v_off * (1 - 1e-12) <= m["storage_v_end"] <= cap.v_max
        prev_tick = e.tick
        e.step(choose(e.soc_pct, e.queue))
    m = e.metrics()
    event(f"brownouts: {_bucket(m['brownouts'])}, ended by {m['end_reason']}")
    assert m["arrivals"] == m["inferences"] + m["dropped"] + m["buffered_at_end"], m
    assert m["dropped"] == m["dropped_overflow"] + m["dropped_after_end"] + m["dropped_off"]
    assert min(m["dropped_off"], m["dropped_after_end"], m["brownouts"], m["spilled_mj"]) >= 0
    off_boot = round((m["off_time_ms"] + m["boot_time_ms"]) / tb)
    assert m["ticks"] == m["busy_ticks"] + m["idle_ticks"] + off_boot, m
    assert 0.0 <= m["storage_v_end"] <= cap.v_max
    flows = m["harvested_mj"] - m["load_mj"] - m["converter_loss_mj"] - m["quiescent_mj"] - m["leakage_mj"]
    scale = max(m["stored_mj_start"], m["harvested_mj"], m["load_mj"], 1e-300)
    assert abs(m["stored_mj_end"] - m["stored_mj_start"] - flows) <= 1e-9 * scale, (m, flows)
    assert m["converter_loss_mj"] >= -1e-12 * scale and m["leakage_mj"] >= 0 and m["quiescent_mj"] >= 0
    drawn = m["inference_charge_mah"] + m["idle_charge_mah"] + m["boot_charge_mah"]
    assert math.isclose(m["energy_mah"], drawn, rel_tol=1e-12, abs_tol=1e-300)
    assert math.isclose(m["load_mj"], 3.3 * drawn * 3600.0, rel_tol=1e-9, abs_tol=1e-12)
    again = Engine(sc).run(ViewSelector(pol.chooser(sc)), seed=seed)
    assert dumps(again) == dumps(m)
    fast = pol.fast(sc)
    if fast is not None:
        assert dumps(Engine(sc, chunk=128).run(fast, seed=seed)) == dumps(m)


@settings(max_examples=examples(60))
@given(data=st.data())
def test_env_observations_stay_in_bounds_and_its_figures_add_up(data):
    """The Gymnasium env over random scenarios and random actions: every observation inside the declared
    Box, the running info conserving samples, and the last step's metrics equal to the engine's."""
    from tinysim_gym.envs.env import TinySimEnv

    sc = data.draw(scenario_st(max_decisions=150))
    seed = data.draw(st.integers(0, 2**31 - 1))
    assume(Engine(sc).reset(seed))  # the env refuses an episode that ends before its first decision
    env = TinySimEnv(scenario=sc, obs_horizon=True, obs_last_action=True, obs_arrival_rate=True,
                     drop_window=data.draw(st.integers(1, 40)))
    rnd = random.Random(data.draw(st.integers(0, 2**32 - 1)))
    obs, info = env.reset(seed=seed)
    actions = []
    done = False
    while not done:
        assert obs.dtype == np.float32 and obs in env.observation_space, obs
        assert info["arrivals"] == info["inferences"] + info["dropped"] + info["queue"] + 1, info
        actions.append(rnd.randrange(env.action_space.n))
        obs, reward, done, truncated, info = env.step(actions[-1])
        assert not truncated and 0.0 <= reward <= 1.0
    assert obs in env.observation_space
    m = info["episode_metrics"]
    check_end(sc, m, env.engine.remaining_mah)
    replay = iter(actions)
    assert Engine(sc).run(ViewSelector(lambda soc, q: next(replay)), seed=seed) == m


def test_harvest_into_a_full_battery_is_exactly_zero():
    """harvested += h - spill, with spill = (R + h) - cap, rounded to -8.27e-25 before the engine's fix."""
    sc = load_scenario({"board": {"inference_current_ma": 1.0, "idle_current_ma": 0.0},
                        "profile": {"models": [{"id": 0, "accuracy": 90.0, "latency_ms": 0.01}]},
                        "workload": {"mode": "async", "min_interval_ms": 0.01, "arrival_probability": 1.0},
                        "battery": {"capacity_mah": 2.778e-09}, "horizon_ms": 0.02,
                        "harvester": {"kind": "constant", "current_ma": 1.0}})
    m = Engine(sc).run(StaticSelector(0), seed=0)
    assert m["harvested_mah"] >= 0.0, m["harvested_mah"]  # got -8.27e-25


def test_seed_mode_overshoot_can_exceed_one_ticks_charge():
    """A bound of "at most the last tick's charge" on the overshoot is one tick short: the tick that drains the
    battery started with SoC > 0, and the next tick (whose start-of-tick SoC is <= 0) still runs."""
    sc = load_scenario({"board": {"inference_current_ma": 36.0, "idle_current_ma": 36.0},
                        "profile": {"models": [{"id": 0, "accuracy": 90, "latency_ms": 1.0}]},
                        "workload": {"mode": "async", "min_interval_ms": 100, "timebase_ms": 0.25},
                        "battery": {"capacity_mah": 1.5 * discharge_mah(0.25, 36.0)}, "seed_compat": True})
    m = Engine(sc).run(StaticSelector(0))
    d = discharge_mah(0.25, 36.0)
    assert m["ticks"] == 3  # start charges 1.5d, 0.5d, -0.5d: the third tick is the last
    assert d < m["energy_mah"] - sc.battery.capacity_mah < 2 * d


def test_samples_arriving_during_the_last_inference_are_counted():
    """Found by test_engine_equals_tick_reference_in_seed_mode: the battery dies during the first inference
    (170 ticks); the samples arriving in those ticks must fill the buffer or be dropped, as in the original.
    The engine (kernels.advance) went straight to the end and never counted them: arrivals 1, dropped 0."""
    sc = load_scenario({"board": "NUCLEO-H743ZI2", "profile": "mnist_stream_b1", "seed_compat": True,
                        "workload": {"mode": "async", "min_interval_ms": 0.01, "buffer_size": 1},
                        "battery": {"capacity_mah": 5.042e-05}})
    m = Engine(sc).run(StaticSelector(1))
    r = ref_run(sc, lambda soc, q: 1)
    assert (r["arrivals"], r["inferences"], r["dropped"], r["buffered_at_end"]) == (36, 1, 34, 1)
    assert (m["arrivals"], m["inferences"], m["dropped"], m["buffered_at_end"]) == (36, 1, 34, 1)
    # the default mode loses the interrupted sample, but the ones that arrived while it ran still count
    d = Engine(load_scenario(sc, seed_compat=False)).run(StaticSelector(1), seed=0)
    assert d["arrivals"] > 1 and d["arrivals"] == d["inferences"] + d["dropped"] + d["buffered_at_end"]


# ------------------------------------------------------------------------------------------ determinism

_DET_SCENARIOS = [
    # (overrides of the CLI defaults, selector, seed)
    (["--mode", "async", "--min-interval", "2", "--battery-mah", "0.02"], "fuzzy", 3),
    (["--mode", "async", "--min-interval", "1", "--battery-mah", "0.02", "--seed-compat"], "reference", 0),
    (["--mode", "sync", "--min-interval", "3", "--battery-mah", "0.05", "--seed-compat"], "latency-first", 0),
    (["--mode", "sync", "--min-interval", "4", "--battery-mah", "0.02", "--board", "STM32F469I-DISCO"],
     "random", 11),
    (["--profile", "mnist_stream_b3", "--mode", "async", "--min-interval", "80", "--battery-mah", "0.5",
      "--horizon-ms", "30000", "--arrival-probability", "0.2", "--buffer-size", "3"], "fuzzy", 12345),
]


def _cli_json(args: list[str], capsys: Any) -> str:
    from tinysim_gym.cli import main

    assert main(["simulate", "--json", *args]) == 0
    return capsys.readouterr().out


def test_same_seed_byte_identical_json_across_processes(capsys, tmp_path):
    """The same scenario and seed print byte-identical JSON in-process, in fresh interpreters with other
    hash seeds, and through the real ``tinysim simulate --json`` console script."""
    argvs = [[*a, "--selector", s, "--seed", str(seed)] for a, s, seed in _DET_SCENARIOS]
    inproc = [_cli_json(a, capsys) for a in argvs]
    assert inproc == [_cli_json(a, capsys) for a in argvs]  # twice in one process
    script = tmp_path / "det.py"
    script.write_text(
        "import contextlib, io, json, sys\nfrom tinysim_gym.cli import main\nout = []\n"
        "for a in json.loads(sys.argv[1]):\n    buf = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buf):\n        assert main(['simulate', '--json', *a]) == 0\n"
        "    out.append(buf.getvalue())\nprint(json.dumps(out))\n")
    for hashseed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        res = subprocess.run([sys.executable, str(script), json.dumps(argvs)], capture_output=True, text=True,
                             cwd=tmp_path, env=env, timeout=300)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == inproc
    tinysim = Path(sys.executable).with_name("tinysim")
    for a, want in list(zip(argvs, inproc, strict=True))[:2]:
        res = subprocess.run([str(tinysim), "simulate", "--json", *a], capture_output=True, text=True,
                             cwd=tmp_path, timeout=300)
        assert res.returncode == 0, res.stderr
        assert res.stdout == want
    different = _cli_json([*argvs[0][:-1], "4"], capsys)  # another seed: another episode
    assert different != inproc[0]


# ------------------------------------------------------------------------------------------ scale


@pytest.mark.skipif(os.environ.get("TINYSIM_SKIP_SCALE") == "1", reason="TINYSIM_SKIP_SCALE=1")
def test_a_million_decisions_match_the_closed_form_quickly():
    """lat_first on 2.35 mAh: about 1e6 decisions, equal to the closed-form count, in well under 3 s."""
    sc = load_scenario("lat_first", battery={"capacity_mah": 2.35})
    Engine(load_scenario("lat_first", battery={"capacity_mah": 0.001})).run(LatencyFirst())  # warm the JIT
    t0 = time.perf_counter()
    m = Engine(sc, chunk=1 << 16).run(LatencyFirst())
    elapsed = time.perf_counter() - t0
    inf, ticks = closed_form_sync(sc, 1)
    assert m["inferences"] >= 1_000_000
    assert (m["inferences"], m["ticks"]) == (inf, ticks)
    assert m["arrivals"] == m["inferences"]
    assert elapsed < 3.0, f"{elapsed:.2f} s"


def test_invariants_on_the_published_cases():
    """The eight published cases on a small battery, through the same end-of-run checks."""
    for case in ("sync_1", "sync_2", "async_1", "async_2", "async_3", "async_4", "acc_first", "lat_first"):
        sc = load_scenario(case, battery={"capacity_mah": 0.05})
        sel = FuzzySelector() if sc.selector.startswith("fuzzy") else SELECTORS[sc.selector]()
        e = Engine(sc)
        m = e.run(sel)
        check_end(sc, m, e.remaining_mah)
