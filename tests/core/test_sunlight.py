"""Real sunlight: pvlib's clear sky integrated by the engine, the seeded clouds, indoor light, irradiance traces."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from baselines.original import StaticSelector
from tinysim_gym.config import load_scenario
from tinysim_gym.config.harvester import HarvesterConfig
from tinysim_gym.core.engine import Engine
from tinysim_gym.core.sunlight import irradiance_w_m2
from tinysim_gym.errors import ConfigError

SITE = {"kind": "pvlib", "latitude": 48.14, "longitude": 11.58, "tz": "Europe/Berlin", "panel_area_cm2": 10.0,
        "efficiency": 0.2, "charge_v": 2.0}
DAY_MS = 86_400_000.0


def harvested(harvester: dict[str, Any], horizon_ms: float = DAY_MS) -> dict[str, Any]:
    """A device drawing almost nothing on a battery that cannot fill up: all the harvest is stored."""
    sc = load_scenario({
        "name": "sunlight",
        "board": {"inference_current_ma": 1.0, "idle_current_ma": 1e-6},
        "profile": {"models": [{"id": 0, "accuracy": 90.0, "latency_ms": 1.0}]},
        "workload": {"mode": "async", "process": "periodic", "min_interval_ms": 600_000.0, "timebase_ms": 1.0},
        "battery": {"capacity_mah": 1000.0, "initial_soc": 0.01},
        "harvester": harvester,
        "horizon_ms": horizon_ms,
    })
    return Engine(sc).run(StaticSelector(0), seed=1)


@pytest.mark.parametrize("start", ["2026-06-21T00:00", "2026-12-21T00:00", "2026-03-20T00:00"])
def test_a_clear_sky_day_harvests_pvlibs_own_integral_of_the_irradiance(start):
    import pandas as pd
    import pvlib

    m = harvested({**SITE, "start": start})
    # pvlib's clear sky at one-second resolution over the same local day, integrated by the trapezoid rule
    times = pd.date_range(start, periods=86_401, freq="1s", tz="Europe/Berlin")
    ghi = pvlib.location.Location(48.14, 11.58, tz="Europe/Berlin").get_clearsky(times, model="ineichen")["ghi"]
    wh_m2 = float(np.trapezoid(ghi.to_numpy(), dx=1.0)) / 3600.0
    want_mah = wh_m2 * 10e-4 * 0.2 / 2.0 * 1000.0
    assert want_mah > 1.0
    assert m["harvested_mah"] == pytest.approx(want_mah, rel=0.005)
    assert m["spilled_mah"] == 0.0


def test_clouds_are_seeded_never_brighten_the_sky_and_have_the_configured_mean():
    clear = HarvesterConfig(**SITE, start="2026-05-01T00:00")
    cloudy = HarvesterConfig(**SITE, start="2026-05-01T00:00",
                             clouds={"seed": 3, "mean": 0.55, "sd": 0.2, "day_correlation": 0.6})
    horizon = 120 * DAY_MS
    _, g0 = irradiance_w_m2(clear, horizon)
    _, g1 = irradiance_w_m2(cloudy, horizon)
    _, again = irradiance_w_m2(cloudy, horizon)
    _, other = irradiance_w_m2(cloudy.model_copy(update={"clouds": cloudy.clouds.model_copy(update={"seed": 4})}),
                               horizon)
    np.testing.assert_array_equal(g1, again)
    assert not np.array_equal(g1, other)
    assert np.all(g1 <= g0 + 1e-12) and np.all(g1 >= 0.0)
    daily = g1.reshape(-1)[: 120 * 288].reshape(120, 288).sum(axis=1) / g0[: 120 * 288].reshape(120, 288).sum(axis=1)
    assert 0.40 < daily.mean() < 0.60  # the mean clearness, a little under 0.55 (the cap at the clear sky)
    lag1 = np.corrcoef(daily[:-1], daily[1:])[0, 1]
    assert lag1 > 0.3  # cloudy spells last days


def test_indoor_light_is_the_illuminance_over_the_efficacy_during_its_hours():
    h = {**SITE, "start": "2026-01-05T00:00", "indoor": {"lux": 500.0, "from_h": 8.0, "to_h": 18.0,
                                                         "lm_per_w": 250.0}}
    m = harvested(h, horizon_ms=2 * DAY_MS)
    want = 2 * 10.0 * (500.0 / 250.0) * 10e-4 * 0.2 / 2.0 * 1000.0  # two days of 10 h at 2 W/m^2
    assert m["harvested_mah"] == pytest.approx(want, rel=1e-9)


def test_an_irradiance_trace_is_the_panels_current(tmp_path):
    path = tmp_path / "sun.csv"
    path.write_text("0, 100\n3600000, 400\n7200000, 0\n")
    m = harvested({"kind": "trace", "trace": str(path), "trace_units": "irradiance_w_m2", "panel_area_cm2": 10.0,
                   "efficiency": 0.2, "charge_v": 2.0}, horizon_ms=3 * 3.6e6)
    assert m["harvested_mah"] == pytest.approx((100 + 400) * 10e-4 * 0.2 / 2.0 * 1000.0, rel=1e-9)


@pytest.mark.parametrize(("patch", "message"), [
    ({"tz": "Mars/Olympus"}, "tz: unknown time zone"),
    ({"start": "2026-13-45T00:00"}, "start: expected an ISO 8601"),
    ({"charge_v": None}, "charge_v: required"),
    ({"indoor": {"lux": 1, "from_h": 9, "to_h": 8, "lm_per_w": 100}}, "from_h < to_h"),
    ({"clouds": {"seed": 1}, "indoor": {"lux": 1, "from_h": 8, "to_h": 9, "lm_per_w": 100}}, "either clouds or"),
])
def test_bad_sunlight_fields_are_refused_in_one_line(patch, message):
    h = {k: v for k, v in {**SITE, "start": "2026-06-01T00:00", **patch}.items() if v is not None}
    with pytest.raises(ConfigError, match=message) as err:
        load_scenario("solar-l476-async-horizon", harvester=h)
    assert "\n" not in str(err.value)


def test_the_package_and_the_cli_start_without_pandas_or_pvlib():
    code = ("import sys, tinysim_gym, tinysim_gym.config, tinysim_gym.core.engine\n"
            "from tinysim_gym.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print([m for m in ('pandas', 'pvlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
