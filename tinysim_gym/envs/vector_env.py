"""Batched TinySim: many engine copies stepped in one compiled call (a Gymnasium ``VectorEnv``, an SB3 ``VecEnv``).

:class:`TinySimVectorEnv` keeps the state of its ``num_envs`` engines as the rows of 2-D arrays (each
:class:`~tinysim_gym.core.engine.Engine` keeps a view of its row, so its properties and ``metrics()`` stay
valid) and steps all rows with one numba kernel (:func:`tinysim_gym.envs.kernels.batch_step`, built on the per-env
kernel of :class:`~tinysim_gym.envs.env.TinySimEnv`): sub-env ``i`` reset with seed ``s`` gives exactly the
observations, rewards and metrics of ``TinySimEnv`` reset with seed ``s``. Python only runs for the rare events: an
engine's arrival buffer running out (a refill) and an episode ending (metrics, autoreset).

The SB3 adapter over it (same-step autoreset, ``terminal_observation`` infos, ``action_masks`` for
sb3-contrib's MaskablePPO) is ``agents.vec_env.TinySimVecEnv``: this room does not depend on stable-baselines3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine
from tinysim_gym.envs.actions import mask_inputs
from tinysim_gym.envs.batch_ends import out_of_range, step_ends
from tinysim_gym.envs.infos import Figures, packed, row_info, rows_into
from tinysim_gym.envs.kernels import batch_step, env_first, env_resume, step_reward
from tinysim_gym.envs.render import Renderer
from tinysim_gym.envs.settings import CHUNK, EnvSettings, split_kwargs
from tinysim_gym.errors import ConfigError, TinySimError


class TinySimVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`~tinysim_gym.envs.env.TinySimEnv` stepped by one compiled kernel.

    Spaces, observations, rewards and episode ends are those of ``TinySimEnv`` (same config keys).
    ``action_space`` is ``MultiDiscrete([n_actions] * num_envs)`` (the models, then the skip with
    ``allow_skip``); :meth:`action_masks` returns a ``(num_envs, n_actions)`` bool array.

    Autoreset (the ``autoreset_mode`` keyword, declared in ``metadata["autoreset_mode"]``): ``NEXT_STEP``
    (Gymnasium's default: the step after an episode ends resets that sub-env, ignores its action and returns
    reward 0), ``SAME_STEP`` (the sub-env is reset in the step that ends it; ``infos["final_obs"]`` /
    ``infos["final_info"]`` hold the last observation and info), or ``DISABLED`` (reset ended sub-envs with
    ``reset(options={"reset_mask": mask})``). Through the registry it is a plain keyword,
    ``gym.make_vec(id, num_envs=N, autoreset_mode="SameStep")``; Gymnasium's own vector envs take it in
    ``vector_kwargs`` instead (``vectorization_mode="sync", vector_kwargs={"autoreset_mode": ...}``).

    Infos: on reset and every step, the single env's keys for every sub-env, packed as Gymnasium's vector
    envs pack them (an array per key and a ``_key`` mask), so ``gym.make_vec`` gives the same infos in
    every vectorisation mode; when a sub-env's episode ends (or is truncated) its info also carries
    ``episode_metrics`` (the ``tinysim simulate --json`` figures). :meth:`step_raw` skips the packing.

    Rendering: ``render_mode="rgb_array"`` (or ``"rgb_array_list"``) renders the first sub-env's dashboard,
    as :class:`~tinysim_gym.envs.env.TinySimEnv` does.

    Seeding: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i`` (Gymnasium's convention for vector envs;
    a list seeds each one): sub-env ``i`` then has its own generator, seeded as ``TinySimEnv.reset(seed=s + i)``
    seeds ``np_random``, and later autoresets continue it. ``reset(options={"scenario": ref})`` switches
    every sub-env's scenario.

    Domain randomisation: with a scenario whose ``randomize:`` section names ranges or choices, every
    sub-env reset (explicit or autoreset) draws a concrete scenario from that sub-env's generator before
    the episode's arrivals, exactly as ``TinySimEnv.reset`` does, so sub-env ``i`` seeded with ``s + i``
    sees the same sequence of drawn scenarios, episode after episode, as a single env seeded with
    ``s + i``. ``template`` is the scenario with the ranges, ``scenario`` stays that scenario too, and
    ``scenarios[i]`` (and ``engine(i).scenario``) is sub-env ``i``'s current draw.

    Args:
        num_envs: number of sub-environments.
        config: env config (see :meth:`TinySimEnv.default_config`); keyword arguments merge over it.
        autoreset_mode: an :class:`~gymnasium.vector.AutoresetMode` or its value string.
        max_episode_steps: optional step limit per episode (then ``truncated=True``); None uses the config's
            ``max_steps`` (the registered ids set one).
        copy: return a copy of the observation batch (False returns the internal buffer).
        chunk: arrival ticks buffered per sub-env between refills (keep the default for sub-envs that match
            single envs beyond their first episode).
        render_mode: None, ``"rgb_array"`` or ``"rgb_array_list"`` (the first sub-env).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["rgb_array", "rgb_array_list"],
                "render_fps": 30}

    def __init__(
        self,
        num_envs: int = 1,
        config: Mapping[str, Any] | None = None,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        copy: bool = True,
        chunk: int = CHUNK,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ConfigError(f"num_envs: expected an integer >= 1, got {num_envs!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            allowed = ", ".join(self.metadata["render_modes"])
            raise ConfigError(f"render_mode: {render_mode!r} is not None or one of {allowed}")
        if max_episode_steps is not None and (isinstance(max_episode_steps, bool) or max_episode_steps < 1):
            raise ConfigError(f"max_episode_steps: expected an integer >= 1 or None, got {max_episode_steps!r}")
        try:
            self.autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            allowed = ", ".join(m.value for m in AutoresetMode)
            raise ConfigError(f"autoreset_mode: {autoreset_mode!r} is not one of {allowed}") from None
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = render_mode
        self.num_envs = n = int(num_envs)
        self.copy = copy
        self.chunk = int(chunk)
        self.settings = s = EnvSettings(split_kwargs(config, kwargs), batched=True)
        self.max_episode_steps = max_episode_steps if max_episode_steps is not None else s.max_steps
        self._renderer = Renderer(render_mode, s.render_every_ms) if render_mode is not None else None
        self._last_actions = np.zeros(n, dtype=np.int64)
        self.config = s.config
        self.single_action_space = spaces.Discrete(s.n_actions)
        self.action_space = batch_space(self.single_action_space, n)
        self.single_observation_space = s.observation_space()
        self.observation_space = batch_space(self.single_observation_space, n)
        self._rngs: list[np.random.Generator | None] = [None] * n
        self._status = np.full(n, K.DONE, dtype=np.int64)
        self._started = np.zeros(n, dtype=bool)
        self._steps = np.zeros(n, dtype=np.int64)
        self._rew = np.zeros(n, dtype=np.float64)
        self._rows = np.arange(n, dtype=np.int64)
        self.WK = np.stack([s.work_row() for _ in range(n)])
        self.OBS = np.zeros((n, s.obs_dim), dtype=np.float32)
        self._set_scenario(s.scenario)

    # ------------------------------------------------------------------ state rows

    def _set_scenario(self, scenario: ScenarioConfig) -> None:
        n = self.num_envs
        self.template = self.scenario = scenario  # the template may name ranges drawn at every reset
        self.scenarios = [scenario] * n
        self.engines = [Engine(scenario, chunk=self.chunk) for _ in range(n)]
        e0 = self.engines[0]
        self.ST = np.zeros((n, len(e0.ST)), dtype=np.int64)
        self.FS = np.zeros((n, len(e0.FS)), dtype=np.float64)
        self.PI = np.zeros((n, len(e0.PI)), dtype=np.int64)
        self.PF = np.zeros((n, len(e0.PF)), dtype=np.float64)
        self.ARR = np.zeros((n, self.chunk), dtype=np.int64)
        nm = e0.n_actions
        self._charge = np.zeros((n, nm), dtype=np.float64)
        self._static = np.zeros((n, nm), dtype=bool)
        self._cheapest = np.zeros(n, dtype=np.int64)
        for i, eng in enumerate(self.engines):
            eng.arr = self.ARR[i]
        self._status[:] = K.DONE
        self._started[:] = False

    def _fit(self, name: str, width: int) -> None:
        """Widen a state matrix (rows are zero-padded; the kernels index within their own layout)."""
        m = getattr(self, name)
        if m.shape[1] >= width:
            return
        wide = np.zeros((m.shape[0], width), dtype=m.dtype)
        wide[:, : m.shape[1]] = m
        setattr(self, name, wide)
        if name in ("ST", "FS"):
            for i, eng in enumerate(self.engines):
                size = len(getattr(eng, name))
                setattr(eng, name, wide[i, :size])

    def _bind(self, i: int) -> None:
        """Move engine ``i``'s fresh state into row ``i`` and give the engine views of its row."""
        eng = self.engines[i]
        for name in ("ST", "FS", "PI", "PF"):
            src = getattr(eng, name)
            self._fit(name, len(src))
            row = getattr(self, name)[i]
            row[: len(src)] = src
            row[len(src) :] = 0
            if name in ("ST", "FS"):
                setattr(eng, name, row[: len(src)])
        self._charge[i], self._static[i], self._cheapest[i] = mask_inputs(eng)

    def _reset_row(self, i: int, seed: int | None) -> None:
        rng = self._rngs[i]
        if seed is not None or rng is None:
            rng = self._rngs[i] = seeding.np_random(seed)[0]
        if self.template.randomize:
            self._draw_row(i, rng)
        eng = self.engines[i]
        if not eng.reset(seed=seed, rng=rng):
            raise TinySimError(f"scenario {self.scenarios[i].name!r}: the episode ends before the first decision")
        self._bind(i)
        self.settings.prime(self.WK[i], self.scenarios[i], seed)
        res = env_first(self.ST[i], self.FS[i], self.PI[i], self.PF[i], self.WK[i], self.OBS[i])
        self._status[i] = res[0]
        self._steps[i] = 0
        self._started[i] = True

    def _draw_row(self, i: int, rng: np.random.Generator) -> None:
        """Give sub-env ``i`` an engine on a scenario drawn from its own generator (before its arrivals)."""
        scenario = self.settings.draw(self.template, rng)
        eng = Engine(scenario, chunk=self.chunk)
        eng.arr = self.ARR[i]
        self.engines[i] = eng
        self.scenarios[i] = scenario

    def engine(self, i: int) -> Engine:
        """Sub-env ``i``'s engine, its status brought up to date (a decision view for selectors)."""
        eng = self.engines[i]
        eng.sync_status()
        return eng

    # ------------------------------------------------------------------ gymnasium vector API

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None):
        """Reset all sub-envs (or those in ``options["reset_mask"]``); returns ``(observations, {})``."""
        n = self.num_envs
        if seed is None or isinstance(seed, int | np.integer):
            if seed is not None:
                super().reset(seed=int(seed))
            seeds: list[int | None] = [None if seed is None else int(seed) + i for i in range(n)]
        else:
            seeds = list(seed)
            if len(seeds) != n:
                raise TinySimError(f"seed: expected {n} seeds (one per sub-env), got {len(seeds)}")
        opts = dict(options or {})
        mask = opts.pop("reset_mask", None)
        scenario = opts.pop("scenario", None)
        if opts:
            raise TinySimError(f"options: unknown key {sorted(opts)[0]!r} (allowed: reset_mask, scenario)")
        if scenario is not None:
            self._set_scenario(self.settings.load(scenario))
            mask = None
        if mask is None:
            rows = range(n)
        else:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (n,):
                raise TinySimError(f"options.reset_mask: expected a bool array of shape ({n},), got {mask.shape}")
            rows = np.flatnonzero(mask)
        for i in rows:
            self._reset_row(int(i), seeds[i])
        if self._renderer is not None and 0 in rows:
            self._renderer.reset(self.engine(0))
        return (self.OBS.copy() if self.copy else self.OBS), packed(self._figures_of(self._rows).as_dict())

    def _figures_of(self, rows: np.ndarray, figures: Figures | None = None) -> Figures:
        """The info figures of ``rows`` now, written into ``figures`` (new ones if None); see :mod:`.infos`."""
        f = Figures(self.num_envs, self._charge.shape[1]) if figures is None else figures
        rows_into(rows, self.ST, self.FS, self.PF, self.WK, self._last_actions, self.engines[0].timebase_ms,
                  self.settings.drop_penalty, self._charge, self._static, self._cheapest, f.F, f.I, f.mask)
        return f

    def _actions(self, actions: Any) -> np.ndarray:
        a = np.asarray(actions)
        n = self.settings.n_actions
        if a.shape != (self.num_envs,) or a.dtype.kind not in "iu":
            raise gym.error.InvalidAction(
                f"actions: expected {self.num_envs} integer model indices, got shape {a.shape} dtype {a.dtype}"
            )
        a64 = a.astype(np.int64, copy=False)  # a too large unsigned index wraps below 0: still out of range
        if out_of_range(a64, n):
            raise gym.error.InvalidAction(f"actions: model indices must be in 0..{n - 1}, got {a.min()}..{a.max()}")
        return a64

    def step_raw(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, np.ndarray, dict[str, Any]]]]:
        """Step all sub-envs without packing Gymnasium infos (the SB3 adapter packs its own).

        Returns:
            ``(rewards, terminated, truncated, ended)``; the observations are in ``self.OBS``. ``ended``
            lists ``(i, final_obs, final_info)`` for each sub-env whose episode ended in this step
            (``final_info`` holds ``episode_metrics`` only).
        """
        rew, term, trunc, waiting, ended = self._advance(actions)
        self._autoreset(waiting, ended)
        return rew, term, trunc, ended

    def _advance(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[tuple[int, np.ndarray, dict[str, Any]]]]:
        """Run the kernel for every row whose episode goes on; ``waiting`` marks rows that ended earlier."""
        a = self._actions(actions)
        if not self._started.all():
            raise gym.error.ResetNeeded("TinySimVectorEnv.step() called before reset(): call reset() first")
        st = self._status
        waiting = st != K.DECISION  # episodes that ended in an earlier step (or were truncated)
        any_waiting = bool(waiting.any())
        if any_waiting and self.autoreset_mode == AutoresetMode.DISABLED:
            raise gym.error.ResetNeeded(
                "TinySimVectorEnv.step(): sub-envs whose episode ended must be reset first "
                "(autoreset DISABLED: reset(options={'reset_mask': mask}))"
            )
        self._last_actions[:] = a
        rew = self._rew
        dp = self.settings.drop_penalty
        reps = self.settings.decisions_per_step
        need = batch_step(self.ST, self.FS, self.PI, self.PF, self.ARR, self.WK, self.OBS, a, reps, dp, st, rew)
        if need:
            for i in np.flatnonzero(st == K.NEED_ARRIVALS):
                eng = self.engines[i]
                res = (K.NEED_ARRIVALS,)
                while res[0] == K.NEED_ARRIVALS:
                    eng.refill_arrivals()
                    res = env_resume(
                        self.ST[i], self.FS[i], self.PI[i], self.PF[i], self.ARR[i], self.WK[i], self.OBS[i]
                    )
                st[i] = res[0]
                rew[i] = step_reward(self.PF[i], int(a[i]), res[1], res[2], dp)
        term, trunc = np.empty(self.num_envs, dtype=bool), np.empty(self.num_envs, dtype=bool)
        limit = -1 if self.max_episode_steps is None else self.max_episode_steps
        ended: list[tuple[int, np.ndarray, dict[str, Any]]] = []
        if step_ends(st, waiting, self._steps, limit, term, trunc):
            for i in np.flatnonzero(term | trunc):
                metrics = self.engine(int(i)).metrics()
                ended.append((int(i), self.OBS[i].copy(), {"episode_metrics": metrics}))
                if trunc[i]:
                    st[i] = K.DONE  # the sub-env waits for its reset
        return rew.copy(), term, trunc, waiting, ended

    def _autoreset(self, waiting: np.ndarray, ended: list[tuple[int, np.ndarray, dict[str, Any]]]) -> None:
        """Reset the rows the autoreset mode resets in this step (and bring the first row's render up to date)."""
        reset0 = False
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            for i in np.flatnonzero(waiting):
                self._reset_row(int(i), None)
            reset0 = bool(waiting[0])
        if ended and self.autoreset_mode == AutoresetMode.SAME_STEP:
            for i, _, _ in ended:
                self._reset_row(i, None)
            reset0 = ended[0][0] == 0
        if self._renderer is not None:
            if reset0:
                self._renderer.reset(self.engine(0))
            else:
                self._renderer.observe(self.engine(0))

    def step(self, actions: Any):
        """Step every sub-env with its action; returns ``(obs, rewards, terminated, truncated, infos)``."""
        rew, term, trunc, waiting, ended = self._advance(actions)
        final = None
        if ended and self.autoreset_mode == AutoresetMode.SAME_STEP:  # the ended rows' figures before their reset
            before = self._figures_of(np.array([i for i, _, _ in ended], dtype=np.int64)).as_dict()
            final = {i: row_info(before, i) for i, _, _ in ended}
        self._autoreset(waiting, ended)
        infos = packed(self._figures_of(self._rows).as_dict())
        for i, final_obs, final_info in ended:
            metrics = final_info["episode_metrics"]
            end_info = {"episode_metrics": metrics}
            if term[i]:  # as the single env: the episode's figure replaces the running one at a true end
                end_info["weighted_accuracy"] = metrics["weighted_accuracy"]
            if final is not None:  # the row was reset: its info is the reset's, the end goes to final_info
                end_info = {"final_obs": final_obs, "final_info": {**final[i], **end_info}}
            infos = self._add_info(infos, end_info, i)
        obs = self.OBS.copy() if self.copy else self.OBS
        return obs, rew, term, trunc, infos

    def render(self) -> np.ndarray | list[np.ndarray] | None:
        """The first sub-env's dashboard: a frame (``"rgb_array"``) or the frames since the last call."""
        if self._renderer is None:
            return None
        eng = self.engine(0)
        if not self._started[0]:
            self._renderer.reset(eng)
        if self.render_mode == "rgb_array_list":
            return self._renderer.frames()
        return self._renderer.frame(eng)

    def close_extras(self, **kwargs: Any) -> None:
        """Close the dashboard's figure."""
        if self._renderer is not None:
            self._renderer.close()

    def action_masks(self) -> np.ndarray:
        """``(num_envs, n_actions)`` bool: the actions each sub-env can run now (never a row of all False)."""
        if not self._started.all():
            raise gym.error.ResetNeeded("TinySimVectorEnv.action_masks() called before reset(): call reset() first")
        rem = self.FS[:, K.G_R]
        mask = ~(self._static | (self._charge > rem[:, None]))
        empty = ~mask.any(axis=1)
        if empty.any():
            rows = np.flatnonzero(empty)
            mask[rows, self._cheapest[rows]] = True
        return mask

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for i, eng in enumerate(self.engines):  # views do not survive pickling: point the engines at the rows
            eng.ST = self.ST[i, : len(eng.ST)]
            eng.FS = self.FS[i, : len(eng.FS)]
            eng.arr = self.ARR[i]
