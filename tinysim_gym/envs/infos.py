"""The batched env's ``info``: the single env's keys for every row, written by one compiled pass.

:class:`~tinysim_gym.envs.env.TinySimEnv` builds its ``info`` from the kernel's result arrays; the batched
:class:`~tinysim_gym.envs.vector_env.TinySimVectorEnv` writes the same figures for every row into a few blocks
(:class:`Figures`) with one compiled pass after the step and its autoreset (:func:`rows_into`; not a Python
loop per row). Writing them inside the step kernel instead, row by row while the row is stepped, measured
no faster. The blocks are packed as Gymnasium's vector envs pack infos (one array per key, a
``_key`` mask beside it, nested dicts recursively), so that ``gym.make_vec`` gives the same infos in its
``vector_entry_point``, ``sync`` and ``async`` modes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysim_gym.core import kernels as K
from tinysim_gym.core.jit import njit
from tinysim_gym.envs.kernels import W_DROP0, W_INF0

#: the rows of :class:`Figures`' float block and int block, in order
FLOAT_KEYS = ("accuracy", "drop_penalty", "time_ms", "soc", "weighted_accuracy")
INT_KEYS = ("queue", "inferences", "dropped", "skipped", "arrivals")


@njit(cache=True)
def rows_into(rows, ST, FS, PF, WK, actions, timebase_ms, drop_penalty, charge, static, cheapest, FB, IB, mask):
    """The info figures of ``rows``: their columns of ``FB`` (floats) and ``IB`` (ints), their rows of ``mask``.

    One flat loop: the same body as a helper function (inlined or not) ran three times slower, and a
    separate pass over the rows after the step costs about a tenth of the batched step. Every state figure
    is read before the first write (the compiler cannot know the blocks never overlap the state).
    """
    for i in rows:
        k = actions[i]
        drop = ST[i, K.S_DROP_OVF] + ST[i, K.S_DROP_AFTER]
        skipped = ST[i, K.S_SKIPPED]
        inf = ST[i, K.S_INF]
        credited = inf - ST[i, K.S_MISSES] - WK[i, W_INF0]
        new_drops = drop + skipped - WK[i, W_DROP0]  # a skip is a lost sample, as in the reward
        acc_k = PF[i, K.F_ACC + k]
        if ST[i, K.S_PHASE] == K.P_DECIDE:
            tick = ST[i, K.S_T]
        else:
            tick = ST[i, K.S_END] if ST[i, K.S_END] >= 0 else ST[i, K.S_FREE]
        rem = FS[i, K.G_R]
        cap = PF[i, K.F_CAP]
        acc_sum = FS[i, K.G_ACC_SUM]
        queue = ST[i, K.S_Q]
        arrivals = ST[i, K.S_ARR]
        served = inf + drop + skipped
        FB[0, i] = credited * (acc_k / 100.0)
        FB[1, i] = -(drop_penalty * new_drops) if new_drops != 0 and drop_penalty != 0.0 else 0.0
        FB[2, i] = tick * timebase_ms
        FB[3, i] = min(max(rem / cap, 0.0), 1.0)
        FB[4, i] = acc_sum / served if served != 0 else 0.0
        IB[0, i] = queue
        IB[1, i] = inf
        IB[2, i] = drop
        IB[3, i] = skipped
        IB[4, i] = arrivals
        any_allowed = False
        for j in range(charge.shape[1]):
            ok = not static[i, j] and not charge[i, j] > rem
            mask[i, j] = 1 if ok else 0
            any_allowed |= ok
        if not any_allowed:
            mask[i, cheapest[i]] = 1


class Figures:
    """Every row's info figures as fresh arrays: a float block, an int block and the action mask.

    Each step gets new blocks (a user may keep an info), and the info's arrays are their rows.

    Args:
        n: rows (sub-envs).
        n_actions: columns of the action mask.
    """

    def __init__(self, n: int, n_actions: int) -> None:
        self.F = np.empty((len(FLOAT_KEYS), n))
        self.I = np.empty((len(INT_KEYS), n), dtype=np.int64)
        self.mask = np.empty((n, n_actions), dtype=np.int8)

    def as_dict(self) -> dict[str, Any]:
        """The single env's keys (``rewards`` a dict of two arrays), one array per key."""
        fb, ib = self.F, self.I
        return info_dict(fb[0], fb[1], fb[2], fb[3], ib[0], ib[1], ib[2], ib[3], ib[4], fb[4], self.mask)


Figure = float | int | np.ndarray


def info_dict(accuracy: Figure, drop_penalty: Figure, time_ms: Figure, soc: Figure, queue: Figure, inferences: Figure,
              dropped: Figure, skipped: Figure, arrivals: Figure, weighted_accuracy: Figure,
              action_mask: np.ndarray) -> dict[str, Any]:
    """The info's keys in order, for one env (figures) or a batch (one array per key); see the env's docstring."""
    return {
        "rewards": {"accuracy": accuracy, "drop_penalty": drop_penalty},
        "time_ms": time_ms,
        "soc": soc,
        "queue": queue,
        "inferences": inferences,
        "dropped": dropped,
        "skipped": skipped,
        "arrivals": arrivals,
        "weighted_accuracy": weighted_accuracy,
        "action_mask": action_mask,
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
