"""The env config: its defaults, the split of keyword arguments, and the validated settings.

Keyword arguments split into env settings and scenario overrides (:func:`split_kwargs`);
:class:`EnvSettings` checks them once for :class:`~tinysim_gym.envs.env.TinySimEnv` and the batched vector env.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from tinysim_gym.config import ScenarioConfig, load_scenario, sample_scenario
from tinysim_gym.envs.defaults import default_config
from tinysim_gym.envs.kernels import FLAG_ARRIVAL_RATE, FLAG_HORIZON, FLAG_LAST_ACTION, W_FLAGS, W_RING, W_WIN
from tinysim_gym.errors import ConfigError, TinySimError

#: Scenario fields that may be given directly to the env (``gym.make(..., battery={...})``) as overrides.
SCENARIO_KEYS = (
    "name", "description", "board", "profile", "workload", "battery", "horizon_ms", "seed_compat", "allow_skip",
)

#: arrival ticks buffered per engine between refills (the batched env uses the same, so that sub-envs match
#: single envs across episodes too: later episodes continue the generator after the discarded leftovers)
CHUNK = 2048


class EnvSettings:
    """The resolved env config shared by :class:`TinySimEnv` and the batched vector env."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        cfg = dict(config)
        unknown = sorted(set(cfg) - set(default_config()))
        if unknown:
            allowed = ", ".join(sorted(default_config()))
            raise ConfigError(f"env: unknown config key {unknown[0]!r} (allowed: {allowed})")
        self.scenario_ref = cfg["scenario"]
        over = cfg["scenario_overrides"]
        if not isinstance(over, Mapping):
            raise ConfigError(f"env.scenario_overrides: expected a mapping, got {type(over).__name__}")
        self.scenario_overrides = dict(over)
        self.scenario = load_scenario(self.scenario_ref, **self.scenario_overrides)
        self.decisions_per_step = _int(cfg, "decisions_per_step", 1, 1_000_000_000)
        self.drop_window = _int(cfg, "drop_window", 1, 1_000_000)
        dp = cfg["drop_penalty"]
        if isinstance(dp, bool) or not isinstance(dp, int | float) or not math.isfinite(dp) or dp < 0:
            raise ConfigError(f"env.drop_penalty: expected a finite number >= 0, got {dp!r}")
        self.drop_penalty = float(dp)
        horizon = cfg["obs_horizon"]
        if horizon is None:
            horizon = self.scenario.horizon_ms is not None
        self.flags = 0
        names = ["soc", "buffer_fill", "recent_drops"]
        for key, flag, value in (
            ("obs_horizon", FLAG_HORIZON, horizon),
            ("obs_last_action", FLAG_LAST_ACTION, cfg["obs_last_action"]),
            ("obs_arrival_rate", FLAG_ARRIVAL_RATE, cfg["obs_arrival_rate"]),
        ):
            if not isinstance(value, bool | np.bool_):
                raise ConfigError(f"env.{key}: expected true or false, got {value!r}")
            if value:
                self.flags |= flag
                names.append(key[4:] if key != "obs_horizon" else "horizon_elapsed")
        self.max_steps = None if cfg["max_steps"] is None else _int(cfg, "max_steps", 1, 1_000_000_000)
        self.render_every_ms = _render_every_ms(cfg["render_every_ms"], self.scenario)
        self.feature_names = tuple(names)
        self.obs_dim = len(names)
        self.n_models = len(self.scenario.profile.models)
        #: the models, then (``allow_skip``) the skip action as the last index
        self.n_actions = self.n_models + int(self.scenario.allow_skip)
        self.config = cfg

    def work_row(self) -> np.ndarray:
        """A fresh int64 work row (control words and the window ring)."""
        wk = np.zeros(W_RING + 3 * (self.drop_window + 1), dtype=np.int64)
        wk[W_WIN] = self.drop_window + 1
        wk[W_FLAGS] = self.flags
        return wk

    def observation_space(self) -> spaces.Box:
        """The single-env observation space: every feature in [0, 1]."""
        return spaces.Box(0.0, 1.0, shape=(self.obs_dim,), dtype=np.float32)

    def load(self, ref: str | Mapping[str, Any] | ScenarioConfig) -> ScenarioConfig:
        """Load a scenario for ``reset(options={"scenario": ref})``; it must keep the model count."""
        sc = load_scenario(ref)
        n = len(sc.profile.models)
        if n != self.n_models:
            raise TinySimError(
                f"options.scenario: {sc.name!r} has {n} models but the action space has {self.n_models}; "
                "make a new env for a different model set"
            )
        if sc.allow_skip != self.scenario.allow_skip:
            raise TinySimError(
                f"options.scenario.allow_skip: {sc.name!r} has allow_skip {sc.allow_skip} but the env's action "
                f"space was made with {self.scenario.allow_skip}; make a new env to switch it"
            )
        return sc

    def draw(self, template: ScenarioConfig, rng: np.random.Generator) -> ScenarioConfig:
        """One concrete episode scenario drawn from ``template``'s ``randomize`` section with ``rng``.

        Raises:
            TinySimError: a drawn profile with another model count than the action space (one line).
        """
        scenario = sample_scenario(template, rng)
        if len(scenario.profile.models) != self.n_models:
            raise TinySimError(
                f"randomize.profile: every profile must have {self.n_models} models (the action space), "
                f"{scenario.profile.name!r} has {len(scenario.profile.models)}"
            )
        return scenario


def _int(cfg: Mapping[str, Any], key: str, lo: int, hi: int) -> int:
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or not lo <= v <= hi:
        raise ConfigError(f"env.{key}: expected an integer in {lo}..{hi}, got {v!r}")
    return int(v)


def _render_every_ms(value: Any, scenario: ScenarioConfig) -> float:
    """The rendering interval: the given value, or a horizon's 200th part (250 ms without a horizon)."""
    if value is None:
        # ~200 samples per episode: a few seconds of video, and a dashboard that redraws a few times a second
        return scenario.horizon_ms / 200.0 if scenario.horizon_ms else 250.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"env.render_every_ms: expected a number of milliseconds > 0 or None, got {value!r}")
    return float(value)


def split_kwargs(config: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``default_config()``, ``config`` and keyword arguments; scenario fields become overrides."""
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(f"env: config must be a mapping, got {type(config).__name__}")
    merged = default_config()
    merged["scenario_overrides"] = {}
    for source in (config or {}, kwargs):
        for key, value in source.items():
            if key in SCENARIO_KEYS:
                merged["scenario_overrides"][key] = value
            elif key == "scenario_overrides" and isinstance(value, Mapping):
                merged["scenario_overrides"].update(value)
            else:
                merged[key] = value
    return merged
