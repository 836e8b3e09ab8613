"""The env's default config, apart from the settings' validation, so the registry can read it cheaply.

Importing this imports nothing else (no numba, no pydantic): :mod:`tinysim_gym.envs.registration` runs at
``import tinysim_gym`` and registers these defaults with every id.
"""

from __future__ import annotations

from typing import Any


def default_config() -> dict[str, Any]:
    """The default env config (HighwayEnv style); user config and keyword arguments merge over it.

    ``scenario`` (name, path, mapping or ScenarioConfig), ``scenario_overrides`` (nested overrides),
    ``decisions_per_step`` (int >= 1), ``drop_penalty`` (>= 0), ``drop_window`` (decisions),
    ``obs_horizon`` (None = on when the scenario has a horizon), ``obs_last_action``, ``obs_arrival_rate``,
    the controller's features ``obs_head_age`` (scale ``obs_age_scale_ms``), ``obs_harvest``,
    ``obs_day_phase`` (day ``obs_day_ms``), ``obs_forecast`` (window ``obs_forecast_ms``, relative noise
    ``obs_forecast_noise``), ``obs_charge_per_inference``, and ``obs_privileged_harvest`` (the exact future
    harvest: privileged, off unless asked for); see the env's docstring for each feature,
    ``max_models`` (pad the action space to this many model slots, with masks; None = the profile's count)
    and ``obs_model_features`` (per-slot model features; :mod:`tinysim_gym.envs.model_features`),
    ``max_steps`` (agent steps per episode before ``truncated=True``; None = no limit), ``render_every_ms``
    (simulated time between rendered samples; None = the horizon / 200, or 250 ms without a horizon),
    ``full_info`` (False: the single env's per-step info is empty, except the episode's end: a third of the
    step's cost, for loops that never read it; the batched env always gives every key).
    """
    return {
        "scenario": "usps-l476-async-horizon",
        "scenario_overrides": {},
        "decisions_per_step": 1,
        "drop_penalty": 0.0,
        "drop_window": 32,
        "obs_horizon": None,
        "obs_last_action": False,
        "obs_arrival_rate": False,
        "obs_head_age": False,
        "obs_harvest": False,
        "obs_day_phase": False,
        "obs_forecast": False,
        "obs_forecast_ms": None,
        "obs_forecast_noise": 0.1,
        "obs_charge_per_inference": False,
        "obs_age_scale_ms": None,
        "obs_day_ms": None,
        "obs_privileged_harvest": False,
        "max_models": None,
        "obs_model_features": False,
        "max_steps": None,
        "render_every_ms": None,
        "full_info": True,
    }
