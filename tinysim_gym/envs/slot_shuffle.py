"""Training-time augmentation of the padded encoding: the present model slots in a random order per episode.

The canonical slot order (:mod:`tinysim_gym.envs.model_features`) makes the observation a function of the
model set alone, but it also lets a network learn *positions* instead of features: trained on devices where
slot 1 is usually worth running, it runs slot 1 on a device whose cheapest model (slot 0) is also its most
accurate. :class:`ShuffleSlots` shows each training episode's present models in a random order (missing slots
stay last), permuting the slot blocks of the observation, the actions and the masks together, so only what
the features say about a slot can tell the slots apart. Evaluation runs the env unwrapped, in the canonical
order, which is one of the orders seen in training.

It is a Gymnasium wrapper, named in a training file's ``env_wrapper`` list (``tinysim train`` applies those
wrappers to the training envs only).
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from tinysim_gym.envs.model_features import slot_features
from tinysim_gym.errors import ConfigError


class ShuffleSlots(gym.Wrapper):
    """Show the present model slots of each episode in a random order (see the module docstring).

    Args:
        env: a :class:`~tinysim_gym.envs.env.TinySimEnv` with ``max_models`` and ``obs_model_features``.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        settings = env.get_wrapper_attr("settings")
        if settings.max_models is None or not settings.model_features:
            raise ConfigError("ShuffleSlots: needs env.max_models and env.obs_model_features (the padded slots)")
        self.k = int(settings.max_models)
        self.width = len(slot_features(settings.model_features))
        self.start = list(settings.feature_names).index("model_present_0")
        self.skip = bool(settings.scenario.allow_skip)
        self._rng = np.random.default_rng()
        self.perm = np.arange(self.k)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the env and draw this episode's slot order."""
        if seed is not None:
            self._rng = np.random.default_rng([int(seed), 0x5107])
        obs, info = self.env.reset(seed=seed, options=options)
        blocks = self._blocks(obs)
        n = int((blocks[:, 0] > 0.5).sum())  # model_present_i: the present slots come first
        self.perm = np.concatenate([self._rng.permutation(n), np.arange(n, self.k)])
        return self._obs(obs), self._info(info)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Run the slot the shuffled action shows."""
        a = int(action)
        obs, reward, term, trunc, info = self.env.step(int(self.perm[a]) if a < self.k else a)
        return self._obs(obs), reward, term, trunc, self._info(info)

    def action_of_slot(self, slot: int) -> int:
        """The action that runs canonical slot ``slot`` this episode (a skip index stays itself).

        A teacher that answers in canonical slots (a warm start's demonstrations) needs it: the agent's
        action ``a`` runs slot ``perm[a]``.
        """
        return int(np.flatnonzero(self.perm == slot)[0]) if slot < self.k else int(slot)

    def action_masks(self) -> np.ndarray:
        """The env's masks in the shuffled order."""
        return self._mask(np.asarray(self.env.get_wrapper_attr("action_masks")()))

    def _blocks(self, obs: np.ndarray) -> np.ndarray:
        return obs[self.start : self.start + self.k * self.width].reshape(self.k, self.width)

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        out = np.array(obs, copy=True)
        out[self.start : self.start + self.k * self.width] = self._blocks(obs)[self.perm].reshape(-1)
        return out

    def _mask(self, mask: np.ndarray) -> np.ndarray:
        out = np.array(mask, copy=True)
        out[: self.k] = mask[: self.k][self.perm]
        return out

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        if "action_mask" in info:
            info = {**info, "action_mask": self._mask(np.asarray(info["action_mask"]))}
        return info
