"""Gymnasium environment ``TinySim-v0``: the battery-powered TinyML device as an RL problem.

The env is thin glue over :class:`tinysim_gym.core.engine.Engine`: one ``step`` serves the waiting sample with the
chosen model and lets the engine jump to the next decision (a sample waits and the chip is free). The few
per-decision extras (reward counts, the recent-drops window, the observation) run in one small numba kernel
(:mod:`tinysim_gym.envs.kernels`) shared with the batched :mod:`tinysim_gym.envs.vector_env`, so both give
identical numbers; the config lives in :mod:`tinysim_gym.envs.settings`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from tinysim_gym.config import ScenarioConfig, randomize_variants, sample_scenario
from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine
from tinysim_gym.envs.actions import coerce_action, mask_inputs
from tinysim_gym.envs.handle_kernels import env_resume_at, env_step_at, state_handle
from tinysim_gym.envs.infos import info_dict
from tinysim_gym.envs.kernels import env_first_into, fill_obs
from tinysim_gym.envs.model_features import ModelSlots
from tinysim_gym.envs.render import Renderer
from tinysim_gym.envs.settings import CHUNK, EnvSettings, default_config, split_kwargs
from tinysim_gym.errors import ConfigError, TinySimError

_DECISION, _DONE, _NEED_ARRIVALS = K.DECISION, K.DONE, K.NEED_ARRIVALS  # module globals: read on every step


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
        With ``allow_skip: true`` the space is ``Discrete(n_models + 1)`` and the last index is the skip:
        the waiting sample is discarded (no accuracy; it counts as lost in the reward's drop penalty, the
        drop window and the weighted accuracy, and is reported as ``skipped``) at the cost of the
        selector's latency and charge only. Its mask entry is False only when the charge left cannot pay
        the selector.
        With ``max_models: K`` the space is padded to ``Discrete(K)`` (``K + 1`` with the skip, last) for
        any profile of at most K models: slot i is the i-th cheapest model, missing slots are masked, and
        a missing slot chosen anyway runs slot 0, the cheapest (so plain PPO works too); with
        ``obs_model_features`` per-slot features follow the others (:mod:`tinysim_gym.envs.model_features`
        documents them and why the canonical slot order makes the encoding permutation-safe).

    Observation space:
        ``Box(0, 1, (d,), float32)``; features in this order (optional ones only when switched on):

        ===============  ============================================================================
        feature          value
        ===============  ============================================================================
        soc              state of charge, remaining / capacity, clipped to [0, 1]
        buffer_fill      samples waiting in the buffer / buffer size (0 in seed-compatible sync mode)
        recent_drops     samples dropped or skipped / samples arrived over the last ``drop_window`` decisions
                         (counted from the reset until that many have passed; 0 if none arrived)
        horizon_elapsed  ``obs_horizon``: decision tick / horizon tick, clipped to 1 (0 without a
                         horizon); on by default when the scenario has ``horizon_ms``
        last_action      ``obs_last_action``: (previous action index + 1) / n_actions (0 before the
                         first decision; n_actions counts the skip when there is one)
        arrival_rate     ``obs_arrival_rate``: arrivals per tick over the drop window / the highest
                         possible rate (one per ``floor(min_interval / timebase) + 1`` ticks; one per
                         tick without a minimum interval), clipped to 1
        head_age         ``obs_head_age``: (decision tick - the waiting sample's arrival tick) / the
                         age scale, clipped to 1; the scale is ``obs_age_scale_ms``, else the
                         scenario's deadline, else buffer size x the mean arrival gap
        harvest_now      ``obs_harvest``: the harvester's current at the decision tick / its largest
                         current (a solar peak, a constant, a trace's maximum); 0 without a harvester
        day_sin/day_cos  ``obs_day_phase``: (1 + sin)/2 and (1 + cos)/2 of 2 pi x the phase of the day;
                         the day is ``obs_day_ms``, else a solar harvester's period (phase 0 at its
                         sunrise), else 24 h from tick 0
        harvest_forecast ``obs_forecast``: the mean harvester current over the next ``obs_forecast_ms``
                         (default the horizon / 20, or 60 s) / the largest current, times
                         ``1 + obs_forecast_noise x N(0, 1)`` (a fresh draw per decision, from a
                         stream keyed by the reset seed), clipped to [0, 1]
        charge_per_      ``obs_charge_per_inference``: one feature per model, the charge of one of its
        inference_k      inferences / the charge left, clipped to 1 (1 when nothing is left)
        privileged_      ``obs_privileged_harvest``: the *exact* forecast (no noise). Privileged: a
        harvest          real device cannot know its future harvest; for oracle-style ablations only
        ===============  ============================================================================

        Apart from ``obs_privileged_*``, every feature is computed from what the device has seen up to
        the decision (its own charge, buffer, clock and past events) and the declared noisy forecast:
        never from the hidden workload state or future arrivals.

    Rewards:
        Per step, ``accuracy + drop_penalty`` with components in ``info["rewards"]``: ``accuracy`` = the
        chosen model's accuracy / 100 for each sample it served (0 if the battery could not start it, or,
        with ``deadline_ms``, if it finished late); ``drop_penalty`` = ``-config["drop_penalty"]`` times the
        samples dropped or skipped during the step (default 0). With a horizon and no drop penalty, the episode return
        divided by ``info["arrivals"]`` equals the episode's weighted accuracy / 100.

    Episode end:
        Both ends are ``terminated=True``: *until depletion* (no ``horizon_ms``) ends when the battery is
        empty; *deployment horizon* ends at ``horizon_ms`` (samples arriving after depletion and those still
        buffered count as dropped). A finite workload (a trace) that runs out also terminates. These are true terminal
        states: no reward can follow, so value bootstrapping must stop; the horizon is part of the task,
        and the horizon feature keeps the state Markov.
        ``info["episode_metrics"]`` at the last step equals ``tinysim simulate --json`` for the episode.
        With ``max_steps = N`` (the registered ids set one) the env truncates itself after N steps:
        ``truncated=True`` and ``info["episode_metrics"]`` holds the figures so far. The env owns this limit
        because a ``TimeLimit`` wrapper's truncation is invisible to it (``gym.make(..., max_episode_steps=M)``
        still works, but its truncating step carries no ``episode_metrics``); pass ``max_steps=M`` instead.

    Info:
        On reset and every step: ``rewards`` (the reward's components), ``time_ms``, ``soc``, ``queue``,
        ``inferences``, ``dropped``, ``skipped``, ``arrivals``, ``weighted_accuracy`` (running) and ``action_mask``
        (:meth:`action_masks` as ``np.int8``, 1 = allowed: Gymnasium's convention, as in Taxi); at the end
        also ``episode_metrics``. The batched vector env gives the same keys. With ``full_info=False`` the
        per-step info is empty (``{}``) and the last step's holds ``episode_metrics`` and
        ``weighted_accuracy`` only: for loops that never read the info (the running counters stay readable
        on ``env.engine``), at about a third less time per step.

    Arguments:
        config: mapping merged over :meth:`default_config`; keyword arguments are merged last.
            ``scenario`` (name, path, mapping or ScenarioConfig), ``scenario_overrides`` (nested
            overrides; the scenario fields ``board profile workload battery horizon_ms seed_compat name
            description`` may also be passed directly), ``decisions_per_step`` (int >= 1),
            ``drop_penalty`` (>= 0), ``drop_window`` (decisions), ``obs_horizon`` (None = auto),
            ``obs_last_action``, ``obs_arrival_rate``, the feature switches above with their scales
            (``obs_age_scale_ms``, ``obs_day_ms``, ``obs_forecast_ms``, ``obs_forecast_noise``),
            ``max_steps`` (None = no limit), ``render_every_ms``, ``max_models`` and ``obs_model_features``
            (the padded encoding, above), ``full_info`` (default True; see Info).
        render_mode: ``None``, ``"ansi"`` (a one-line text status), ``"human"`` (a live matplotlib dashboard
            of charge, buffer, model, running weighted accuracy and harvest over simulated time, redrawn every
            ``render_every_ms``; no pygame, and harmless under a non-interactive backend such as Agg) or
            ``"rgb_array"`` (that dashboard as a 640x480 frame, taken every ``render_every_ms`` of simulated
            time: between two samples :meth:`render` returns the same frame) or ``"rgb_array_list"`` (the
            frames taken since the last :meth:`render`, one per ``render_every_ms``: a ``RecordVideo`` of
            a full default episode is then ~200 frames, seconds of video).

    ``reset(seed=s)``: arrivals come from ``self.np_random`` (the first episode after ``reset(seed=s)``
    equals ``tinysim simulate --seed s``); seed-compatible scenarios always replay the original's stream.
    ``reset(options={"scenario": ref})`` switches the scenario (same number of models) for this and later
    episodes; the configured overrides are not applied to it.
    """

    metadata = {"render_modes": ["ansi", "human", "rgb_array", "rgb_array_list"], "render_fps": 30}

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """The default configuration (HighwayEnv style); user config and keyword arguments merge over it."""
        return default_config()

    def __init__(self, config: Mapping[str, Any] | None = None, render_mode: str | None = None, **kwargs: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"env.render_mode: {render_mode!r} is not one of {self.metadata['render_modes']}")
        self.render_mode = render_mode
        self.settings = s = EnvSettings(split_kwargs(config, kwargs))
        self.config = s.config
        self.action_space = spaces.Discrete(s.n_actions)
        self.observation_space = s.observation_space()
        self._wk = s.work_row()
        #: the padded encoding (``max_models``), or None: the profile's own actions and observation
        self._slots = ModelSlots(s.max_models, s.model_features) if s.max_models is not None else None
        self._set_scenario(s.scenario)
        self._status: int | None = None
        self._elapsed = 0
        # read on every step: plain attributes, not lookups through the settings and the engine
        self._n_actions, self._obs_dim = s.n_actions, s.obs_dim
        self._reps, self._drop_penalty = s.decisions_per_step, s.drop_penalty
        self._out_i = np.zeros(7, dtype=np.int64)  # the kernel's figures of a step (see env_step_into)
        self._out_f = np.zeros(4, dtype=np.float64)
        self._obs = np.zeros(self._obs_dim, dtype=np.float32)  # the kernels write here; each step returns a copy
        self._full_info = s.full_info
        self._max_steps = s.max_steps if s.max_steps is not None else math.inf
        self._renderer = Renderer(render_mode, s.render_every_ms) if render_mode not in (None, "ansi") else None

    def _set_scenario(self, scenario: ScenarioConfig) -> None:
        # every profile a reset may draw must fit the action space: checked now, not at some later draw
        for what, variant in randomize_variants(scenario):
            self.settings.check_models(variant, what)
        engine = Engine(scenario, chunk=CHUNK)  # may fail (an unreadable trace): nothing is switched yet
        self.template = scenario  # may name ranges to draw from at every reset (``randomize``)
        self.scenario = scenario
        self.engine = engine
        self._refresh()

    def _draw_scenario(self) -> None:
        """Domain randomisation: a concrete scenario drawn from the template with ``self.np_random``."""
        scenario = sample_scenario(self.template, self.np_random)
        self.settings.check_models(scenario, "randomize.profile")
        self.scenario = scenario
        self.engine = Engine(scenario, chunk=CHUNK)
        self._refresh()

    def _refresh(self) -> None:
        """Cache the per-episode model figures: reward per credited sample and the mask inputs."""
        eng = self.engine
        self._acc100 = [float(a) / 100.0 for a in eng.accuracies] + [0.0] * (eng.n_actions - eng.n_models)
        self._charge, self._static_mask, self._cheapest = mask_inputs(eng)
        self._thresholds = np.unique(self._charge)
        if self._slots is not None:
            self._slots.refresh(eng)
        self._mask_lo, self._mask_hi = math.inf, -math.inf  # the cached info mask is stale

    # ------------------------------------------------------------------ gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode; ``options={"scenario": ref}`` switches the scenario first."""
        super().reset(seed=seed)
        unknown = sorted(set(options or {}) - {"scenario"})
        if unknown:
            raise TinySimError(f"options: unknown key {unknown[0]!r} (allowed: scenario)")
        previous = (self.template, self.scenario, self.engine)
        self._status = None  # until this reset succeeds, the env needs one
        try:
            if options and options.get("scenario") is not None:
                self._set_scenario(self.settings.load(options["scenario"]))
            if self.template.randomize:
                self._draw_scenario()
            eng = self.engine
            if not eng.reset(seed=seed, rng=self.np_random):
                raise TinySimError(f"scenario {self.scenario.name!r}: the episode ends before the first decision")
        except TinySimError:
            # a failed switch leaves the scenario the env had: the next reset() runs that one again
            self.template, self.scenario, self.engine = previous
            self._refresh()
            raise
        self._refresh()
        self._arrays = (eng.ST, eng.FS, eng.PI, eng.PF, eng.arr, self._wk)  # a reset makes new state arrays
        self._handle = self._state_handle()
        self.settings.prime(self._wk, self.scenario, seed)
        self._status = env_first_into(eng.ST, eng.FS, eng.PI, eng.PF, self._wk, self._obs, self._out_i, self._out_f)
        obs = self._obs.copy()
        eng.set_status(self._status)
        self._elapsed = 0
        info = self._get_info(0.0, 0.0) if self._full_info else {}
        if self._slots is not None:
            self._slots.fill(obs, self._out_f[0], self._out_f[2])
        if self._renderer is not None:
            self._renderer.reset(eng)
        return obs, info

    def step(self, action: Any):
        """Serve the waiting sample(s) with model ``action``; see the class docstring."""
        if self._status != _DECISION:
            self._not_ready()
        n = self._n_actions
        if type(action) is not int or not 0 <= action < n:
            action = coerce_action(action, n)
        if self._slots is not None:
            action = self._slots.engine_action(action)
        status = env_step_at(self._handle, action, self._reps)
        while status == _NEED_ARRIVALS:
            self.engine.refill_arrivals()
            status = env_resume_at(self._handle)
        self._status = status
        if status == _DONE:
            self.engine.set_status(status)  # the engine's view says DECISION from its reset until this end
        obs = self._obs.copy()
        credited, new_drops, inf, dropped, skipped, arrivals, queue = self._out_i.tolist()
        acc = credited * self._acc100[action]
        dp = self._drop_penalty
        pen = -(dp * new_drops) if new_drops and dp else 0.0
        if self._full_info:  # inline, not through _get_info: a call layer is a tenth of a step
            rem, soc, time_ms, wacc = self._out_f.tolist()
            mask = self._mask.copy() if self._mask_lo <= rem < self._mask_hi else self._info_mask(rem)
            info = info_dict(acc, pen, time_ms, soc, queue, inf, dropped, skipped, arrivals, wacc, mask)
        else:
            info = {}
        if self._slots is not None:
            self._slots.fill(obs, self._out_f[0], self._out_f[2])
        self._elapsed += 1
        if self._renderer is not None:
            self._renderer.observe(self.engine)
        if status == _DONE:
            info["episode_metrics"] = m = self.engine.metrics()
            info["weighted_accuracy"] = m["weighted_accuracy"]
            return obs, acc + pen, True, False, info
        if self._elapsed >= self._max_steps:
            info["episode_metrics"] = self.engine.metrics()
            return obs, acc + pen, False, True, info
        return obs, acc + pen, False, False, info

    def _get_obs(self) -> np.ndarray:
        """The current observation (the same values the last ``reset``/``step`` returned)."""
        if self._status is None:
            raise gym.error.ResetNeeded("TinySimEnv: call reset() before reading the observation")
        eng = self.engine
        obs = np.empty(self._obs_dim, dtype=np.float32)
        fill_obs(eng.ST, eng.FS, eng.PI, eng.PF, self._wk, obs)
        if self._slots is not None:
            self._slots.fill(obs, float(eng.FS[K.G_R]), eng.time_ms)
        return obs

    def _get_info(self, acc: float, pen: float) -> dict[str, Any]:
        """Running metrics from the kernel's figures (``acc``, ``pen``: the reward's parts); ``step`` inlines it."""
        _, _, inf, dropped, skipped, arrivals, queue = self._out_i.tolist()
        rem, soc, time_ms, wacc = self._out_f.tolist()
        mask = self._info_mask(rem)
        return info_dict(acc, pen, time_ms, soc, queue, inf, dropped, skipped, arrivals, wacc, mask)

    def _state_handle(self) -> np.ndarray:
        """The step kernels' handle on this env's state arrays (rebuilt whenever they are rebound)."""
        return state_handle(*self._arrays, self._out_i, self._out_f, self._obs)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_handle", None)  # addresses of this env's arrays: a copy's arrays live elsewhere
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_arrays" in state:
            self._handle = self._state_handle()

    def _not_ready(self) -> None:
        if self._status is None:
            raise gym.error.ResetNeeded("TinySimEnv.step() called before reset(): call reset() first")
        raise gym.error.ResetNeeded(
            "TinySimEnv.step() called after the episode ended (terminated=True was returned): call reset()"
        )

    def _info_mask(self, rem: float) -> np.ndarray:
        """``info["action_mask"]``: :meth:`action_masks` as int8, computed again only when it can change.

        The mask depends on the charge only through which one-inference charges it covers, so it stays the
        same between two neighbouring charges; each info gets its own copy (Gymnasium's checker forbids
        infos that share data, as users keep them).
        """
        if not self._mask_lo <= rem < self._mask_hi:
            th = self._thresholds
            k = int(np.searchsorted(th, rem, side="right"))  # th[k - 1] <= rem < th[k]
            self._mask_lo = float(th[k - 1]) if k > 0 else -math.inf
            self._mask_hi = float(th[k]) if k < len(th) else math.inf
            self._mask = self.action_masks().view(np.int8)
        return self._mask.copy()

    def action_masks(self) -> np.ndarray:
        """Boolean mask of the actions that can run now (True = allowed; the skip last); never all False.

        Raises:
            gymnasium.error.ResetNeeded: before the first ``reset()`` (or after one that failed).
        """
        if self._status is None:
            raise gym.error.ResetNeeded("TinySimEnv.action_masks() called before reset(): call reset() first")
        rem = self.engine.FS[K.G_R]
        mask = ~(self._static_mask | (self._charge > rem))
        if not mask.any():
            mask[self._cheapest] = True
        return mask if self._slots is None else self._slots.mask(mask)

    def render(self) -> str | np.ndarray | list[np.ndarray] | None:
        """The render of the current state, by ``render_mode``.

        ``"ansi"``: a one-line status; ``"rgb_array"``: the dashboard frame; ``"rgb_array_list"``: the frames
        taken since the last call; ``"human"`` draws in ``reset`` and ``step``, so this returns None.
        """
        if self.render_mode is None or self.render_mode == "human":
            return None
        eng = self.engine
        if self.render_mode == "ansi":
            return (
                f"{self.scenario.name}: t={eng.time_ms:.2f} ms soc={100 * eng.soc:.2f}% "
                f"buffer={eng.queue}/{eng.buffer_size} inferences={eng.inferences} dropped={eng.dropped} "
                f"last_model={eng.last_action}"
            )
        assert self._renderer is not None
        if self._status is None:
            self._renderer.reset(eng)
        if self.render_mode == "rgb_array_list":
            return self._renderer.frames()
        return self._renderer.frame(eng)

    def close(self) -> None:
        """Close the dashboard window, if one is open."""
        if self._renderer is not None:
            self._renderer.close()

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the observation features, in order."""
        return self.settings.feature_names
