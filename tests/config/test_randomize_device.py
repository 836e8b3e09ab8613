"""``randomize.device`` (whole devices drawn first) and ``{scale: [lo, hi]}`` (a multiple of the drawn value)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinysim_gym.config import load_scenario, sample_scenario
from tinysim_gym.errors import ConfigError

DEVICES = [
    {"board": "NUCLEO-L476RG", "profile": "usps_tova", "battery": {"capacity_mah": 0.01}},
    {"board": "STM32L4R9I-DISCO", "profile": "mnist_tova", "battery": {"capacity_mah": 0.2},
     "harvester": {"kind": "constant", "current_ma": 2.0}},
]


def template(**randomize: object) -> dict[str, object]:
    return {"name": "dev", "board": "NUCLEO-L476RG", "profile": "usps_tova",
            "workload": {"mode": "async", "min_interval_ms": 2.0, "arrival_probability": 0.5, "timebase_ms": 0.01},
            "battery": {"capacity_mah": 0.05, "initial_soc": 1.0}, "horizon_ms": 1000.0, "seed_compat": False,
            "randomize": {"device": DEVICES, **randomize}}


def test_a_scale_multiplies_the_drawn_devices_value() -> None:
    t = load_scenario(template(**{"battery.capacity_mah": {"scale": [0.5, 2.0]},
                                  "harvester.current_ma": {"scale": [3.0, 3.0]}}))
    seen = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        device = DEVICES[int(rng.integers(2))]  # the draw order: the device, then the entries by name
        factor = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))
        sc = sample_scenario(t, np.random.default_rng(seed))
        assert sc.board.name == device["board"] and sc.profile.name == device["profile"]
        assert sc.battery.capacity_mah == pytest.approx(device["battery"]["capacity_mah"] * factor, rel=1e-12)
        if "harvester" in device:
            assert sc.harvester is not None and sc.harvester.current_ma == pytest.approx(6.0)
        else:
            assert sc.harvester is None  # a scale of a field the device lacks changes nothing
        seen.add(sc.profile.name)
    assert seen == {"usps_tova", "mnist_tova"}


def test_scenarios_without_devices_draw_as_before() -> None:
    plain = {**template(), "randomize": {"battery.capacity_mah": {"log_range": [0.01, 0.1]}}}
    a = sample_scenario(load_scenario(plain), np.random.default_rng(7))
    rng = np.random.default_rng(7)
    assert a.battery.capacity_mah == pytest.approx(math.exp(rng.uniform(math.log(0.01), math.log(0.1))))


@pytest.mark.parametrize(("randomize", "match"), [
    ({"device": []}, "randomize.device: expected a non-empty list"),
    ({"device": [{"board": "NUCLEO-L476RG", "randomize": {}}]}, "a device cannot randomise"),
    ({"device": [{"board": "NO-SUCH-BOARD"}]}, "randomize.device choice 1 gives no valid scenario"),
    ({"battery.capacity_mah": {"scale": [0.0, 2.0]}}, r"\{scale: \[lo, hi\]\} \(lo > 0\)"),
    ({"battery.capacity_mah": {"scale": [1e9, 1e9]}}, "randomize.device choice 1: randomize.battery.capacity_mah"),
])
def test_bad_devices_and_scales_fail_at_load_naming_the_entry(randomize: dict[str, object], match: str) -> None:
    raw = template()
    raw["randomize"] = {"device": DEVICES, **randomize}
    with pytest.raises(ConfigError, match=match):
        load_scenario(raw)
