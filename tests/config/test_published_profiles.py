"""The published boards and profiles (MLPerf Tiny results, the STM32 model zoo) and the fields they need."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from baselines.original import StaticSelector
from tinysim_gym.config import builtin_names, load_board, load_profile, load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import ConfigError

MLPERF_BOARDS = {"NUCLEO-L4R5ZI": 1.8, "NUCLEO-U575ZI-Q": 1.8, "NUCLEO-H7A3ZI-Q": 3.0, "NDP9120": 1.8}
LADDERS = ("stm32_zoo_flowers_h747", "stm32_zoo_imagenet_h747", "mlperf_tiny_v1.1_l4r5zi_kws_ladder",
           "mlperf_tiny_v1.1_l4r5zi_ic_ladder")
TASKS = {"kws", "vww", "ic", "ad"}


def mlperf_profiles() -> list[str]:
    return [p for p in builtin_names("profiles") if p.startswith("mlperf_tiny_")]


def test_at_least_twelve_mlperf_rows_over_the_four_tasks_each_with_energy_and_its_result_file():
    rows = [(name, m) for name in mlperf_profiles() for m in load_profile(name).models]
    assert len(rows) >= 12
    catalogue_tasks = {str(m.id) for name, m in rows if "ladder" not in name}
    assert catalogue_tasks == TASKS
    for name, m in rows:
        assert m.energy_uj is not None and m.energy_uj > 0, (name, m.id)
        assert m.source.startswith("mlcommons/tiny_results_v1."), (name, m.id)
        assert m.source.endswith("{performance,energy,accuracy}/results.txt"), (name, m.id)
    assert len({load_profile(n).source.split("/results/")[1] for n in mlperf_profiles() if "ladder" not in n}) >= 4


def test_closed_division_models_meet_their_quality_targets():
    # mlcommons/tiny README: kws 90 %, vww 80 %, ic 85 % Top-1, ad 0.85 AUC (here AUC x 100)
    target = {"kws": 90.0, "vww": 80.0, "ic": 85.0, "ad": 85.0}
    for name in mlperf_profiles():
        for m in load_profile(name).models:
            task = str(m.id) if "ladder" not in name else name.split("_")[-2]
            assert m.accuracy >= target[task], (name, m.id)


@pytest.mark.parametrize("board", sorted(MLPERF_BOARDS))
def test_board_currents_are_the_published_powers_over_the_supply_voltage(board):
    b = load_board(board)
    assert b.supply_v == MLPERF_BOARDS[board]
    assert b.active_power_mw is not None and b.idle_power_mw is not None
    assert b.inference_current_ma == pytest.approx(b.active_power_mw / b.supply_v, rel=1e-15)
    assert b.idle_current_ma == pytest.approx(b.idle_power_mw / b.supply_v, rel=1e-15)
    assert b.idle_power_mw < b.active_power_mw
    assert b.source.startswith("mlcommons/tiny_results_v1.")
    dumped = b.model_dump()
    assert "inference_current_ma" not in dumped and load_board(dumped) == b  # the powers are the data


@pytest.mark.parametrize("name", LADDERS)
def test_ladders_trade_accuracy_for_cost_with_no_dominated_rung(name):
    p = load_profile(name)
    board = load_board("STM32H747I-DISCO" if "h747" in name else "NUCLEO-L4R5ZI")
    assert len(p.models) >= 2 and p.source
    cost = [m.charge_uah(board.supply_v) or m.latency_ms * board.inference_current_ma / 3.6 for m in p.models]
    acc = p.accuracies
    order = sorted(range(len(acc)), key=lambda i: acc[i])
    assert all(cost[order[i]] < cost[order[i + 1]] for i in range(len(order) - 1)), (acc, cost)
    assert len(set(acc)) == len(acc)


def test_one_inference_charges_the_energy_over_the_supply_voltage():
    sc = load_scenario("mlperf-kws-ndp9120-coincell-14d")
    (kws,) = sc.profile.models
    assert kws.id == "kws" and kws.energy_uj == 31.537
    engine = Engine(sc)
    # uJ / V = uC; uC / 3600 = uAh; / 1000 = mAh
    assert engine.inference_charge_mah[0] == pytest.approx(31.537 / 1.8 / 3600 / 1000, rel=1e-12)


def test_a_minute_on_the_coin_cell_draws_idle_plus_inference_charges():
    sc = load_scenario("mlperf-kws-ndp9120-coincell-14d", horizon_ms=60_000.0)
    m = Engine(sc).run(StaticSelector(0), seed=3)
    tb_h = sc.workload.timebase_ms / 3.6e6
    idle = m["idle_ticks"] * tb_h * 0.561 / 1.8
    inference = m["inferences"] * 31.537 / 1.8 / 3.6e6
    assert m["inferences"] > 40
    assert m["energy_mah"] == pytest.approx(idle + inference, rel=1e-9)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"board": {"name": "b", "active_power_mw": 5.0, "idle_current_ma": 0.1}}, "supply_v: required"),
        ({"board": {"name": "b", "supply_v": 1.8, "active_power_mw": 5.0, "inference_current_ma": 2.0,
                    "idle_current_ma": 0.1}}, "give either inference_current_ma or active_power_mw"),
        ({"board": {"name": "b", "inference_current_ma": 2.0, "idle_current_ma": 0.1}},
         "energy_uj: converting energy to charge needs board.supply_v"),
        ({"profile_models": ["nope"]}, "profile_models: no model 'nope'"),
        ({"profile_models": []}, "profile_models: expected a non-empty list"),
    ],
)
def test_bad_hardware_fields_are_refused_in_one_line(patch: dict[str, Any], message: str):
    raw: dict[str, Any] = {
        "board": "NDP9120",
        "profile": "mlperf_tiny_v1.0_ndp9120",
        "workload": {"mode": "async", "process": "poisson", "rate_hz": 1.0, "timebase_ms": 0.1},
        "battery": {"capacity_mah": 1.0},
        **patch,
    }
    with pytest.raises(ConfigError, match=message) as err:
        load_scenario(raw)
    assert "\n" not in str(err.value)


def test_a_model_gives_at_most_one_inference_cost():
    with pytest.raises(ConfigError, match="at most one of"):
        load_profile({"models": [{"id": 0, "accuracy": 1.0, "latency_ms": 1.0, "energy_uj": 1.0,
                                  "charge_per_inference_uah": 1.0}]})


def test_new_fields_leave_old_dumps_unchanged():
    for name in ("NUCLEO-L476RG", "STM32H747I-DISCO"):
        assert set(load_board(name).model_dump()) == {"name", "inference_current_ma", "idle_current_ma", "ram_kb",
                                                      "flash_kb", "description"}
    assert "source" not in load_profile("usps_tova").model_dump()
    assert all("energy_uj" not in m for m in load_profile("usps_tova").model_dump()["models"])
    assert math.isclose(load_board("NDP9120").inference_current_ma, 6.341 / 1.8)


def test_the_readme_tables_are_the_generators_output():
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "physics_table.py")], capture_output=True,
                         text=True, timeout=60, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in (root / "README.md").read_text(), "regenerate: python benchmarks/physics_table.py"
