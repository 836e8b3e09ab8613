"""The original's sync mode (``KIND_LUMP``): one decision charges a whole sampling period at once.

Seed-compatible sync runs reproduce the original TinySimulator exactly: each arrival tick is charged the
chosen model's inference current for its latency (rounded up to ticks) plus the idle current for
``min_interval * timebase`` ms, while a single tick of time passes; the sample counts as served even when
that charge empties the battery (the device then stops at the next tick).
"""

from __future__ import annotations

from tinysim_gym.core.jit import njit
from tinysim_gym.core.layout import (
    END_DEPLETED,
    F_ACC,
    F_LUMP_IDLE,
    G_ACC_SUM,
    G_DRAWN_IDLE,
    G_DRAWN_INF,
    G_R,
    I_N,
    P_RUN,
    S_BUSY,
    S_COUNTS,
    S_END,
    S_FREE,
    S_INF,
    S_LAST_T,
    S_PHASE,
    S_REASON,
    S_T,
)


@njit(cache=True, inline="always")
def apply_lump(ST, FS, PI, PF, k):
    """Serve the pending sync sample with (the memory-resolved) model ``k`` in the original's arithmetic."""
    n = PI[I_N]
    t = ST[S_T]
    last = FS[G_R] <= 0.0
    d_inf = PF[F_ACC + 2 * n + k]
    FS[G_R] = FS[G_R] - d_inf
    FS[G_R] = FS[G_R] - PF[F_LUMP_IDLE]
    FS[G_DRAWN_INF] += d_inf
    FS[G_DRAWN_IDLE] += PF[F_LUMP_IDLE]
    ST[S_BUSY] += 1
    ST[S_INF] += 1
    ST[S_COUNTS + k] += 1
    FS[G_ACC_SUM] += PF[F_ACC + k]
    ST[S_FREE] = t + 1
    ST[S_LAST_T] = t
    if last:
        ST[S_END] = t + 1
        ST[S_REASON] = END_DEPLETED
    ST[S_PHASE] = P_RUN
