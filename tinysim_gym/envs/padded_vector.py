"""A vector env of padded single envs, for configs the batched :class:`TinySimVectorEnv` does not take.

The batched env runs every sub-env in one compiled step over one model count; the padded encoding
(``max_models``, :mod:`tinysim_gym.envs.model_features`) lets sub-envs run profiles of different sizes, so
:class:`PaddedVectorEnv` steps one :class:`TinySimEnv` per sub-env instead (Gymnasium's ``SyncVectorEnv``)
and offers the few extras the batched env's users read: ``settings``, ``scenario``, ``engine(i)`` and
``action_masks()``. :func:`make_vector_env` picks the right one for a config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core.engine import Engine
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.settings import EnvSettings, split_kwargs
from tinysim_gym.envs.vector_env import TinySimVectorEnv


class PaddedVectorEnv(SyncVectorEnv):
    """``num_envs`` padded :class:`TinySimEnv` stepped one after the other (same spaces for any profile).

    Args:
        num_envs: number of sub-envs.
        config: the env config (with ``max_models``); keyword arguments are merged over it.
        autoreset_mode: Gymnasium's autoreset mode.
    """

    def __init__(self, num_envs: int, config: Mapping[str, Any] | None = None,
                 autoreset_mode: AutoresetMode = AutoresetMode.NEXT_STEP, **kwargs: Any) -> None:
        cfg = split_kwargs(config, kwargs)
        self.settings = EnvSettings(cfg)
        super().__init__([lambda: TinySimEnv(cfg) for _ in range(int(num_envs))], autoreset_mode=autoreset_mode)

    @property
    def scenario(self) -> ScenarioConfig:
        """The configured scenario (a template when it randomises)."""
        return self.settings.scenario

    def engine(self, i: int) -> Engine:
        """Sub-env ``i``'s engine (its current episode)."""
        env = self.envs[i].unwrapped
        assert isinstance(env, TinySimEnv)
        return env.engine

    def action_masks(self) -> np.ndarray:
        """``(num_envs, n_actions)`` bool: each sub-env's padded mask."""
        return np.stack([np.asarray(m, dtype=bool) for m in self.call("action_masks")])


def make_vector_env(num_envs: int, config: Mapping[str, Any],
                    autoreset_mode: AutoresetMode = AutoresetMode.NEXT_STEP) -> TinySimVectorEnv | PaddedVectorEnv:
    """The batched env for ``config``, or the padded one when the config pads (``max_models``)."""
    if config.get("max_models") is not None:
        return PaddedVectorEnv(num_envs, config, autoreset_mode=autoreset_mode)
    return TinySimVectorEnv(num_envs, dict(config), autoreset_mode=autoreset_mode)
