"""``tinysim suite train``: one training cell per task and seed, and finding the trained agents again.

Cells run through :func:`~tinysim_gym.experiments.sweep.training.run_training_cells` (local processes or one
Ray task per cell) under one parent directory, so ``tensorboard --logdir <parent>`` shows every curve. Cell
``<task>_s<k>`` trains seed ``k`` on the task's scenario with the task's env settings (``env_kwargs``) and its
training overrides over the algorithm's hyperparameter file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tinysim_gym.config.suite import SuiteTaskConfig
from tinysim_gym.experiments.suite.leaderboard import AgentEntry
from tinysim_gym.experiments.sweep.training import run_training_cells

#: the safe-format description of a run's best model (what the leaderboard loads)
BEST_MODEL = "best_model.agent.json"


def cell_name(task: str, seed: int) -> str:
    """The run directory of one cell under the parent: ``<task>_s<seed>``."""
    return f"{task}_s{seed}"


def train_cells(tasks: Sequence[SuiteTaskConfig], algo: str, seeds: Sequence[int],
                timesteps: int | None = None) -> list[dict[str, Any]]:
    """The keyword arguments of ``agents.train`` for every task x seed (named by :func:`cell_name`)."""
    cells = []
    for t in tasks:
        overrides = {**t.train, "env_kwargs": dict(t.env)}
        if timesteps is not None:
            overrides["n_timesteps"] = int(timesteps)
        cells += [{"name": cell_name(t.name, s), "algo": algo, "scenario": t.scenario, "seed": int(s),
                   "overrides": overrides} for s in seeds]
    return cells


def train_suite(tasks: Sequence[SuiteTaskConfig], algo: str = "ppo", seeds: Sequence[int] = (0, 1, 2),
                parent: str | Path = "runs/suite", backend: str = "local", processes: int | None = None,
                timesteps: int | None = None, train: str | Callable[..., Any] = "agents:train") -> list[dict[str, Any]]:
    """Train every task x seed; one dict per cell (``name``, ``run_dir``, ``result``, ``error``, ``seconds``)."""
    return run_training_cells(train_cells(tasks, algo, seeds, timesteps), backend=backend, parent=parent,
                              train=train, processes=processes)


def find_agents(parent: str | Path, tasks: Sequence[SuiteTaskConfig], algo: str = "ppo") -> dict[str, list[AgentEntry]]:
    """The agents ``train_suite`` left under ``parent``: per task one entry ``agent:<algo>``, a model per seed."""
    root = Path(parent)
    out: dict[str, list[AgentEntry]] = {}
    for t in tasks:
        refs = []
        for cell in sorted(root.glob(f"{t.name}_s*")):
            found = sorted(cell.glob(f"*/{algo}_*/{BEST_MODEL}"))
            if found:
                refs.append(str(found[-1]))
        if refs:
            out[t.name] = [AgentEntry(f"agent:{algo}", tuple(refs))]
    return out
