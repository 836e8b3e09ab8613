"""Gymnasium environment ``TinySim-v0``: the battery-powered TinyML device as an RL problem.

The env is thin glue over :class:`tinysim_gym.core.engine.Engine`: one ``step`` serves the waiting sample with the
chosen model and lets the engine jump to the next decision (a sample waits and the chip is free). The few
per-decision extras (reward counts, the recent-drops window, the observation) run in one small numba kernel
shared with the batched :mod:`tinysim_gym.envs.vector_env`, so both give identical numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numba import njit

from tinysim_gym.core import kernels as K
from tinysim_gym.config import ScenarioConfig, load_scenario, sample_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import ConfigError, TinySimError

#: Scenario fields that may be given directly to the env (``gym.make(..., battery={...})``) as overrides.
SCENARIO_KEYS = ("name", "description", "board", "profile", "workload", "battery", "horizon_ms", "seed_compat")

# ---- per-env int64 work row: control words, then a ring of (tick, arrivals, dropped) per recent decision
W_LEFT = 0  # decisions left in the current step
W_MODEL = 1  # model serving the current step
W_PHASE = 2  # 0: the next kernel call applies the model, 1: it resumes advancing (after a refill)
W_INF0 = 3  # credited inferences (served, minus deadline misses) at the start of the step
W_DROP0 = 4  # dropped samples at the start of the step
W_POS = 5  # next ring slot to write = the oldest entry (the window's start)
W_WIN = 6  # ring slots: window length (decisions) + 1
W_FLAGS = 7  # optional features: 1 horizon fraction, 2 last action, 4 arrival rate
W_RING = 8

#: arrival ticks buffered per engine between refills (the batched env uses the same, so that sub-envs match
#: single envs across episodes too: later episodes continue the generator after the discarded leftovers)
CHUNK = 2048

FLAG_HORIZON = 1
FLAG_LAST_ACTION = 2
FLAG_ARRIVAL_RATE = 4


@njit(cache=True, inline="always")
def _now(ST):  # noqa: N803 - the kernels' array names
    """Tick of the pending decision, or of the end."""
    if ST[K.S_PHASE] == K.P_DECIDE:
        return ST[K.S_T]
    return ST[K.S_END] if ST[K.S_END] >= 0 else ST[K.S_FREE]


@njit(cache=True, inline="always")
def fill_obs(ST, FS, PI, PF, WK, obs):  # noqa: N803
    """Write the observation of the current state into ``obs`` (the window's oldest entry is ``WK[W_POS]``)."""
    t = _now(ST)
    arrivals = ST[K.S_ARR]
    dropped = ST[K.S_DROP_OVF] + ST[K.S_DROP_AFTER]
    base = W_RING + 3 * WK[W_POS]
    soc = FS[K.G_R] / PF[K.F_CAP]
    obs[0] = min(max(soc, 0.0), 1.0)
    obs[1] = min(ST[K.S_Q] / PI[K.I_BUF], 1.0)
    da = arrivals - WK[base + 1]
    obs[2] = min(max((dropped - WK[base + 2]) / da, 0.0), 1.0) if da > 0 else 0.0
    j = 3
    flags = WK[W_FLAGS]
    if flags & FLAG_HORIZON:
        h = PI[K.I_H]
        obs[j] = min(t / h, 1.0) if h > 0 else 0.0
        j += 1
    if flags & FLAG_LAST_ACTION:
        obs[j] = (ST[K.S_LAST_ACTION] + 1) / PI[K.I_N]
        j += 1
    if flags & FLAG_ARRIVAL_RATE:
        dt = t - WK[base]
        obs[j] = min(da * PI[K.I_PERIOD] / dt, 1.0) if dt > 0 and da > 0 else 0.0


@njit(cache=True, inline="always")
def _observe(ST, FS, PI, PF, WK, obs, write):  # noqa: N803
    """Push the current decision into the window ring; when ``write``, fill ``obs`` from the window."""
    base = W_RING + 3 * WK[W_POS]
    WK[base] = _now(ST)
    WK[base + 1] = ST[K.S_ARR]
    WK[base + 2] = ST[K.S_DROP_OVF] + ST[K.S_DROP_AFTER]
    pos = WK[W_POS] + 1
    WK[W_POS] = 0 if pos >= WK[W_WIN] else pos
    if write:
        fill_obs(ST, FS, PI, PF, WK, obs)


@njit(cache=True, inline="always")
def _result(status, ST, FS, WK):  # noqa: N803
    dropped = ST[K.S_DROP_OVF] + ST[K.S_DROP_AFTER]
    return (
        status,
        ST[K.S_INF] - ST[K.S_MISSES] - WK[W_INF0],
        dropped - WK[W_DROP0],
        _now(ST),
        ST[K.S_INF],
        dropped,
        ST[K.S_ARR],
        ST[K.S_Q],
        FS[K.G_R],
        FS[K.G_ACC_SUM],
    )


@njit(cache=True, inline="always")
def env_resume(ST, FS, PI, PF, arr, WK, obs):  # noqa: N803
    """Continue the current step (after an arrival refill).

    Returns:
        ``(status, credited, new_drops, tick, inferences, dropped, arrivals, queue, remaining_mah,
        accuracy_sum)``;
        ``status`` is ``NEED_ARRIVALS`` (refill and call again), ``DECISION`` or ``DONE``.
    """
    while True:
        if WK[W_PHASE] == 0:
            K.apply(ST, FS, PI, PF, WK[W_MODEL])
            WK[W_LEFT] -= 1
            WK[W_PHASE] = 1
        status = K.advance(ST, FS, PI, PF, arr)
        if status == K.NEED_ARRIVALS:
            return _result(status, ST, FS, WK)
        WK[W_PHASE] = 0
        last = status == K.DONE or WK[W_LEFT] <= 0
        _observe(ST, FS, PI, PF, WK, obs, last)
        if last:
            return _result(status, ST, FS, WK)


@njit(cache=True, inline="always")
def env_step(ST, FS, PI, PF, arr, WK, obs, k, reps):  # noqa: N803
    """One env step: serve up to ``reps`` decisions with model ``k``; see :func:`env_resume`."""
    WK[W_LEFT] = reps
    WK[W_MODEL] = k
    WK[W_PHASE] = 0
    WK[W_INF0] = ST[K.S_INF] - ST[K.S_MISSES]
    WK[W_DROP0] = ST[K.S_DROP_OVF] + ST[K.S_DROP_AFTER]
    return env_resume(ST, FS, PI, PF, arr, WK, obs)


@njit(cache=True)
def env_first(ST, FS, PI, PF, WK, obs):  # noqa: N803
    """After an engine reset: clear the window, write the first observation; see :func:`env_resume`."""
    WK[W_POS] = 0
    WK[W_PHASE] = 0
    WK[W_INF0] = ST[K.S_INF] - ST[K.S_MISSES]
    WK[W_DROP0] = ST[K.S_DROP_OVF] + ST[K.S_DROP_AFTER]
    WK[W_RING:] = 0
    _observe(ST, FS, PI, PF, WK, obs, True)
    status = K.DECISION if ST[K.S_PHASE] == K.P_DECIDE else K.DONE
    return _result(status, ST, FS, WK)


@njit(cache=True)
def batch_step(ST2, FS2, PI2, PF2, ARR2, WK2, OBS2, actions, reps, drop_penalty, status, rew):  # noqa: N803
    """Step every row whose ``status`` is ``DECISION`` with its action; other rows get reward 0.

    Writes each stepped row's new status (``DECISION``, ``DONE`` or ``NEED_ARRIVALS``: refill and finish it
    with :func:`env_resume`), reward and observation. Returns the number of rows that
    need arrivals.
    """
    need = 0
    for i in range(ST2.shape[0]):
        if status[i] != K.DECISION:
            rew[i] = 0.0
            continue
        k = actions[i]
        r = env_step(ST2[i], FS2[i], PI2[i], PF2[i], ARR2[i], WK2[i], OBS2[i], k, reps)
        status[i] = r[0]
        if r[0] == K.NEED_ARRIVALS:
            need += 1
        else:
            rew[i] = _reward(PF2[i], k, r[1], r[2], drop_penalty)
    return need


@njit(cache=True, inline="always")
def _reward(PF, k, credited, drops, drop_penalty):  # noqa: N803
    acc = credited * (PF[K.F_ACC + k] / 100.0)
    if drops and drop_penalty:
        return acc + -(drop_penalty * drops)
    return acc + 0.0


# --------------------------------------------------------------------------------------------- settings


class EnvSettings:
    """The resolved env config shared by :class:`TinySimEnv` and the batched vector env."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        cfg = dict(config)
        unknown = sorted(set(cfg) - set(TinySimEnv.default_config()))
        if unknown:
            allowed = ", ".join(sorted(TinySimEnv.default_config()))
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
        self.feature_names = tuple(names)
        self.obs_dim = len(names)
        self.n_models = len(self.scenario.profile.models)
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

    def load(self, ref: Any) -> ScenarioConfig:
        """Load a scenario for ``reset(options={"scenario": ref})``; it must keep the model count."""
        sc = load_scenario(ref)
        n = len(sc.profile.models)
        if n != self.n_models:
            raise TinySimError(
                f"options.scenario: {sc.name!r} has {n} models but the action space has {self.n_models}; "
                "make a new env for a different model set"
            )
        return sc


def _int(cfg: Mapping[str, Any], key: str, lo: int, hi: int) -> int:
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or not lo <= v <= hi:
        raise ConfigError(f"env.{key}: expected an integer in {lo}..{hi}, got {v!r}")
    return int(v)


def split_kwargs(config: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``default_config()``, ``config`` and keyword arguments; scenario fields become overrides."""
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(f"env: config must be a mapping, got {type(config).__name__}")
    merged = TinySimEnv.default_config()
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


def mask_inputs(eng: Engine) -> tuple[np.ndarray, np.ndarray, int]:
    """``(charge of one inference per model, always-masked models, cheapest model)`` for :meth:`action_masks`.

    Always masked: in sync mode a model slower than the sampling period, and models the engine marks as not
    fitting the board's memory (``Engine.available``, when present).
    """
    charge = np.asarray(eng.inference_charge_mah, dtype=np.float64)
    static = np.zeros(eng.n_models, dtype=bool)
    if eng.scenario.workload.mode == "sync":
        static |= np.asarray(eng.service_ticks) > eng.period_ticks
    available = getattr(eng, "available", None)
    if available is not None:
        static |= ~np.asarray(available, dtype=bool)
    allowed = np.flatnonzero(~static)
    pool = allowed if len(allowed) else np.arange(eng.n_models)
    cheapest = int(pool[np.argmin(charge[pool])])
    return charge, static, cheapest


def coerce_action(action: Any, n: int) -> int:
    """Turn an action into a model index, or raise :class:`gymnasium.error.InvalidAction`."""
    a = action
    if isinstance(a, np.ndarray) and a.size == 1 and a.ndim <= 1:
        a = a.reshape(()).item() if a.dtype.kind in "iu" else a
    if isinstance(a, np.integer):
        a = int(a)
    if type(a) is not int:
        raise gym.error.InvalidAction(f"action: expected an integer model index in 0..{n - 1}, got {action!r}")
    if not 0 <= a < n:
        raise gym.error.InvalidAction(f"action: model index {a} is outside the action space 0..{n - 1}")
    return a


# --------------------------------------------------------------------------------------------- env


class TinySimEnv(gym.Env):
    """A battery-powered microcontroller choosing, for each waiting sample, which TinyML model serves it.

    One ``step`` is one decision (a sample waits and the chip is free): the chosen model serves it and the
    event-driven engine jumps to the next decision. With ``decisions_per_step = K > 1`` the same model serves
    K consecutive decisions (action repeat; rewards are summed).

    Action space:
        ``Discrete(n_models)``: the index of the model in the scenario's profile. :meth:`action_masks`
        (sb3-contrib convention) marks models that cannot run: in sync mode a model whose latency exceeds
        the sampling period, and any model whose one-inference charge exceeds the charge left (when that
        would mask every model, the cheapest stays allowed). The mask is advisory: a masked action is
        **executed as chosen**, exactly as the engine runs it (a model the battery cannot finish runs until
        the battery is empty; the sample counts as served when its first tick could be powered). Models
        that do not fit the board's memory (``memory_policy: mask``) are masked too.

    Observation space:
        ``Box(0, 1, (d,), float32)``; features in this order (optional ones only when switched on):

        ===============  ============================================================================
        feature          value
        ===============  ============================================================================
        soc              state of charge, remaining / capacity, clipped to [0, 1]
        buffer_fill      samples waiting in the buffer / buffer size (0 in seed-compatible sync mode)
        recent_drops     samples dropped / samples arrived over the last ``drop_window`` decisions
                         (counted from the reset until that many have passed; 0 if none arrived)
        horizon_elapsed  ``obs_horizon``: decision tick / horizon tick, clipped to 1 (0 without a
                         horizon); on by default when the scenario has ``horizon_ms``
        last_action      ``obs_last_action``: (previous model index + 1) / n_models (0 before the
                         first decision)
        arrival_rate     ``obs_arrival_rate``: arrivals per tick over the drop window / the highest
                         possible rate (one per ``floor(min_interval / timebase) + 1`` ticks; one per
                         tick without a minimum interval), clipped to 1
        ===============  ============================================================================

    Rewards:
        Per step, ``accuracy + drop_penalty`` with components in ``info["rewards"]``: ``accuracy`` = the
        chosen model's accuracy / 100 for each sample it served (0 if the battery could not start it, or,
        with ``deadline_ms``, if it finished late); ``drop_penalty`` = ``-config["drop_penalty"]`` times the
        samples dropped during the step (default 0). With a horizon and no drop penalty, the episode return
        divided by ``info["arrivals"]`` equals the episode's weighted accuracy / 100.

    Episode end:
        Both ends are ``terminated=True`` (``truncated`` stays False unless a ``TimeLimit`` wrapper adds
        it): *until depletion* (no ``horizon_ms``) ends when the battery is empty; *deployment horizon*
        ends at ``horizon_ms`` (samples arriving after depletion and those still buffered count as
        dropped). A finite workload (a trace) that runs out also terminates. These are true terminal
        states: no reward can follow, so value bootstrapping must stop; the horizon is part of the task,
        and the horizon feature keeps the state Markov.
        ``info["episode_metrics"]`` at the last step equals ``tinysim simulate --json`` for the episode.

    Arguments:
        config: mapping merged over :meth:`default_config`; keyword arguments are merged last.
            ``scenario`` (name, path, mapping or ScenarioConfig), ``scenario_overrides`` (nested
            overrides; the scenario fields ``board profile workload battery horizon_ms seed_compat name
            description`` may also be passed directly), ``decisions_per_step`` (int >= 1),
            ``drop_penalty`` (>= 0), ``drop_window`` (decisions), ``obs_horizon`` (None = auto),
            ``obs_last_action``, ``obs_arrival_rate``.
        render_mode: ``None``, ``"ansi"`` (a one-line text status) or ``"rgb_array"`` (a small image with
            bars for soc, buffer fill and recent drops).

    ``reset(seed=s)``: arrivals come from ``self.np_random`` (the first episode after ``reset(seed=s)``
    equals ``tinysim simulate --seed s``); seed-compatible scenarios always replay the original's stream.
    ``reset(options={"scenario": ref})`` switches the scenario (same number of models) for this and later
    episodes; the configured overrides are not applied to it.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """The default configuration (HighwayEnv style); user config and keyword arguments merge over it."""
        return {
            "scenario": "usps-l476-async-horizon",
            "scenario_overrides": {},
            "decisions_per_step": 1,
            "drop_penalty": 0.0,
            "drop_window": 32,
            "obs_horizon": None,
            "obs_last_action": False,
            "obs_arrival_rate": False,
        }

    def __init__(self, config: Mapping[str, Any] | None = None, render_mode: str | None = None, **kwargs: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"env.render_mode: {render_mode!r} is not one of {self.metadata['render_modes']}")
        self.render_mode = render_mode
        self.settings = s = EnvSettings(split_kwargs(config, kwargs))
        self.config = s.config
        self.action_space = spaces.Discrete(s.n_models)
        self.observation_space = s.observation_space()
        self._wk = s.work_row()
        self._set_scenario(s.scenario)
        self._status: int | None = None

    def _set_scenario(self, scenario: ScenarioConfig) -> None:
        self.template = scenario  # may name ranges to draw from at every reset (``randomize``)
        self.scenario = scenario
        self.engine = Engine(scenario, chunk=CHUNK)
        self._refresh()

    def _draw_scenario(self) -> None:
        """Domain randomisation: a concrete scenario drawn from the template with ``self.np_random``."""
        scenario = sample_scenario(self.template, self.np_random)
        if len(scenario.profile.models) != self.settings.n_models:
            raise TinySimError(
                f"randomize.profile: every profile must have {self.settings.n_models} models (the action space), "
                f"{scenario.profile.name!r} has {len(scenario.profile.models)}"
            )
        self.scenario = scenario
        self.engine = Engine(scenario, chunk=CHUNK)
        self._refresh()

    def _refresh(self) -> None:
        """Cache the per-episode model figures: reward per credited sample and the mask inputs."""
        eng = self.engine
        self._acc100 = [float(a) / 100.0 for a in eng.accuracies]
        self._charge, self._static_mask, self._cheapest = mask_inputs(eng)

    # ------------------------------------------------------------------ gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode; ``options={"scenario": ref}`` switches the scenario first."""
        super().reset(seed=seed)
        unknown = sorted(set(options or {}) - {"scenario"})
        if unknown:
            raise TinySimError(f"options: unknown key {unknown[0]!r} (allowed: scenario)")
        if options and options.get("scenario") is not None:
            self._set_scenario(self.settings.load(options["scenario"]))
        if self.template.randomize:
            self._draw_scenario()
        eng = self.engine
        if not eng.reset(seed=seed, rng=self.np_random):
            self._status = None
            raise TinySimError(f"scenario {self.scenario.name!r}: the episode ends before the first decision")
        self._refresh()
        obs = np.empty(self.settings.obs_dim, dtype=np.float32)
        res = env_first(eng.ST, eng.FS, eng.PI, eng.PF, self._wk, obs)
        self._status = int(res[0])
        eng._status = self._status
        return obs, self._get_info(res, 0.0, 0.0)

    def step(self, action: Any):
        """Serve the waiting sample(s) with model ``action``; see the class docstring."""
        if self._status != K.DECISION:
            self._not_ready()
        if type(action) is not int or not 0 <= action < self.settings.n_models:
            action = coerce_action(action, self.settings.n_models)
        eng = self.engine
        obs = np.empty(self.settings.obs_dim, dtype=np.float32)
        res = env_step(eng.ST, eng.FS, eng.PI, eng.PF, eng.arr, self._wk, obs, action, self.settings.decisions_per_step)
        while res[0] == K.NEED_ARRIVALS:
            eng._refill()
            res = env_resume(eng.ST, eng.FS, eng.PI, eng.PF, eng.arr, self._wk, obs)
        status = res[0]
        self._status = status
        eng._status = status
        acc = res[1] * self._acc100[action]
        pen = -(self.settings.drop_penalty * res[2]) if res[2] and self.settings.drop_penalty else 0.0
        info = self._get_info(res, acc, pen)
        if status == K.DONE:
            info["episode_metrics"] = m = eng.metrics()
            info["weighted_accuracy"] = m["weighted_accuracy"]
            return obs, acc + pen, True, False, info
        return obs, acc + pen, False, False, info

    def _get_obs(self) -> np.ndarray:
        """The current observation (the same values the last ``reset``/``step`` returned)."""
        if self._status is None:
            raise gym.error.ResetNeeded("TinySimEnv: call reset() before reading the observation")
        eng = self.engine
        obs = np.empty(self.settings.obs_dim, dtype=np.float32)
        fill_obs(eng.ST, eng.FS, eng.PI, eng.PF, self._wk, obs)
        return obs

    def _get_info(self, res: tuple, acc: float, pen: float) -> dict[str, Any]:
        """Running metrics after the step (``res`` is the kernel's result tuple)."""
        _, _, _, tick, inf, dropped, arrivals, queue, rem, acc_sum = res
        served = inf + dropped
        eng = self.engine
        return {
            "rewards": {"accuracy": acc, "drop_penalty": pen},
            "time_ms": tick * eng.timebase_ms,
            "soc": min(max(rem / eng.capacity_mah, 0.0), 1.0),
            "queue": queue,
            "inferences": inf,
            "dropped": dropped,
            "arrivals": arrivals,
            "weighted_accuracy": acc_sum / served if served else 0.0,
        }

    def _not_ready(self) -> None:
        if self._status is None:
            raise gym.error.ResetNeeded("TinySimEnv.step() called before reset(): call reset() first")
        raise gym.error.ResetNeeded(
            "TinySimEnv.step() called after the episode ended (terminated=True was returned): call reset()"
        )

    def action_masks(self) -> np.ndarray:
        """Boolean mask of the models that can run now (True = allowed); never all False."""
        rem = self.engine.FS[K.G_R]
        mask = ~(self._static_mask | (self._charge > rem))
        if not mask.any():
            mask[self._cheapest] = True
        return mask

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: a one-line status; ``"rgb_array"``: bars for soc, buffer fill and recent drops."""
        if self.render_mode is None:
            return None
        eng = self.engine
        if self.render_mode == "ansi":
            return (
                f"{self.scenario.name}: t={eng.time_ms:.2f} ms soc={100 * eng.soc:.2f}% "
                f"buffer={eng.queue}/{eng.buffer_size} inferences={eng.inferences} dropped={eng.dropped} "
                f"last_model={eng.last_action}"
            )
        img = np.full((48, 160, 3), 255, dtype=np.uint8)
        values = self._get_obs()[:3] if self._status is not None else np.zeros(3, dtype=np.float32)
        for row, (value, colour) in enumerate(zip(values, ((40, 160, 60), (230, 140, 30), (200, 40, 40)), strict=True)):
            y = 4 + 15 * row
            img[y : y + 11, 4:156] = 225
            img[y : y + 11, 4 : 4 + round(152 * float(value))] = colour
        return img

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the observation features, in order."""
        return self.settings.feature_names
