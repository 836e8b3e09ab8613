"""The env config: its defaults, the split of keyword arguments, and the validated settings.

Keyword arguments split into env settings and scenario overrides (:func:`split_kwargs`);
:class:`EnvSettings` checks them once for :class:`~tinysim_gym.envs.env.TinySimEnv` and the batched vector env.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from tinysim_gym.config import ScenarioConfig, load_scenario, sample_scenario
from tinysim_gym.core.harvest import harvest_block
from tinysim_gym.envs import kernels as EK
from tinysim_gym.envs.defaults import default_config
from tinysim_gym.envs.kernels import FLAG_ARRIVAL_RATE, FLAG_HORIZON, FLAG_LAST_ACTION, W_FLAGS, W_RING, W_WIN
from tinysim_gym.envs.model_features import check_fits, feature_names, parse_padding
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

    def __init__(self, config: Mapping[str, Any], batched: bool = False) -> None:
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
        names += self._feature_switches(cfg)
        #: ``max_models``: the padded action space's model slots (None: the profile's own count)
        self.max_models, self.model_features = parse_padding(
            cfg["max_models"], cfg["obs_model_features"], bool(self.flags & EK.FLAG_CHARGE))
        if self.max_models is not None and batched:
            raise ConfigError("env.max_models: the batched vector env has no padded encoding; use "
                              "gymnasium.vector.SyncVectorEnv (or tinysim_gym.envs.padded_vector.PaddedVectorEnv)")
        if self.model_features:
            names += feature_names(self.max_models, self.model_features)
        self.max_steps = None if cfg["max_steps"] is None else _int(cfg, "max_steps", 1, 1_000_000_000)
        self.render_every_ms = _render_every_ms(cfg["render_every_ms"], self.scenario)
        if not isinstance(cfg["full_info"], bool | np.bool_):
            raise ConfigError(f"env.full_info: expected true or false, got {cfg['full_info']!r}")
        #: False: the single env's per-step info is empty (the episode's end still carries its metrics)
        self.full_info = bool(cfg["full_info"])
        self.feature_names = tuple(names)
        self.obs_dim = len(names)
        self.n_models = len(self.scenario.profile.models)
        #: the models, then (``allow_skip``) the skip action as the last index
        self.n_actions = (self.max_models or self.n_models) + int(self.scenario.allow_skip)
        self.config = cfg

    def _feature_switches(self, cfg: Mapping[str, Any]) -> list[str]:
        """Validate the feature switches a real controller could have (and the privileged one); their names."""
        names: list[str] = []
        self._scale: tuple[ScenarioConfig | None, int] = (None, 0)
        n = len(self.scenario.profile.models)
        for key, flag, added in (
            ("obs_head_age", EK.FLAG_HEAD_AGE, ["head_age"]),
            ("obs_harvest", EK.FLAG_HARVEST, ["harvest_now"]),
            ("obs_day_phase", EK.FLAG_DAY_PHASE, ["day_sin", "day_cos"]),
            ("obs_forecast", EK.FLAG_FORECAST, ["harvest_forecast"]),
            ("obs_charge_per_inference", EK.FLAG_CHARGE, [f"charge_per_inference_{k}" for k in range(n)]),
            ("obs_privileged_harvest", EK.FLAG_PRIV_HARVEST, ["privileged_harvest"]),
        ):
            value = cfg[key]
            if not isinstance(value, bool | np.bool_):
                raise ConfigError(f"env.{key}: expected true or false, got {value!r}")
            if value:
                self.flags |= flag
                names += added
        self.forecast_ms = _optional_ms(cfg, "obs_forecast_ms")
        self.age_scale_ms = _optional_ms(cfg, "obs_age_scale_ms")
        self.day_ms = _optional_ms(cfg, "obs_day_ms")
        noise = cfg["obs_forecast_noise"]
        if isinstance(noise, bool) or not isinstance(noise, int | float) or not 0 <= noise <= 10:
            raise ConfigError(f"env.obs_forecast_noise: expected a relative standard deviation in 0..10, got {noise!r}")
        self.forecast_noise = float(noise)
        return names

    def prime(self, wk: np.ndarray, scenario: ScenarioConfig, seed: int | None) -> None:
        """Write the episode's feature scales into ``wk`` before its first observation.

        The scales depend on the episode's scenario (a ``randomize`` draw may change it); the forecast-noise
        key follows from the reset seed, and without one from the previous key, so a sub-env of the batched
        env seeded ``s`` sees the noise of a single env seeded ``s``, episode after episode.
        """
        tb = scenario.workload.timebase_ms
        if self.flags & (EK.FLAG_HARVEST | EK.FLAG_FORECAST | EK.FLAG_PRIV_HARVEST):
            if self._scale[0] is not scenario:  # a trace harvester is read once per scenario, not per reset
                self._scale = (scenario, round(harvest_scale_ma(scenario) * 1e6))
            wk[EK.W_HSCALE] = self._scale[1]
        horizon = scenario.horizon_ms
        forecast = self.forecast_ms or (horizon / 20.0 if horizon else 60_000.0)
        wk[EK.W_FWIN] = max(1, round(forecast / tb))
        wk[EK.W_NOISE] = round(self.forecast_noise * 1e6)
        wk[EK.W_AGE] = max(1, round(age_scale_ms(scenario, self.age_scale_ms) / tb))
        h = scenario.harvester
        solar = h is not None and h.kind == "solar"
        day = self.day_ms or (h.period_ms if solar and h is not None else 86_400_000.0)
        wk[EK.W_DAY] = max(1, round(day / tb))
        wk[EK.W_DAY0] = round(h.phase_ms / tb) if solar and h is not None else 0
        if seed is not None:
            wk[EK.W_KEY] = EK.mix_key(int(seed) & ((1 << 62) - 1))
        elif wk[EK.W_KEY] == 0:
            wk[EK.W_KEY] = EK.mix_key(secrets.randbits(62))
        else:
            wk[EK.W_KEY] = EK.mix_key(int(wk[EK.W_KEY]))

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
        self.check_models(sc, "options.scenario")
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
        self.check_models(scenario, "randomize.profile")
        return scenario

    def check_models(self, scenario: ScenarioConfig, what: str) -> None:
        """Raise a one-line error when ``scenario``'s models do not fit the action space.

        Without ``max_models`` every profile must have the env's model count; with it, at most that many.
        """
        if self.max_models is not None:
            check_fits(self.max_models, scenario, what)
            return
        n = len(scenario.profile.models)
        if n != self.n_models:
            raise TinySimError(f"{what}: every profile must have {self.n_models} models (the action space), "
                               f"{scenario.profile.name!r} has {n}; make a new env for a different model set, "
                               "or pad with max_models")


def _int(cfg: Mapping[str, Any], key: str, lo: int, hi: int) -> int:
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or not lo <= v <= hi:
        raise ConfigError(f"env.{key}: expected an integer in {lo}..{hi}, got {v!r}")
    return int(v)


def _optional_ms(cfg: Mapping[str, Any], key: str) -> float | None:
    v = cfg[key]
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0 < v <= 1e12:
        raise ConfigError(f"env.{key}: expected a number of milliseconds in (0, 1e12] or None, got {v!r}")
    return float(v)


def harvest_scale_ma(scenario: ScenarioConfig) -> float:
    """The harvester's largest current (mA): the scale of ``harvest_now`` and ``harvest_forecast`` (0: none)."""
    h = scenario.harvester
    if h is None:
        return 0.0
    if h.kind == "constant":
        return float(h.current_ma or 0.0)
    if h.kind == "solar":
        return float(h.peak_current_ma or 0.0)
    block = harvest_block(scenario)
    assert block is not None
    m = int(block[1])
    return float(np.max(block[2 + m : 2 + 2 * m]))


def age_scale_ms(scenario: ScenarioConfig, given: float | None) -> float:
    """The head-age scale (ms): ``given``, else the deadline, else the time a full buffer takes to arrive."""
    if given is not None:
        return given
    if scenario.deadline_ms is not None:
        return scenario.deadline_ms
    gap = scenario.workload.mean_gap_ms() or scenario.workload.min_interval_ms or 1.0
    return scenario.workload.buffer_size * gap


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
