"""The layout of the kernels' flat arrays: parameters (``PI`` ints, ``PF`` floats), state (``ST``, ``FS``).

One engine episode is four arrays: fixed parameters apart from changing state. The names here index them;
:mod:`tinysim_gym.core.kernels` moves the state, the engine builds the parameters and reads the metrics.
"""

from __future__ import annotations

from tinysim_gym.core.supercap import X_SIZE

# ---- status codes returned by the kernels
NEED_ARRIVALS = 0
DECISION = 1
DONE = 2
NEED_MORE = 3  # a selector's compiled loop ran out of its own pre-drawn data (see Engine.run)

# ---- machines
KIND_LUMP = 0
KIND_QUEUE = 1

# ---- phases
P_RUN = 0
P_DECIDE = 1
P_FLUSH = 2
P_DONE = 3

# ---- end reasons
END_NONE = 0
END_DEPLETED = 1
END_HORIZON = 2
END_WORKLOAD = 3  # a finite workload (a trace) has no more samples

END_OF_ARRIVALS = 1 << 62  # arrival tick used after the last sample of a finite workload


# ---- int parameters (PI)
I_KIND = 0
I_SEED = 1
I_BUF = 2
I_H = 3
I_PERIOD = 4
I_N = 5
I_DEADLINE = 6  # per-sample deadline in ticks (-1: none)
I_HOFF = 7  # offset of the harvest block in PF (0: no harvester)
I_SKIP = 8  # ticks a skip keeps the chip busy (the selector's latency), or -1: the scenario has no skip
I_SVC = 9  # service ticks of each model start here, then the model that runs when each is chosen (memory
# policy "mask": a model that does not fit is served by the most accurate one that does)

# ---- float parameters (PF)
F_D_IDLE = 0
F_LUMP_IDLE = 1
F_MIN_DINF = 2
F_R0 = 3
F_CAP = 4
F_TB = 5  # timebase in ms
F_STORE = 6  # default mode: the storage model (STORE_*)
F_STORE_OFF = 7  # offset of its parameter block in PF (kinetic battery: [c, k per tick]; supercap: core.supercap)
F_D_SKIP = 8  # per-tick charge of a skip (the selector runs at the board's inference current)
F_ACC = 9  # accuracy of each model, then per-tick inference charge, then the seed-sync lump charge;
# then, when I_HOFF > 0, the harvest block: [kind, ...] (see harvest_between); then the storage block

# ---- storage models (PF[F_STORE]); a Peukert battery is a linear one with scaled per-tick charges
STORE_LINEAR = 0
STORE_KIBAM = 1
STORE_SUPERCAP = 2

# ---- int state (ST)
S_T = 0  # tick of the pending decision
S_FREE = 1  # first tick not yet charged / tick the chip becomes free
S_Q = 2
S_DROP_OVF = 3
S_INF = 4
S_ARR = 5
S_END = 6  # first tick that did not run (-1 while alive)
S_PHASE = 7
S_AI = 8
S_AN = 9
S_BUSY = 10
S_IDLE = 11
S_LAST_ACTION = 12
S_REASON = 13
S_FROM_BUF = 14
S_LAST_T = 15
S_DROP_AFTER = 16
S_DECISIONS = 17
S_QHEAD = 18  # ring buffer of the arrival ticks of buffered samples (FIFO): head index
S_MISSES = 19  # samples served after their deadline
S_DEC_ARR = 20  # arrival tick of the sample being decided on
S_DROP_OFF = 21  # supercap: samples lost while the device was off or booting (also counted in S_DROP_AFTER)
S_BROWNOUTS = 22  # supercap: times the device turned off
S_OFF = 23  # supercap: 0 on, 1 off (from S_END on), 2 booting (on from S_END)
S_SKIPPED = 24  # samples discarded by the skip action (not in S_DROP_*)
S_COUNTS = 25  # per-model inference counts, then per-model deadline misses, then the ring buffer (I_BUF)

# ---- float state (FS)
G_R = 0
G_ACC_SUM = 1
G_DRAWN_INF = 2
G_DRAWN_IDLE = 3
G_HARVESTED = 4  # charge harvested into the battery (after the capacity cap)
G_SPILLED = 5  # harvested charge lost because the battery was full
G_COMP = 6  # default mode: Kahan compensation of the remaining charge (no drift over millions of runs)
G_DELTA = 7  # kinetic battery: height difference h2 - h1 of its wells (mAh; see core.kibam)
G_SUPERCAP = 8  # supercap: its state from here on (voltage, energy flows, off and boot time: core.supercap X_*);
# G_R then holds the charge the board could still draw before it browns out


def state_sizes(n_models: int, buffer_size: int = 0) -> tuple[int, int]:
    """Lengths of the int and float state arrays for ``n_models`` models and a buffer of ``buffer_size``."""
    return S_COUNTS + 2 * n_models + buffer_size, G_SUPERCAP + X_SIZE
