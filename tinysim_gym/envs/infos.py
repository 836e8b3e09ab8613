"""The batched env's ``info``: the single env's keys for every row, read from the state matrices at once.

:class:`~tinysim_gym.envs.env.TinySimEnv` builds its ``info`` from the kernel's result tuple; the batched
:class:`~tinysim_gym.envs.vector_env.TinySimVectorEnv` reads the same figures from its rows with a few numpy
operations per step (not a Python loop per row), packed as Gymnasium's vector envs pack them (one array per
key, a ``_key`` mask beside it, nested dicts recursively), so that ``gym.make_vec`` gives the same infos in
its ``vector_entry_point``, ``sync`` and ``async`` modes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysim_gym.core import kernels as K
from tinysim_gym.envs.kernels import W_DROP0, W_INF0


def row_figures(
    ST: np.ndarray,
    FS: np.ndarray,
    PF: np.ndarray,
    WK: np.ndarray,
    actions: np.ndarray,
    timebase_ms: float,
    drop_penalty: float,
    action_mask: np.ndarray,
) -> dict[str, Any]:
    """Every row's info figures after a step (or a reset), as arrays (``rewards`` a dict of two arrays).

    The step's reward components come from the work row's counters at the start of the step (a reset sets
    them to the current counts, so a row reset in this step shows zero rewards, as a single env's reset
    does).

    Args:
        ST: the int state matrix (one row per sub-env).
        FS: the float state matrix.
        PF: the float parameter matrix.
        WK: the work matrix (the step's starting counters).
        actions: the model each row served in this step (any valid index for rows that were reset).
        timebase_ms: milliseconds per tick.
        drop_penalty: the env's ``drop_penalty``.
        action_mask: ``(rows, n_models)`` bool, the models each row can run now.
    """
    rows = np.arange(ST.shape[0])
    dropped = ST[:, K.S_DROP_OVF] + ST[:, K.S_DROP_AFTER]
    credited = ST[:, K.S_INF] - ST[:, K.S_MISSES] - WK[:, W_INF0]
    drops = dropped - WK[:, W_DROP0]
    accuracy = credited * (PF[rows, K.F_ACC + actions] / 100.0)
    if drop_penalty:
        penalty = np.where(drops != 0, -(drop_penalty * drops), 0.0)
    else:
        penalty = np.zeros(len(rows))
    end = ST[:, K.S_END]
    tick = np.where(ST[:, K.S_PHASE] == K.P_DECIDE, ST[:, K.S_T], np.where(end >= 0, end, ST[:, K.S_FREE]))
    inferences = ST[:, K.S_INF]
    served = inferences + dropped
    acc_sum = FS[:, K.G_ACC_SUM]
    wacc = np.divide(acc_sum, served, out=np.zeros(len(rows)), where=served != 0)
    return {
        "rewards": {"accuracy": accuracy, "drop_penalty": penalty},
        "time_ms": tick * timebase_ms,
        "soc": np.clip(FS[:, K.G_R] / PF[:, K.F_CAP], 0.0, 1.0),
        "queue": ST[:, K.S_Q].copy(),
        "inferences": inferences.copy(),
        "dropped": dropped,
        "arrivals": ST[:, K.S_ARR].copy(),
        "weighted_accuracy": wacc,
        "action_mask": action_mask.view(np.int8),
    }


def packed(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures as a Gymnasium vector info: each key with an all-True ``_key`` mask (nested dicts too)."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        out[key] = packed(value) if isinstance(value, dict) else value
        n = len(next(iter(value.values()))) if isinstance(value, dict) else len(value)
        out[f"_{key}"] = np.ones(n, dtype=bool)
    return out


def row_info(figures: dict[str, Any], i: int) -> dict[str, Any]:
    """Row ``i`` of the figures as a single env's info (numpy scalars; the mask as an int8 array)."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out[key] = row_info(value, i)
        else:
            out[key] = value[i].copy() if value.ndim > 1 else value[i]
    return out
