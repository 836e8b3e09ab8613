"""The suite's task files (``configs/suite/<task>.yaml``): a named scenario with its env defaults.

A task is a scenario (a built-in name or a path, so every command accepts it) plus the env settings an agent
gets on it (decisions per step, observation switches, episode length in agent steps) and the training
overrides of ``tinysim suite train``; it states what makes it hard. Its Gymnasium id is
``tinysim/TinySim-<Task>-v0`` (:func:`env_name`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from tinysim_gym.builtin import builtin_root, builtin_stems, suite_env_name
from tinysim_gym.config.guards import read_mapping
from tinysim_gym.config.loading import validate
from tinysim_gym.config.strict import Strict
from tinysim_gym.errors import ConfigError

#: an agent episode of at most this many steps, so a generic PPO sees many episodes
MAX_EPISODE_STEPS = 5000

_NAME = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"


class SuiteTaskConfig(Strict):
    """One benchmark task.

    ``name`` (lower case, words joined by ``-``), ``level`` (1 easy .. 10 hard: the listing's order),
    ``description`` and ``hard_because`` (what a policy must do better than a fixed model), ``scenario``
    (a built-in scenario name or a path), ``env`` (the env config over the defaults; ``max_steps`` is
    required, at most :data:`MAX_EPISODE_STEPS`), ``train`` (hyperparameter overrides for training on it,
    as ``tinysim train --hyperparams`` takes them).
    """

    name: str = Field(min_length=1, max_length=60, pattern=_NAME)
    level: int = Field(ge=1, le=10)
    description: str = Field(min_length=1, max_length=400)
    hard_because: str = Field(min_length=1, max_length=600)
    scenario: str = Field(min_length=1, max_length=4096)
    env: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)

    def env_name(self) -> str:
        """The Gymnasium id without its namespace: ``TinySim-<Task>-v0``."""
        return suite_env_name(self.name)


def task_names() -> list[str]:
    """The built-in tasks' names (``configs/suite/*.yaml``), sorted by name."""
    return builtin_stems("suite")


def load_task(ref: str | Mapping[str, Any] | SuiteTaskConfig) -> SuiteTaskConfig:
    """A task by built-in name, path or mapping; its scenario path is taken relative to a task file.

    Raises:
        ConfigError: an unknown name, an unreadable file or a field that does not validate (one line).
    """
    if isinstance(ref, SuiteTaskConfig):
        return ref
    if isinstance(ref, Mapping):
        raw, base = dict(ref), None
    elif isinstance(ref, str) and (ref.endswith((".yaml", ".yml")) or "/" in ref):
        path = Path(ref).expanduser()
        raw, base = read_mapping(path, "task"), path.parent
        raw.setdefault("name", re.sub(r"[^a-z0-9-]", "-", path.stem.lower()))
    elif isinstance(ref, str) and ref in task_names():
        raw, base = read_mapping(builtin_root() / "suite" / f"{ref}.yaml", "task"), None
    else:
        raise ConfigError(f"task: unknown task {ref!r} (built-in: {', '.join(task_names())}; or a file path)")
    task = validate(SuiteTaskConfig, raw, "task")
    steps = task.env.get("max_steps")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_EPISODE_STEPS:
        raise ConfigError(f"task {task.name!r}: env.max_steps: expected an integer in 1..{MAX_EPISODE_STEPS} "
                          f"(agent steps per episode), got {steps!r}")
    if "scenario" in task.env:
        raise ConfigError(f"task {task.name!r}: env.scenario: the scenario is the task's own `scenario` field")
    sc = task.scenario
    if base is not None and sc.endswith((".yaml", ".yml")) and not Path(sc).is_absolute():
        task = task.model_copy(update={"scenario": str(base / sc)})
    return task
