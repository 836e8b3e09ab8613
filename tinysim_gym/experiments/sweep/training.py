"""Training cells: several training jobs in parallel (local processes or Ray), one run directory each.

Each job runs in its own run directory under one parent, so TensorBoard shows the runs side by side. The
training function is named by a ``"module:function"`` string (or given as a picklable callable): this
room never imports the packages that train.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tinysim_gym.atomic import safe_file_name
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.pool import LocalPool, Pool, RayPool, check_backend
from tinysim_gym.experiments.refs import load_ref

__all__ = ["run_training_cells"]


def _resolve_callable(ref: str | Callable[..., Any]) -> Callable[..., Any]:
    fn = load_ref(ref, "train")
    if not callable(fn):
        raise TinySimError(f"train: {ref!r} is not callable")
    return fn


def _train_job(job: tuple[Any, dict[str, Any], str, str, str, int]) -> dict[str, Any]:
    """One training cell in a worker: ``train(**kwargs, <log_dir_arg>=run_dir)`` with ``threads`` torch threads."""
    train_ref, kwargs, log_dir_arg, run_dir, name, threads = job
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # read by torch when it is first imported
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    t0 = time.perf_counter()
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    try:
        result = _resolve_callable(train_ref)(**kwargs, **{log_dir_arg: run_dir})
        error = None
    except TinySimError as exc:
        result, error = None, str(exc)
    return {"name": name, "run_dir": run_dir, "result": result, "error": error,
            "seconds": round(time.perf_counter() - t0, 3)}


def _cell_name(cell: Mapping[str, Any], i: int) -> str:
    """The run directory's name: one safe path component, so that no cell writes outside ``parent``."""
    if "name" in cell:
        return safe_file_name(str(cell["name"]), f"cell{i}")
    parts = [str(cell[k]) for k in ("algo", "scenario") if k in cell]
    if "seed" in cell:
        parts.append(f"s{cell['seed']}")
    name = "_".join(parts) or f"cell{i}"
    return safe_file_name(re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).name), f"cell{i}")


def run_training_cells(
    cells: Sequence[Mapping[str, Any]],
    backend: str = "local",
    parent: str | os.PathLike[str] = "runs/sweep",
    train: str | Callable[..., Any] = "agents:train",
    log_dir_arg: str = "log_dir",
    processes: int | None = None,
    address: str | None = None,
    threads: int = 1,
) -> list[dict[str, Any]]:
    """Train several agents in parallel, each in its own run directory under ``parent`` (TensorBoard: one curve each).

    Each cell is a mapping of keyword arguments for ``train``; its optional ``name`` key names the run
    directory (default ``<algo>_<scenario>_s<seed>`` from those keys). Every job calls
    ``train(**cell_without_name, <log_dir_arg>=parent/<name>)`` in its own process (local: a ``spawn``
    pool of ``processes``; Ray: one task per cell with one CPU each) with ``threads`` torch threads, so
    ``tensorboard --logdir parent`` shows the runs side by side.

    Example (three seeds of PPO on Ray)::

        run_training_cells([{"algo": "ppo", "scenario": "usps-l476-async-horizon", "seed": s,
                             "timesteps": 200_000} for s in range(3)],
                           backend="ray", parent="runs/ppo-seeds")

    Args:
        cells: keyword arguments per training job (must be picklable).
        backend: ``local`` or ``ray``.
        parent: the directory holding one run directory per cell.
        train: the training function, as a callable or ``"module:function"`` (imported in the worker).
        log_dir_arg: the keyword through which ``train`` receives its run directory.
        processes: local processes / CPUs of a local Ray instance (default: all CPUs).
        address: a running Ray cluster (with ``backend="ray"``).
        threads: torch threads per job.

    Returns:
        One dict per cell, in cell order: ``name``, ``run_dir``, ``result`` (what ``train`` returned),
        ``error`` (the one-line message of a :class:`TinySimError`, else ``None``) and ``seconds``.
    """
    check_backend(backend, processes, address)
    _resolve_callable(train)  # fail here, not in every worker
    if not cells:
        return []
    names = [_cell_name(c, i) for i, c in enumerate(cells)]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise TinySimError(f"training cells: two cells share the run name {dup!r}; give each a distinct name")
    root = Path(parent).resolve()
    jobs = [(train, {k: v for k, v in c.items() if k != "name"}, log_dir_arg, str(root / n), n, threads)
            for c, n in zip(cells, names, strict=True)]
    pool: Pool = LocalPool(processes, start_method="spawn") if backend == "local" else RayPool(address, processes)
    try:
        by_name = {r["name"]: r for r in pool.imap(_train_job, jobs)}
    finally:
        pool.close()
    return [by_name[n] for n in names]
