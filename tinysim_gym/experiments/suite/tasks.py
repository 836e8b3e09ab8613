"""The suite's task registry: the built-in task files, in the order easy to hard."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinysim_gym.config.suite import SuiteTaskConfig, load_task, task_names
from tinysim_gym.envs.registration import NAMESPACE


def suite_tasks(names: Sequence[str] | None = None) -> list[SuiteTaskConfig]:
    """The tasks named (built-in names or task files), or every built-in one; sorted by level, then name.

    Raises:
        ConfigError: an unknown task or a task file that does not validate (one line).
    """
    chosen = list(names) if names else task_names()
    tasks = [load_task(n) for n in chosen]
    return sorted(tasks, key=lambda t: (t.level, t.name))


def env_id(task: SuiteTaskConfig) -> str:
    """The task's namespaced Gymnasium id (``tinysim/TinySim-<Task>-v0``)."""
    return f"{NAMESPACE}/{task.env_name()}"


def task_rows(tasks: Sequence[SuiteTaskConfig]) -> list[dict[str, Any]]:
    """``tinysim suite list --json``: ``task, env_id, scenario, description`` (and ``level, hard_because``)."""
    return [{"task": t.name, "env_id": env_id(t), "scenario": t.scenario, "description": t.description,
             "level": t.level, "hard_because": t.hard_because} for t in tasks]
