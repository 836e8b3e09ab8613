"""Any baseline as an SB3-style policy: ``predict(obs, state, episode_start, deterministic)``.

``stable_baselines3.common.evaluation.evaluate_policy(policy, env)`` works unchanged: the adapter reads
the decision state straight from the engine of each in-process env (``env.unwrapped.engine``, the same
view the engine's own fast path hands selectors) instead of decoding the observation, keeps one copy of
the baseline per sub-env, and resets a copy at each episode start.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from tinysim_gym.core.engine import Engine
from tinysim_gym.core.view import Selector
from tinysim_gym.errors import TinySimError


def engines_of(env: Any) -> list[Engine]:
    """The engines behind an env, one per sub-env, each a decision view of its pending decision.

    Accepts an :class:`Engine`, a ``TinySimEnv`` (wrapped or not), a ``TinySimVectorEnv``, an SB3 ``VecEnv``
    (``DummyVecEnv``, the batched ``TinySimVecEnv``; a ``SubprocVecEnv`` works too, through copies of its
    engines, slowly) or a gymnasium ``SyncVectorEnv``.
    """
    if isinstance(env, Engine):
        return [env]
    if callable(getattr(env, "engine", None)) and hasattr(env, "num_envs"):  # TinySimVectorEnv
        return [env.engine(i) for i in range(env.num_envs)]
    if hasattr(env, "get_attr") and hasattr(env, "num_envs"):  # SB3 VecEnv
        engines = env.get_attr("engine")
        if all(isinstance(e, Engine) for e in engines):
            return list(engines)
    if hasattr(env, "envs"):  # gymnasium SyncVectorEnv
        return [e for sub in env.envs for e in engines_of(sub)]
    inner = getattr(env, "unwrapped", env)
    eng = getattr(inner, "engine", None)
    if isinstance(eng, Engine):
        return [eng]
    raise TinySimError(
        f"policy: cannot reach the engine of {type(env).__name__}; use a TinySimEnv, a vector env of them, or an "
        "Engine"
    )


class BaselinePolicy:
    """A heuristic selector with the SB3 ``predict`` interface (and the selector interface too).

    ``select``, ``reset``, ``kernel`` and ``loop`` are the wrapped selector's, so the object also runs in
    ``Engine.run`` and :func:`baselines.fast.run_episode`.

    Args:
        selector: the heuristic.
        env: the env (or vector env, or engine) whose decisions ``predict`` answers; ``None`` binds it
            later with :meth:`bind`.
        name: registry name, for display.
    """

    def __init__(self, selector: Selector, env: Any = None, name: str | None = None) -> None:
        self.selector = selector
        self.name = name or getattr(selector, "name", type(selector).__name__)
        self.env = env
        self._copies: list[Selector] = []
        self._seen: list[int] = []

    def __getattr__(self, attr: str) -> Any:
        selector = self.__dict__.get("selector")
        if selector is None or attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(selector, attr)

    def __repr__(self) -> str:
        return f"BaselinePolicy({self.name!r})"

    def bind(self, env: Any) -> BaselinePolicy:
        """Answer the decisions of ``env`` from now on; returns self."""
        self.env = env
        self._copies = []
        self._seen = []
        return self

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """The baseline's action for each sub-env's pending decision (``observation`` only sets the shape).

        Returns:
            ``(actions, state)``: an int64 array of shape ``(n_envs,)`` for batched observations, a 0-d
            array for a single one; ``state`` is passed through (baselines keep their own state).
        """
        if self.env is None:
            raise TinySimError("policy: no env bound; build it with baselines.make(name, env) or call bind(env)")
        engines = engines_of(self.env)
        obs = np.asarray(observation)
        single = obs.ndim <= 1 and len(engines) == 1
        n = 1 if single else (obs.shape[0] if obs.ndim >= 2 else len(engines))
        if n != len(engines):
            raise TinySimError(f"policy: {n} observations but the bound env has {len(engines)} engines")
        while len(self._copies) < n:
            self._copies.append(copy.deepcopy(self.selector))
            self._seen.append(-1)
        starts = None if episode_start is None else np.asarray(episode_start, dtype=bool).reshape(-1)
        if starts is not None and starts.size != n:
            starts = np.repeat(starts[:1], n) if starts.size == 1 else np.ones(n, dtype=bool)
        actions = np.empty(n, dtype=np.int64)
        for i, eng in enumerate(engines[:n]):
            sel = self._copies[i]
            arrivals = eng.arrivals
            if starts is not None:
                new_episode = bool(starts[i]) or self._seen[i] < 0
            else:  # no episode flags: a new episode shows as the arrival count going down
                new_episode = self._seen[i] < 0 or arrivals < self._seen[i]
            if new_episode and hasattr(sel, "reset"):
                sel.reset(eng)
            self._seen[i] = arrivals
            actions[i] = sel.select(eng)
        if single:
            return actions.reshape(()), state
        return actions, state
