"""The controller's observation features: closed forms, and no privileged information unless asked for."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinysim_gym.core import kernels as K
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.vector_env import TinySimVectorEnv
from tinysim_gym.errors import ConfigError

ALL = {
    "obs_head_age": True,
    "obs_harvest": True,
    "obs_day_phase": True,
    "obs_forecast": True,
    "obs_charge_per_inference": True,
    "obs_last_action": True,
    "obs_arrival_rate": True,
}

SOLAR = {"kind": "solar", "peak_current_ma": 5.0, "period_ms": 20_000.0, "day_fraction": 0.5, "phase_ms": 0.0}


def _feature(env: TinySimEnv, obs: np.ndarray, name: str) -> float:
    return float(obs[env.feature_names.index(name)])


def test_solar_features_follow_the_closed_form() -> None:
    """harvest_now = sin(pi x / day) by day and 0 at night; the day phase is (1 + sin, 1 + cos)/2 of 2 pi x / period."""
    env = TinySimEnv(scenario="usps-l476-async-horizon", scenario_overrides={"harvester": SOLAR},
                     decisions_per_step=64, **ALL)
    obs, _ = env.reset(seed=1)
    seen_night = seen_day = 0
    tb = env.scenario.workload.timebase_ms
    for _ in range(400):
        t_ms = env.engine.ST[K.S_T] * tb
        x = (t_ms % 20_000.0) / 20_000.0
        want = math.sin(math.pi * x / 0.5) if x < 0.5 else 0.0
        assert _feature(env, obs, "harvest_now") == pytest.approx(want, abs=1e-5)
        assert _feature(env, obs, "day_sin") == pytest.approx(0.5 + 0.5 * math.sin(2 * math.pi * x), abs=1e-5)
        assert _feature(env, obs, "day_cos") == pytest.approx(0.5 + 0.5 * math.cos(2 * math.pi * x), abs=1e-5)
        seen_day += x < 0.5
        seen_night += x >= 0.5
        obs, _, term, trunc, _ = env.step(1)
        if term or trunc:
            break
    assert seen_day and seen_night


def test_charge_per_inference_and_head_age_closed_forms() -> None:
    """charge_per_inference_k = one inference's charge / the charge left; head_age = waiting time / deadline."""
    env = TinySimEnv(scenario="usps-l476-async-horizon", scenario_overrides={"deadline_ms": 20.0}, **ALL)
    obs, _ = env.reset(seed=2)
    for _ in range(300):
        eng = env.engine
        rem = eng.FS[K.G_R]
        for k, q in enumerate(eng.inference_charge_mah):
            assert _feature(env, obs, f"charge_per_inference_{k}") == pytest.approx(min(q / rem, 1.0), rel=1e-5)
        age_ms = (eng.ST[K.S_T] - eng.ST[K.S_DEC_ARR]) * eng.timebase_ms
        assert _feature(env, obs, "head_age") == pytest.approx(min(age_ms / 20.0, 1.0), abs=1e-6)
        obs, _, term, trunc, _ = env.step(9)
        if term or trunc:
            break
    assert _feature(env, obs, "head_age") > 0  # the slow model lets samples wait


def test_forecast_noise_is_seeded_unbiased_and_shared_with_the_vector_env(tmp_path: Path) -> None:
    """With noise 0 the forecast is the exact window mean; with noise its error has the declared spread."""
    # 1 mA for the whole episode, 4 mA (the scale) long after it: the exact forecast is 0.25 throughout
    harvester = {"kind": "trace", "trace": _write(tmp_path / "h.csv", ["0,1.0", "1e9,4.0"])}
    cfg: dict[str, Any] = {"scenario": "usps-l476-async-horizon", "scenario_overrides": {"harvester": harvester},
                           "obs_forecast": True, "obs_privileged_harvest": True, "obs_forecast_noise": 0.2,
                           "decisions_per_step": 64}
    env = TinySimEnv(cfg)
    vec = TinySimVectorEnv(2, cfg)
    obs, _ = env.reset(seed=5)
    vobs, _ = vec.reset(seed=5)
    errors = []
    for _ in range(150):
        np.testing.assert_array_equal(obs, vobs[0])
        assert obs[-1] == pytest.approx(0.25, rel=1e-6)
        errors.append(obs[-2] / obs[-1] - 1.0)
        obs, _, term, _, _ = env.step(0)
        vobs, *_ = vec.step(np.array([0, 0]))
        assert not term
    assert abs(np.mean(errors)) < 0.05 and 0.15 < np.std(errors) < 0.25
    other, _ = TinySimEnv(cfg).reset(seed=6)
    assert other[-2] != vec.reset(seed=5)[0][0][-2]  # another seed, another noise draw
    exact, _ = TinySimEnv({**cfg, "obs_forecast_noise": 0.0}).reset(seed=5)
    assert exact[-2] == exact[-1]


def _write(path: Path, rows: list[str]) -> str:
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _episode_obs(cfg: dict[str, Any], n: int) -> tuple[list[np.ndarray], list[float]]:
    env = TinySimEnv(cfg)
    obs, _ = env.reset(seed=0)
    out, times = [obs], [env.engine.ST[K.S_T] * env.engine.timebase_ms]
    for _ in range(n):
        obs, _, term, trunc, _ = env.step(3)
        if term or trunc:
            break
        out.append(obs)
        times.append(env.engine.ST[K.S_T] * env.engine.timebase_ms)
    return out, times


@pytest.mark.parametrize(("forecast", "privileged", "until_ms"), [(False, False, 300.0), (True, False, 250.0),
                                                                  (False, True, 300.0)])
def test_no_observation_sees_the_future_unless_privileged(tmp_path: Path, forecast: bool, privileged: bool,
                                                          until_ms: float) -> None:
    """Two runs that differ only from 300 ms on (arrivals and harvest) observe the same until then.

    The declared forecast looks 50 ms ahead (so the runs agree until 250 ms); with ``obs_privileged_harvest``
    the future harvest leaks into the observation, as declared.
    """
    arrivals = [f"{2.5 * i:.3f}" for i in range(1, 120)]
    late_a = arrivals + [f"{300 + 0.7 * i:.3f}" for i in range(1, 400)]
    late_b = arrivals + [f"{300 + 3.1 * i:.3f}" for i in range(1, 100)]
    harvest_a = ["0,1.0", "150,2.0", "300,0.5"]
    harvest_b = ["0,1.0", "150,2.0", "300,4.0"]
    base: dict[str, Any] = {"scenario": "usps-l476-async-horizon", "horizon_ms": 600.0, **ALL,
                            "obs_forecast": forecast, "obs_forecast_ms": 50.0, "obs_forecast_noise": 0.3,
                            "obs_privileged_harvest": privileged}
    runs = []
    for tag, arr, harv in (("a", late_a, harvest_a), ("b", late_b, harvest_b)):
        workload = {"mode": "async", "process": "trace", "trace": _write(tmp_path / f"arr_{tag}.csv", arr),
                    "buffer_size": 6, "timebase_ms": 0.01}
        harvester = {"kind": "trace", "trace": _write(tmp_path / f"h_{tag}.csv", harv)}
        # the same largest current, so the features' scale does not reveal the future either
        harvester_rows = harv + ["590,4.0"] if tag == "a" else harv
        harvester["trace"] = _write(tmp_path / f"h_{tag}.csv", harvester_rows)
        runs.append(_episode_obs({**base, "scenario_overrides": {"workload": workload, "harvester": harvester}}, 400))
    (obs_a, t_a), (obs_b, _) = runs
    before = [i for i, t in enumerate(t_a) if t < until_ms and i < len(obs_b)]
    assert len(before) > 50
    same = all(np.array_equal(obs_a[i], obs_b[i]) for i in before)
    assert same != privileged
    if not privileged:
        assert any(not np.array_equal(a, b) for a, b in zip(obs_a, obs_b, strict=False))  # the runs do differ


def test_bad_feature_settings_name_the_field() -> None:
    with pytest.raises(ConfigError, match="obs_forecast_noise"):
        TinySimEnv(obs_forecast=True, obs_forecast_noise=-1)
    with pytest.raises(ConfigError, match="obs_head_age"):
        TinySimEnv(obs_head_age="yes")
    with pytest.raises(ConfigError, match="obs_forecast_ms"):
        TinySimEnv(obs_forecast_ms=0)
