"""The Stable-Baselines3 ``VecEnv`` adapter over the batched :class:`~tinysim_gym.envs.vector_env.TinySimVectorEnv`.

It lives with the agents, not in the env room, so that ``tinysim_gym`` never needs stable-baselines3 (or
torch) to step an env.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from tinysim_gym.envs.vector_env import TinySimVectorEnv
from tinysim_gym.errors import TinySimError


class TinySimVecEnv(VecEnv):
    """Stable-Baselines3 ``VecEnv`` over :class:`TinySimVectorEnv` (same-step autoreset).

    ``infos[i]`` is empty except when sub-env ``i``'s episode ends: then it holds
    ``terminal_observation``, ``TimeLimit.truncated`` and ``episode_metrics``. ``env_method("action_masks")``
    serves sb3-contrib's MaskablePPO; ``get_attr("engine")`` returns the sub-envs' engines.

    Args:
        num_envs: number of sub-environments.
        config: env config; keyword arguments (env config, scenario overrides, ``max_episode_steps``,
            ``chunk``) are passed to :class:`TinySimVectorEnv`.
        venv: an existing same-step :class:`TinySimVectorEnv` to wrap instead.
    """

    def __init__(
        self,
        num_envs: int = 1,
        config: Mapping[str, Any] | None = None,
        *,
        venv: TinySimVectorEnv | None = None,
        **kwargs: Any,
    ) -> None:
        if venv is None:
            venv = TinySimVectorEnv(num_envs, config, autoreset_mode=AutoresetMode.SAME_STEP, **kwargs)
        elif venv.autoreset_mode != AutoresetMode.SAME_STEP:
            raise TinySimError("venv: the SB3 adapter needs a TinySimVectorEnv with autoreset_mode SAME_STEP")
        self.venv = venv
        self._actions: np.ndarray | None = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    def reset(self) -> np.ndarray:
        """Reset every sub-env (seeds and options set through ``seed``/``set_options``); returns the observations."""
        seeds = self._seeds if any(s is not None for s in self._seeds) else None
        opts = [o for o in self._options if o]
        options = opts[0] if opts else None
        if any(o != options for o in opts):
            raise TinySimError("set_options: the batched env takes the same options for every sub-env")
        obs, _ = self.venv.reset(seed=seeds, options=options)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Keep the actions for :meth:`step_wait` (the batched step runs there)."""
        self._actions = actions

    def step_wait(self):
        """Step every sub-env; returns ``(obs, rewards, dones, infos)`` with same-step autoreset."""
        if self._actions is None:
            raise TinySimError("step_wait() called without step_async()")
        actions, self._actions = self._actions, None
        rew, term, trunc, ended = self.venv.step_raw(np.asarray(actions).reshape(self.num_envs))
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i, final_obs, final_info in ended:
            infos[i] = {
                "terminal_observation": final_obs,
                "TimeLimit.truncated": bool(trunc[i] and not term[i]),
                **final_info,
            }
        return self.venv.OBS.copy(), rew.astype(np.float32), term | trunc, infos

    def close(self) -> None:
        """Close the batched env."""
        self.venv.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """The batched env's attribute for each index (``"engine"``: each sub-env's own engine)."""
        idx = list(self._get_indices(indices))
        if attr_name == "engine":
            return [self.venv.engine(i) for i in idx]
        value = getattr(self.venv, attr_name)
        return [value for _ in idx]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Not supported: the sub-envs share one batched env's attributes."""
        raise AttributeError(f"set_attr({attr_name!r}): the batched TinySim env shares its attributes")

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any):
        """Only ``"action_masks"``: each sub-env's row of :meth:`action_masks`."""
        idx = list(self._get_indices(indices))
        if method_name == "action_masks":
            masks = self.venv.action_masks()
            return [masks[i] for i in idx]
        raise AttributeError(f"env_method({method_name!r}): only 'action_masks' is available per sub-env")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """Always False: the sub-envs are rows of one batched env, never wrapped."""
        return [False for _ in self._get_indices(indices)]

    def action_masks(self) -> np.ndarray:
        """``(num_envs, n_actions)`` bool mask (see :meth:`TinySimVectorEnv.action_masks`)."""
        return self.venv.action_masks()
