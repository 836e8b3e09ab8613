"""The event-driven core as numba kernels over flat state arrays (no gymnasium, no printing).

Time is counted in integer ticks of ``timebase`` ms, but nothing here walks ticks: each kernel call jumps
from event to event (an arrival, the chip becoming free, a decision, depletion, the horizon), charging
whole runs of identical ticks at once (:mod:`tinysim_gym.core.discharge`). Cost grows with arrivals and
decisions only.

Two machines share the arrays:

* ``KIND_QUEUE``: a single server with a buffer. A sample is served when it arrives on a free tick, or
  taken from the buffer when the chip becomes free; samples arriving while the chip is busy wait in the
  buffer or, when it is full, are dropped. Used for async workloads in both modes and for sync workloads
  in the default mode.
* ``KIND_LUMP``: the original's sync mode, reproduced exactly for seed-compatible runs: each arrival tick
  is charged the inference current for the model's latency (rounded up to ticks) plus idle current for
  ``min_interval * timebase`` ms, while a single tick of time passes.

The public Python face of these kernels is :class:`tinysim_gym.core.engine.Engine`.
"""

from __future__ import annotations

import numpy as np

from tinysim_gym.core.battery import battery_run
from tinysim_gym.core.brownout import supercap_run
from tinysim_gym.core.discharge import seed_run
from tinysim_gym.core.harvest import harvest_between as harvest_between
from tinysim_gym.core.jit import njit
from tinysim_gym.core.layout import (
    DECISION,
    DONE,
    END_DEPLETED,
    END_HORIZON,
    END_OF_ARRIVALS,
    END_WORKLOAD,
    F_ACC,
    F_D_IDLE,
    F_D_SKIP,
    F_MIN_DINF,
    F_STORE,
    G_ACC_SUM,
    G_DRAWN_IDLE,
    G_DRAWN_INF,
    G_R,
    I_BUF,
    I_DEADLINE,
    I_H,
    I_KIND,
    I_N,
    I_PERIOD,
    I_SEED,
    I_SKIP,
    I_SVC,
    KIND_LUMP,
    NEED_ARRIVALS,
    P_DECIDE,
    P_DONE,
    P_FLUSH,
    P_RUN,
    S_AI,
    S_AN,
    S_ARR,
    S_BROWNOUTS,
    S_BUSY,
    S_COUNTS,
    S_DEC_ARR,
    S_DECISIONS,
    S_DROP_AFTER,
    S_DROP_OVF,
    S_END,
    S_FREE,
    S_FROM_BUF,
    S_IDLE,
    S_INF,
    S_LAST_ACTION,
    S_LAST_T,
    S_MISSES,
    S_PHASE,
    S_Q,
    S_QHEAD,
    S_REASON,
    S_SKIPPED,
    S_T,
    STORE_SUPERCAP,
    state_sizes,
)
from tinysim_gym.core.layout import (  # the layout, for the kernels' callers
    END_NONE as END_NONE,
)
from tinysim_gym.core.layout import (
    F_CAP as F_CAP,
)
from tinysim_gym.core.layout import (
    F_LUMP_IDLE as F_LUMP_IDLE,
)
from tinysim_gym.core.layout import (
    F_R0 as F_R0,
)
from tinysim_gym.core.layout import (
    F_STORE_OFF as F_STORE_OFF,
)
from tinysim_gym.core.layout import (
    F_TB as F_TB,
)
from tinysim_gym.core.layout import (
    G_COMP as G_COMP,
)
from tinysim_gym.core.layout import (
    G_DELTA as G_DELTA,
)
from tinysim_gym.core.layout import (
    G_HARVESTED as G_HARVESTED,
)
from tinysim_gym.core.layout import (
    G_SPILLED as G_SPILLED,
)
from tinysim_gym.core.layout import (
    G_SUPERCAP as G_SUPERCAP,
)
from tinysim_gym.core.layout import (
    I_HOFF as I_HOFF,
)
from tinysim_gym.core.layout import (
    KIND_QUEUE as KIND_QUEUE,
)
from tinysim_gym.core.layout import (
    NEED_MORE as NEED_MORE,
)
from tinysim_gym.core.layout import (
    S_DROP_OFF as S_DROP_OFF,
)
from tinysim_gym.core.layout import (
    S_OFF as S_OFF,
)
from tinysim_gym.core.layout import (
    STORE_KIBAM as STORE_KIBAM,
)
from tinysim_gym.core.layout import (
    STORE_LINEAR as STORE_LINEAR,
)
from tinysim_gym.core.lump import apply_lump
from tinysim_gym.core.off_events import device_off
from tinysim_gym.core.restart import restarts


@njit(cache=True, inline="always")
def _charge(ST, FS, PI, PF, d, k, t0, busy):
    """Charge ``k`` ticks of ``d`` from tick ``t0``; record depletion in ``ST[S_END]``. Returns ticks run.

    A battery's run is :func:`tinysim_gym.core.battery.battery_run` (a harvester's charge spread evenly
    over the run; a kinetic battery dies when its available well empties); a supercapacitor browns out
    below v_off.
    """
    if k <= 0:
        return 0
    if PF[F_STORE] == STORE_SUPERCAP:
        j = supercap_run(FS, PI, PF, d, k, t0)
        ticks = k if j < 0 else j
        if j >= 0:
            ST[S_END] = t0 + j
        r = FS[G_R]
    elif PI[I_SEED] == 1:
        r, j = seed_run(FS[G_R], d, k)
        ticks = k if j < 0 else j + 1
        if j >= 0:
            ST[S_END] = t0 + j + 1
    else:
        j = battery_run(FS, PI, PF, d, k, t0)
        ticks = k if j < 0 else j
        if j >= 0:
            ST[S_END] = t0 + j
        r = FS[G_R]
    FS[G_R] = r
    if busy:
        ST[S_BUSY] += ticks
        FS[G_DRAWN_INF] += ticks * d
    else:
        ST[S_IDLE] += ticks
        FS[G_DRAWN_IDLE] += ticks * d
    if j >= 0:
        ST[S_REASON] = END_DEPLETED
    return ticks


@njit(cache=True, aot="i8[] f8[] i8[] f8[] i8[] -> i8")
def advance(ST, FS, PI, PF, arr):
    """Run events until the next decision, the end of the episode, or the end of the arrival buffer.

    Returns:
        ``DECISION`` (a sample waits and the chip is free: call :func:`apply`), ``DONE``, or
        ``NEED_ARRIVALS`` (refill ``arr`` from ``ST[S_AI]`` on and call again).
    """
    H = PI[I_H]
    while True:
        ph = ST[S_PHASE]
        if ph == P_DECIDE:
            return DECISION
        if ph == P_DONE:
            return DONE
        if ph == P_FLUSH:
            if H < 0:
                ST[S_PHASE] = P_DONE
                continue
            if PI[I_KIND] == KIND_LUMP:
                period = PI[I_PERIOD]
                n = (H - 1) // period - (ST[S_END] - 1) // period
                if n > 0:
                    ST[S_ARR] += n
                    ST[S_DROP_AFTER] += n
            else:
                while True:
                    if ST[S_AI] >= ST[S_AN]:
                        return NEED_ARRIVALS
                    if arr[ST[S_AI]] >= H:
                        break
                    ST[S_AI] += 1
                    ST[S_ARR] += 1
                    ST[S_DROP_AFTER] += 1
            ST[S_DROP_AFTER] += ST[S_Q]
            ST[S_Q] = 0
            ST[S_QHEAD] = 0
            ST[S_PHASE] = P_DONE
            continue
        # ---- P_RUN
        if PI[I_KIND] == KIND_LUMP:
            if ST[S_END] >= 0:
                ST[S_PHASE] = P_FLUSH
                continue
            ta = ST[S_LAST_T] + PI[I_PERIOD]
            hz = H >= 0 and ta >= H
            stop = H if hz else ta
            _charge(ST, FS, PI, PF, PF[F_D_IDLE], stop - ST[S_FREE], ST[S_FREE], False)
            if ST[S_END] >= 0:
                continue
            ST[S_FREE] = stop
            if hz:
                ST[S_END] = H
                ST[S_REASON] = END_HORIZON
                continue
            ST[S_ARR] += 1
            ST[S_T] = ta
            ST[S_PHASE] = P_DECIDE
            continue
        free = ST[S_FREE]
        limit = free if H < 0 else min(free, H)
        if ST[S_END] >= 0:
            limit = min(limit, ST[S_END])
        while True:  # samples arriving while the chip is busy go to the buffer or are dropped
            if ST[S_AI] >= ST[S_AN]:
                return NEED_ARRIVALS
            ta = arr[ST[S_AI]]
            if ta >= limit:
                break
            ST[S_AI] += 1
            ST[S_ARR] += 1
            if ST[S_Q] >= PI[I_BUF]:
                ST[S_DROP_OVF] += 1
            else:
                ring = S_COUNTS + 2 * PI[I_N]
                ST[ring + (ST[S_QHEAD] + ST[S_Q]) % PI[I_BUF]] = ta
                ST[S_Q] += 1
        if ST[S_END] >= 0:  # dead: the arrivals before the end are in, the rest are flushed
            supercap = PF[F_STORE] == STORE_SUPERCAP
            if ST[S_REASON] == END_DEPLETED and H >= 0 and (supercap or (PI[I_HOFF] > 0 and restarts(PF))):
                if device_off(ST, FS, PI, PF, arr) == NEED_ARRIVALS:  # off until recharged (or the horizon)
                    return NEED_ARRIVALS
                continue
            if supercap and ST[S_REASON] == END_DEPLETED:
                ST[S_BROWNOUTS] += 1
            ST[S_PHASE] = P_FLUSH
            continue
        if H >= 0 and free >= H:
            ST[S_END] = H
            ST[S_REASON] = END_HORIZON
            continue
        if ta == free or ST[S_Q] > 0:
            if PI[I_SEED] == 0 and FS[G_R] < PF[F_MIN_DINF]:
                ST[S_END] = free  # no model can be powered: dead from this tick on
                ST[S_REASON] = END_DEPLETED
                continue
            if ta == free:
                ST[S_AI] += 1
                ST[S_ARR] += 1
                ST[S_FROM_BUF] = 0
                ST[S_DEC_ARR] = ta
            else:
                ring = S_COUNTS + 2 * PI[I_N]
                ST[S_DEC_ARR] = ST[ring + ST[S_QHEAD]]
                ST[S_QHEAD] = (ST[S_QHEAD] + 1) % PI[I_BUF]
                ST[S_Q] -= 1
                ST[S_FROM_BUF] = 1
            ST[S_T] = free
            ST[S_PHASE] = P_DECIDE
            continue
        if ta >= END_OF_ARRIVALS and H < 0:
            ST[S_END] = free  # a finite workload has ended and nothing waits
            ST[S_REASON] = END_WORKLOAD
            continue
        stop = ta if H < 0 else min(ta, H)
        _charge(ST, FS, PI, PF, PF[F_D_IDLE], stop - free, free, False)
        if ST[S_END] < 0:
            ST[S_FREE] = stop


@njit(cache=True)
def apply(ST, FS, PI, PF, k):
    """Serve the pending sample with model ``k`` (``0 <= k < n``), or skip it (``k == n``), charging its cost.

    In the default mode an inference counts only when the battery powers it to the end (or to the horizon);
    one cut short by depletion is a lost sample (``S_DROP_AFTER``). The original counts every start. A skip
    (only when ``PI[I_SKIP] >= 0``) discards the sample after the selector's ticks at the selector's charge.
    """
    n = PI[I_N]
    t = ST[S_T]
    H = PI[I_H]
    ST[S_DECISIONS] += 1
    if k == n:
        ST[S_LAST_ACTION] = n
        s = PI[I_SKIP]
        _charge(ST, FS, PI, PF, PF[F_D_SKIP], s if H < 0 else min(s, H - t), t, True)
        ST[S_SKIPPED] += 1
        ST[S_FREE] = t + s
        ST[S_LAST_T] = t
        ST[S_PHASE] = P_RUN
        return
    k = PI[I_SVC + n + k]
    ST[S_LAST_ACTION] = k
    if PI[I_KIND] == KIND_LUMP:
        apply_lump(ST, FS, PI, PF, k)
        return
    d = PF[F_ACC + n + k]
    if PI[I_SEED] == 0 and FS[G_R] < d:
        # this model cannot power even its first tick: the sample is not served, the device is dead;
        # it goes back to the head of the buffer (or is dropped when the buffer is full)
        if ST[S_Q] < PI[I_BUF]:
            ring = S_COUNTS + 2 * n
            ST[S_QHEAD] = (ST[S_QHEAD] - 1 + PI[I_BUF]) % PI[I_BUF]
            ST[ring + ST[S_QHEAD]] = ST[S_DEC_ARR]
            ST[S_Q] += 1
        else:
            ST[S_DROP_OVF] += 1
        ST[S_END] = t
        ST[S_REASON] = END_DEPLETED
        ST[S_PHASE] = P_RUN
        return
    L = PI[I_SVC + k]
    run = L if H < 0 else min(L, H - t)
    _charge(ST, FS, PI, PF, d, run, t, True)
    if PI[I_SEED] == 0 and ST[S_END] >= 0:
        ST[S_DROP_AFTER] += 1  # the battery died mid-inference: no result, the sample is lost
    else:
        ST[S_INF] += 1
        ST[S_COUNTS + k] += 1
        if PI[I_DEADLINE] >= 0 and t + L - ST[S_DEC_ARR] > PI[I_DEADLINE]:
            ST[S_MISSES] += 1  # served too late: it counts as a miss, with no accuracy
            ST[S_COUNTS + n + k] += 1
        else:
            FS[G_ACC_SUM] += PF[F_ACC + k]
    ST[S_FREE] = t + L
    ST[S_LAST_T] = t
    ST[S_PHASE] = P_RUN


@njit(cache=True)
def step(ST, FS, PI, PF, arr, k):
    """One decision: serve the pending sample with model ``k`` and advance to the next decision."""
    apply(ST, FS, PI, PF, k)
    return advance(ST, FS, PI, PF, arr)


def empty_state(n_models: int, buffer_size: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fresh int and float state arrays (the float state needs the initial charge set by the caller)."""
    ni, nf = state_sizes(n_models, buffer_size)
    st = np.zeros(ni, dtype=np.int64)
    st[S_END] = -1
    st[S_LAST_ACTION] = -1
    return st, np.zeros(nf, dtype=np.float64)
