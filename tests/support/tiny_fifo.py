"""Shared pieces of the exact references on tiny deadline traces: the drop-tail buffer and one offline solve."""

from __future__ import annotations

import numpy as np

from tinysim_gym.optimal.hindsight import _offline
from tinysim_gym.optimal.offline_fifo import OK, offline_fifo


def drop_tail(size: int, buf: tuple[int, ...], ticks: list[int]) -> tuple[int, ...]:
    """``buf`` (arrival ticks, oldest first) after ``ticks`` arrive in order; a full buffer drops them."""
    for tk in ticks:
        if len(buf) < size:
            buf = (*buf, tk)
    return buf


def offline_value(arr: np.ndarray, H: int, B: int, L: np.ndarray, acc: np.ndarray, D: int,
                  pen: tuple[np.ndarray, np.ndarray, np.ndarray], relaxed: bool) -> float:
    """The (penalised) offline optimum of a trace with free charge: exact FIFO, or the occupancy DP (``relaxed``)."""
    zeros = np.zeros(len(L))
    if relaxed:
        v, _ = _offline(arr, H, B, L, acc, zeros, 0.0, D, 0.0, False, *pen)
        return float(v)
    v, _, _, st = offline_fifo(arr, H, B, L, acc, zeros, 0.0, D, 0.0, False, 1, 100_000, *pen)
    assert st == OK
    return float(v)
