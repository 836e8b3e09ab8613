"""Property-based tests of batteries that restart, battery models under a harvester, and published profiles.

Invariants, over random scenarios and policies:

* samples: ``arrivals == inferences + dropped + queue + 1`` at every decision, and at the end
  ``arrivals == inferences + dropped + buffered_at_end`` with ``dropped == dropped_overflow +
  dropped_after_end + dropped_off``;
* time: ``ticks == busy_ticks + idle_ticks + off ticks + boot ticks``, decision ticks strictly increase;
* storage: the remaining charge stays in ``[0, capacity]`` (a kinetic battery's available well >= 0);
* energy: the charge drawn (``energy_mah``: initial less remaining plus stored harvest) is the inference,
  idle and boot charge; the harvest stored plus the harvest spilled is the harvester's exact integral
  over the episode when no run was cut short by an empty storage;
* the whole-run path repeats the step path.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st

from tests.core.test_properties import ViewSelector, _bucket, policy_st
from tests.support import examples
from tests.support.invariants import check_decision_with_off
from tinysim_gym.cli.common import dumps
from tinysim_gym.config import ScenarioConfig, builtin_names, load_profile, load_scenario
from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import ConfigError

PUBLISHED = {p: load_profile(p).board for p in builtin_names("profiles") if load_profile(p).board}


@st.composite
def storage_scenario_st(draw: Any) -> ScenarioConfig:
    """A device on a small battery (any model) with a harvester, restarting or not, a few spells per episode."""
    tb = draw(st.sampled_from([0.01, 0.1, 1.0]))
    inf_ma = draw(st.floats(1.0, 100.0))
    idle_ma = inf_ma * draw(st.floats(0.0, 0.5))
    lat = draw(st.floats(0.5, 50.0)) * tb * 10
    gap_ms = lat * draw(st.floats(0.5, 5.0))
    horizon_ms = gap_ms * draw(st.floats(20.0, 400.0))
    mean_ma = idle_ma + (inf_ma - idle_ma) * min(1.0, lat / gap_ms)
    cap = float(f"{mean_ma * horizon_ms / 3.6e6 * draw(st.floats(0.02, 0.5)):.4g}")
    assume(cap > 0)
    battery: dict[str, Any] = {"capacity_mah": cap, "initial_soc": draw(st.floats(0.05, 1.0))}
    kind = draw(st.sampled_from(["linear", "kibam", "peukert"]))
    if kind == "kibam":
        battery |= {"model": "kibam", "kibam": {"c": draw(st.floats(0.05, 0.95)),
                                                "k_per_s": 10.0 ** draw(st.floats(-4.0, 2.0))}}
    elif kind == "peukert":
        battery |= {"model": "peukert", "peukert": {"exponent": draw(st.floats(1.0, 1.5)),
                                                    "rated_current_ma": inf_ma * draw(st.floats(0.05, 2.0))}}
    if draw(st.integers(0, 3)) > 0:
        battery |= {"restart_soc": draw(st.floats(0.01, 1.0)),
                    "boot_ms": draw(st.one_of(st.just(0.0), st.floats(0.0, 3.0))) * lat,
                    "boot_current_ma": draw(st.floats(0.0, 2.0)) * inf_ma}
    cur = mean_ma * draw(st.floats(0.0, 1.5))
    harvester = draw(st.sampled_from([
        {"kind": "constant", "current_ma": cur},
        {"kind": "solar", "peak_current_ma": 2 * cur, "period_ms": horizon_ms / draw(st.floats(0.5, 4.0))}]))
    raw = {
        "name": "prop-storage",
        "board": {"inference_current_ma": inf_ma, "idle_current_ma": idle_ma},
        "profile": {"models": [{"id": i, "accuracy": 50.0 + 10 * i, "latency_ms": lat * (1 + i)} for i in range(3)]},
        "workload": {"mode": "async", "process": draw(st.sampled_from(["poisson", "periodic"])), "timebase_ms": tb,
                     "buffer_size": draw(st.integers(1, 6)), "rate_hz": 1000.0 / gap_ms, "min_interval_ms": gap_ms},
        "battery": battery, "harvester": harvester, "horizon_ms": horizon_ms,
    }
    try:
        return load_scenario(raw)
    except ConfigError as exc:
        assume(False)
        raise AssertionError from exc


def check_run(sc: ScenarioConfig, data: Any) -> dict[str, Any]:
    """Run a drawn policy step by step, checking the invariants at every decision; return the end metrics."""
    pol = data.draw(policy_st(sc))
    seed = data.draw(st.integers(0, 2**31 - 1))
    note(f"scenario={sc.model_dump()}\npolicy={pol}")
    tb, cap = sc.workload.timebase_ms, sc.battery.capacity_mah
    restart = sc.battery.restart_soc is not None
    choose = pol.chooser(sc)
    e = Engine(sc, chunk=64)
    e.reset(seed)
    prev_tick = -1
    while e.decision_pending:
        check_decision_with_off(e, tb, restart)
        assert e.tick > prev_tick
        assert -1e-12 * cap <= e.remaining_mah <= cap * (1 + 1e-12)
        if sc.battery.kibam is not None:
            c = sc.battery.kibam.c
            assert c * (e.remaining_mah - (1 - c) * e.FS[K.G_DELTA]) >= -1e-9 * cap  # the available well
        prev_tick = e.tick
        e.step(choose(e.soc_pct, e.queue))
    m = e.metrics()
    assert m["arrivals"] == m["inferences"] + m["dropped"] + m["buffered_at_end"], m
    off = m.get("dropped_off", 0)
    assert m["dropped"] == m["dropped_overflow"] + m["dropped_after_end"] + off
    off_boot = round((m["off_time_ms"] + m["boot_time_ms"]) / tb) if restart else 0
    assert m["ticks"] == m["busy_ticks"] + m["idle_ticks"] + off_boot, m
    assert 0.0 <= e.remaining_mah <= cap * (1 + 1e-12)
    drawn = m["inference_charge_mah"] + m["idle_charge_mah"] + m.get("boot_charge_mah", 0.0)
    scale = max(cap, drawn, m["harvested_mah"], 1e-300)
    assert abs(m["energy_mah"] - drawn) <= 1e-9 * scale, (m["energy_mah"], drawn)
    # a run cut short by an empty storage is credited its average harvest per tick (the harvest of a run
    # is spread evenly over it): the integral is exact when no run was cut
    if sc.harvester is not None and m["end_reason"] == "horizon" and not m.get("brownouts", 0):
        off_h = int(e.PI[K.I_HOFF])
        total = K.harvest_between(e.PF, off_h, 0, m["ticks"], tb)
        assert math.isclose(m["harvested_mah"] + m["spilled_mah"], total, rel_tol=1e-9, abs_tol=1e-15 * scale)
    again = Engine(sc).run(ViewSelector(pol.chooser(sc)), seed=seed)  # the whole-run path repeats the steps
    assert dumps(again) == dumps(m)
    return m


@settings(max_examples=examples(100), deadline=None)
@given(data=st.data())
def test_invariants_with_batteries_that_restart_and_models_under_a_harvester(data):
    sc = data.draw(storage_scenario_st())
    m = check_run(sc, data)
    event(f"{sc.battery.model}, restart {sc.battery.restart_soc is not None}, "
          f"brownouts {_bucket(m.get('brownouts', 0))}, ended by {m['end_reason']}")


@settings(max_examples=examples(60), deadline=None)
@given(data=st.data())
def test_invariants_on_the_published_profiles_and_boards(data):
    name = data.draw(st.sampled_from(sorted(PUBLISHED)))
    prof = load_profile(name)
    lat = max(prof.total_latencies_ms)
    gap_ms = lat * data.draw(st.floats(0.5, 20.0))
    sc = load_scenario({
        "name": "prop-published", "board": PUBLISHED[name], "profile": name,
        "workload": {"mode": "async", "process": "poisson", "rate_hz": 1000.0 / gap_ms, "timebase_ms": 0.1,
                     "buffer_size": data.draw(st.integers(1, 4))},
        "battery": {"capacity_mah": 1.0},
        "horizon_ms": gap_ms * data.draw(st.floats(10.0, 300.0)),
    })
    m = check_run(sc, data)
    # each inference charges its model's published energy over the board's supply voltage (or its current)
    e = Engine(sc)
    for model, q in zip(prof.models, e.inference_charge_mah, strict=True):
        if model.energy_uj is not None:
            assert math.isclose(q, model.energy_uj / sc.board.supply_v / 3.6e6, rel_tol=1e-12)
    assert m["weighted_accuracy"] <= max(prof.accuracies) + 1e-9
