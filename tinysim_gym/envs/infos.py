"""The batched env's ``info``: the single env's keys for every row, read from the state matrices at once.

:class:`~tinysim_gym.envs.env.TinySimEnv` builds its ``info`` from the kernel's result tuple; the batched
:class:`~tinysim_gym.envs.vector_env.TinySimVectorEnv` reads the same figures from its rows with a few numpy
compiled pass per step (not a Python loop per row), packed as Gymnasium's vector envs pack them (one array per
key, a ``_key`` mask beside it, nested dicts recursively), so that ``gym.make_vec`` gives the same infos in
its ``vector_entry_point``, ``sync`` and ``async`` modes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from tinysim_gym.core import kernels as K
from tinysim_gym.envs.kernels import W_DROP0, W_INF0


@njit(cache=True)
def _figures(ST, FS, PF, WK, actions, timebase_ms, drop_penalty, charge, static, cheapest):
    """One pass over the rows (a column at a time through numpy is several times slower on these strided rows)."""
    n, nm = ST.shape[0], charge.shape[1]
    accuracy, penalty = np.empty(n), np.empty(n)
    time_ms, soc, wacc = np.empty(n), np.empty(n), np.empty(n)
    queue, inferences = np.empty(n, np.int64), np.empty(n, np.int64)
    dropped, arrivals = np.empty(n, np.int64), np.empty(n, np.int64)
    skipped = np.empty(n, np.int64)
    mask = np.empty((n, nm), np.int8)
    for i in range(n):
        drop = ST[i, K.S_DROP_OVF] + ST[i, K.S_DROP_AFTER]
        skipped[i] = ST[i, K.S_SKIPPED]
        credited = ST[i, K.S_INF] - ST[i, K.S_MISSES] - WK[i, W_INF0]
        new_drops = drop + skipped[i] - WK[i, W_DROP0]  # a skip is a lost sample, as in the reward
        accuracy[i] = credited * (PF[i, K.F_ACC + actions[i]] / 100.0)
        penalty[i] = -(drop_penalty * new_drops) if new_drops != 0 and drop_penalty != 0.0 else 0.0
        if ST[i, K.S_PHASE] == K.P_DECIDE:
            tick = ST[i, K.S_T]
        else:
            tick = ST[i, K.S_END] if ST[i, K.S_END] >= 0 else ST[i, K.S_FREE]
        time_ms[i] = tick * timebase_ms
        rem = FS[i, K.G_R]
        soc[i] = min(max(rem / PF[i, K.F_CAP], 0.0), 1.0)
        queue[i] = ST[i, K.S_Q]
        inferences[i] = ST[i, K.S_INF]
        dropped[i] = drop
        arrivals[i] = ST[i, K.S_ARR]
        served = ST[i, K.S_INF] + drop + skipped[i]
        wacc[i] = FS[i, K.G_ACC_SUM] / served if served != 0 else 0.0
        any_allowed = False
        for k in range(nm):
            ok = not static[i, k] and not charge[i, k] > rem
            mask[i, k] = 1 if ok else 0
            any_allowed |= ok
        if not any_allowed:
            mask[i, cheapest[i]] = 1
    return accuracy, penalty, time_ms, soc, queue, inferences, dropped, skipped, arrivals, wacc, mask


def row_figures(
    ST: np.ndarray,
    FS: np.ndarray,
    PF: np.ndarray,
    WK: np.ndarray,
    actions: np.ndarray,
    timebase_ms: float,
    drop_penalty: float,
    charge: np.ndarray,
    static: np.ndarray,
    cheapest: np.ndarray,
) -> dict[str, Any]:
    """Every row's info figures after a step (or a reset), as arrays (``rewards`` a dict of two arrays).

    The step's reward components come from the work row's counters at the start of the step (a reset sets
    them to the current counts, so a row reset in this step shows zero rewards, as a single env's reset
    does); the action mask is the batched env's ``action_masks()`` as int8.

    Args:
        ST: the int state matrix (one row per sub-env).
        FS: the float state matrix.
        PF: the float parameter matrix.
        WK: the work matrix (the step's starting counters).
        actions: the model each row served in this step (any valid index for rows that were reset).
        timebase_ms: milliseconds per tick.
        drop_penalty: the env's ``drop_penalty``.
        charge: ``(rows, n_models)`` charge of one inference.
        static: ``(rows, n_models)`` models masked whatever the charge.
        cheapest: per row, the model left allowed when the charge covers none.
    """
    acc, pen, time_ms, soc, queue, inf, dropped, skipped, arrivals, wacc, mask = _figures(
        ST, FS, PF, WK, actions, float(timebase_ms), float(drop_penalty), charge, static, cheapest
    )
    return {
        "rewards": {"accuracy": acc, "drop_penalty": pen},
        "time_ms": time_ms,
        "soc": soc,
        "queue": queue,
        "inferences": inf,
        "dropped": dropped,
        "skipped": skipped,
        "arrivals": arrivals,
        "weighted_accuracy": wacc,
        "action_mask": mask,
    }


def packed(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures as a Gymnasium vector info: each key with an all-True ``_key`` mask (nested dicts too)."""
    out: dict[str, Any] = {}
    true = None
    for key, value in figures.items():
        out[key] = packed(value) if isinstance(value, dict) else value
        n = len(next(iter(value.values()))) if isinstance(value, dict) else len(value)
        if true is None or len(true) != n:
            true = np.ones(n, dtype=bool)
        out[f"_{key}"] = true.copy()  # a copy costs a third of np.ones; each key keeps its own array
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
