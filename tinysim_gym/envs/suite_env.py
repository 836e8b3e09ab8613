"""The suite's Gymnasium ids: entry points that build an env from a task file (``configs/suite``).

``gym.make("tinysim/TinySim-Pacing-v0")`` reads the task ``pacing`` when the env is made (not when
``tinysim_gym`` is imported), so registering every task costs only a directory listing.
"""

from __future__ import annotations

from typing import Any

from tinysim_gym.config.suite import SuiteTaskConfig, load_task
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.padded_vector import PaddedVectorEnv
from tinysim_gym.envs.vector_env import TinySimVectorEnv


def task_env_config(task: str | SuiteTaskConfig) -> dict[str, Any]:
    """The env config of a task: its ``env`` settings over the defaults, on its scenario."""
    t = load_task(task)
    return {**t.env, "scenario": t.scenario}


def make_task_env(task: str, render_mode: str | None = None, **overrides: Any) -> TinySimEnv:
    """The task's :class:`TinySimEnv`; keyword arguments override its settings (as for any id)."""
    return TinySimEnv(task_env_config(task), render_mode=render_mode, **overrides)


def make_task_vector_env(num_envs: int = 1, task: str = "", **overrides: Any) -> TinySimVectorEnv | PaddedVectorEnv:
    """The task's batched :class:`TinySimVectorEnv` of ``num_envs`` copies (a padded task: one env per copy)."""
    cfg = task_env_config(task)
    if {**cfg, **overrides}.get("max_models") is not None:
        return PaddedVectorEnv(num_envs, cfg, **overrides)
    return TinySimVectorEnv(num_envs, cfg, **overrides)
