"""Register loops: whole episodes with the general kernels' arithmetic and the state in local variables.

:func:`tinysim_gym.core.kernels.advance` and :func:`~tinysim_gym.core.kernels.apply` keep every counter in the
flat state arrays; numba must reload and store them around each access because the arrays may alias. The
loops here keep the state in locals between decisions, take each model from a heuristic's numba decision
function (``pick(tick, remaining_mah, queue, params, mem)``, the form of :mod:`baselines.fast`), and hand
every rare event (a horizon, depletion, the end of a finite workload, a binade edge of the seed-compatible
discharge) to the general kernels for one step, so the rare paths have one implementation.

Each loop leaves ``ST``/``FS`` exactly as the general kernels would at the same return (``NEED_ARRIVALS`` or
``DONE``), floating-point values bit for bit: the default mode repeats the same operations in the same
order; the seed-compatible mode charges a run of ``k`` ticks as ``r - k * s``, where ``s`` is the constant
rounded step of the current binade (:func:`_binade_step`), exactly what ``k`` explicit subtractions give.

The bodies are inline: a heuristic compiles :func:`register_loop` with its own decision function into one
cached entry point (:func:`fixed_model_loop` is the fixed model's). Not covered (the general kernels
run them): harvesters, whose charge is not a run of identical ticks.
"""

from __future__ import annotations

import math

from tinysim_gym.core import kernels as K
from tinysim_gym.core.aot import LOOP_SIGNATURE
from tinysim_gym.core.jit import njit

NO_HORIZON = (1 << 63) - 1  # a horizon no tick reaches: ``min(x, NO_HORIZON) == x`` for every tick

# what the inner loop stopped for
_NEED = 0  # the arrival buffer is used up
_SLOW_ADVANCE = 1  # the general advance takes the next event
_SLOW_APPLY = 2  # the general apply serves the pending sample


@njit(cache=True)
def _binade_low(r: float) -> float:
    """Lower end ``2**e`` of the binade ``[2**e, 2**(e+1))`` that holds ``r`` (inf when ``r`` is not normal)."""
    if not r >= 2.0**-1000 or r == math.inf:
        return math.inf
    _, e = math.frexp(r)
    return math.ldexp(0.5, e)


@njit(cache=True)
def _binade_step(d: float, lo: float) -> float:
    """The rounded step ``fl(x - d) - x`` shared by every ``x`` of the binade at ``lo`` (inf: none is).

    A binade's doubles are the multiples of its ulp ``u``; ``x - d`` rounds to ``x - round(d / u) * u``
    for every such ``x`` whose difference stays in the binade, unless ``d / u`` is a tie (an odd multiple
    of a half), whose rounding depends on the parity of ``x``. ``d / u`` is exact (``u`` is a power of two).
    """
    u = lo * 2.0**-52
    t = d / u
    if not (t >= 0.0 and t < 2.0**40):
        return math.inf
    f = math.floor(t)
    if t - f == 0.5:
        return math.inf
    return math.floor(t + 0.5) * u


@njit(cache=True, inline="always")
def fixed_pick(t, r, q, params, mem):
    """The decision function of a fixed model: ``params[0]`` whatever the state."""
    return int(params[0])


@njit(cache=True, inline="always")
def _settle(ST, FS, PI, PF, arr):
    """The general advance until a loop can take over (a decision pending or a run under way, no end yet).

    Returns:
        ``DECISION`` (take over), else the general kernels' status to return.
    """
    while True:
        ph = ST[K.S_PHASE]
        if ST[K.S_END] < 0 and (ph == K.P_RUN or ph == K.P_DECIDE):
            return K.DECISION
        status = K.advance(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status


@njit(cache=True, inline="always")
def _load(ST, FS):
    """The counters both loops keep in locals, in :func:`_store`'s order (``pending`` first)."""
    return (ST[K.S_PHASE] == K.P_DECIDE, ST[K.S_T], ST[K.S_FREE], ST[K.S_INF], ST[K.S_ARR], ST[K.S_BUSY],
            ST[K.S_IDLE], ST[K.S_LAST_ACTION], ST[K.S_LAST_T], ST[K.S_DECISIONS], FS[K.G_R], FS[K.G_ACC_SUM],
            FS[K.G_DRAWN_INF], FS[K.G_DRAWN_IDLE])


@njit(cache=True, inline="always")
def _store(ST, FS, pending, t, free, inf, narr, busy, idle, last_action, last_t, decisions, r, acc_sum,
           drawn_inf, drawn_idle):
    """Write back what :func:`_load` read."""
    ST[K.S_PHASE] = K.P_DECIDE if pending else K.P_RUN
    ST[K.S_T] = t
    ST[K.S_FREE] = free
    ST[K.S_INF] = inf
    ST[K.S_ARR] = narr
    ST[K.S_BUSY] = busy
    ST[K.S_IDLE] = idle
    ST[K.S_LAST_ACTION] = last_action
    ST[K.S_LAST_T] = last_t
    ST[K.S_DECISIONS] = decisions
    FS[K.G_R] = r
    FS[K.G_ACC_SUM] = acc_sum
    FS[K.G_DRAWN_INF] = drawn_inf
    FS[K.G_DRAWN_IDLE] = drawn_idle


@njit(cache=True, inline="always")
def queue_loop(ST, FS, PI, PF, arr, pick, params, mem, seed):
    """The queue machine, each model from ``pick``; ``seed`` selects the discharge rule.

    ``pick(tick, remaining_mah, queue, params, mem)`` is a heuristic's numba decision function and sees what
    it sees in the general loop at a decision. Inline: the loop is compiled (and cached) with its caller.
    """
    n = PI[K.I_N]
    d_idle = PF[K.F_D_IDLE]
    min_dinf = PF[K.F_MIN_DINF]
    H = PI[K.I_H]
    Heff = H if H >= 0 else NO_HORIZON
    buf = PI[K.I_BUF]
    ring = K.S_COUNTS + 2 * n
    deadline = PI[K.I_DEADLINE]
    while True:
        status = _settle(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status
        (pending, t, free, inf, narr, busy, idle, last_action, last_t, decisions, r, acc_sum, drawn_inf,
         drawn_idle) = _load(ST, FS)
        q = ST[K.S_Q]
        ovf = ST[K.S_DROP_OVF]
        ai = ST[K.S_AI]
        an = ST[K.S_AN]
        from_buf = ST[K.S_FROM_BUF]
        qhead = ST[K.S_QHEAD]
        misses = ST[K.S_MISSES]
        dec_arr = ST[K.S_DEC_ARR]
        comp = FS[K.G_COMP]
        lo = _binade_low(r)
        s_idle = _binade_step(d_idle, lo)
        k_user = -1  # the model whose constants are loaded below (none yet)
        k = L = 0
        d_inf = acc_k = s_inf = 0.0
        action = _NEED
        while True:
            if pending:  # ---- apply
                choice = pick(t, r, q, params, mem)
                if choice != k_user:  # a model's constants stay in registers while it is chosen again
                    k_user = choice
                    k = PI[K.I_SVC + n + k_user]
                    L = PI[K.I_SVC + k]
                    d_inf = PF[K.F_ACC + n + k]
                    acc_k = PF[K.F_ACC + k]
                    s_inf = _binade_step(d_inf, lo)
                run = min(L, Heff - t)
                if seed:
                    r_new = r - run * s_inf
                    if not r_new - d_inf > lo:  # the run may leave the binade (or deplete)
                        action = _SLOW_APPLY
                        break
                    r = r_new
                else:
                    if r < d_inf or run <= 0:
                        action = _SLOW_APPLY
                        break
                    total = run * d_inf
                    if d_inf > 0.0 and total > r:
                        action = _SLOW_APPLY
                        break
                    y = -(run * d_inf) - comp
                    r_new = r + y
                    comp = (r_new - r) - y
                    r = max(r_new, 0.0)
                decisions += 1
                last_action = k
                busy += run
                drawn_inf += run * d_inf
                inf += 1
                ST[K.S_COUNTS + k] += 1
                if deadline >= 0 and t + L - dec_arr > deadline:
                    misses += 1
                    ST[K.S_COUNTS + n + k] += 1
                else:
                    acc_sum += acc_k
                free = t + L
                last_t = t
                pending = False
            # ---- advance: one event of the running machine
            limit = min(free, Heff)
            ta = 0
            while True:  # samples arriving while the chip is busy go to the buffer or are dropped
                if ai >= an:
                    break
                ta = arr[ai]
                if ta >= limit:
                    break
                ai += 1
                narr += 1
                if q >= buf:
                    ovf += 1
                else:
                    ST[ring + (qhead + q) % buf] = ta
                    q += 1
            if ai >= an:
                action = _NEED
                break
            if free >= Heff:
                action = _SLOW_ADVANCE
                break
            if ta == free or q > 0:
                if not seed and r < min_dinf:
                    action = _SLOW_ADVANCE
                    break
                if ta == free:
                    ai += 1
                    narr += 1
                    from_buf = 0
                    dec_arr = ta
                else:
                    dec_arr = ST[ring + qhead]
                    qhead = (qhead + 1) % buf
                    q -= 1
                    from_buf = 1
                t = free
                pending = True
                continue
            if ta >= K.END_OF_ARRIVALS and H < 0:
                action = _SLOW_ADVANCE
                break
            stop = min(ta, Heff)
            kk = stop - free
            if seed:
                r_new = r - kk * s_idle
                if not r_new - d_idle > lo:
                    action = _SLOW_ADVANCE
                    break
                r = r_new
            else:
                if kk <= 0 or (d_idle > 0.0 and kk * d_idle > r):
                    action = _SLOW_ADVANCE
                    break
                y = -(kk * d_idle) - comp
                r_new = r + y
                comp = (r_new - r) - y
                r = max(r_new, 0.0)
            idle += kk
            drawn_idle += kk * d_idle
            free = stop
        _store(ST, FS, pending, t, free, inf, narr, busy, idle, last_action, last_t, decisions, r, acc_sum,
               drawn_inf, drawn_idle)
        ST[K.S_Q] = q
        ST[K.S_DROP_OVF] = ovf
        ST[K.S_AI] = ai
        ST[K.S_FROM_BUF] = from_buf
        ST[K.S_QHEAD] = qhead
        ST[K.S_MISSES] = misses
        ST[K.S_DEC_ARR] = dec_arr
        FS[K.G_COMP] = comp
        if action == _NEED:
            return K.NEED_ARRIVALS
        if action == _SLOW_APPLY:
            K.apply(ST, FS, PI, PF, k_user)
            continue
        status = K.advance(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status


@njit(cache=True, inline="always")
def lump_loop(ST, FS, PI, PF, arr, pick, params, mem):
    """The original's sync machine (seed-compatible only), each model picked by ``pick`` (see :func:`queue_loop`)."""
    n = PI[K.I_N]
    d_idle = PF[K.F_D_IDLE]
    lump_idle = PF[K.F_LUMP_IDLE]
    period = PI[K.I_PERIOD]
    H = PI[K.I_H]
    Heff = H if H >= 0 else NO_HORIZON
    while True:
        status = _settle(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status
        (pending, t, free, inf, narr, busy, idle, last_action, last_t, decisions, r, acc_sum, drawn_inf,
         drawn_idle) = _load(ST, FS)
        lo = _binade_low(r)
        s_idle = _binade_step(d_idle, lo)
        k_user = -1
        k = 0
        d_lump = acc_k = 0.0
        slow_apply = False
        while True:
            if pending:  # ---- apply: the lump charge of one arrival tick
                choice = pick(t, r, 0, params, mem)  # the sync machine has no buffer
                if choice != k_user:
                    k_user = choice
                    k = PI[K.I_SVC + n + k_user]
                    d_lump = PF[K.F_ACC + 2 * n + k]
                    acc_k = PF[K.F_ACC + k]
                if r <= 0.0:  # the last tick: the general apply records the end
                    slow_apply = True
                    break
                decisions += 1
                last_action = k
                r = r - d_lump
                r = r - lump_idle
                drawn_inf += d_lump
                drawn_idle += lump_idle
                busy += 1
                inf += 1
                ST[K.S_COUNTS + k] += 1
                acc_sum += acc_k
                free = t + 1
                last_t = t
                pending = False
            # ---- advance: idle ticks up to the next arrival tick
            ta = last_t + period
            if ta >= Heff:
                break
            kk = ta - free
            r_new = r - kk * s_idle
            if not r_new - d_idle > lo:  # the run may leave the binade (or deplete): the general advance
                break
            r = r_new
            idle += kk
            drawn_idle += kk * d_idle
            free = ta
            narr += 1
            t = ta
            pending = True
        _store(ST, FS, pending, t, free, inf, narr, busy, idle, last_action, last_t, decisions, r, acc_sum,
               drawn_inf, drawn_idle)
        if slow_apply:
            K.apply(ST, FS, PI, PF, k_user)
            continue
        status = K.advance(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status


@njit(cache=True, inline="always")
def register_loop(ST, FS, PI, PF, arr, pick, params, mem):
    """The register loop of the engine's machine and mode, with ``pick`` deciding (``pick_loop``'s contract).

    A harvester runs on the general kernels (its charge is not a run of identical ticks), and so do the
    kinetic battery and the supercapacitor (the loops keep a linear battery's charge in a register).
    """
    if PI[K.I_HOFF] > 0 or PF[K.F_STORE] != K.STORE_LINEAR:
        while True:
            status = K.advance(ST, FS, PI, PF, arr)
            if status != K.DECISION:
                return status
            K.apply(ST, FS, PI, PF, pick(ST[K.S_T], FS[K.G_R], ST[K.S_Q], params, mem))
    if PI[K.I_KIND] == K.KIND_LUMP:
        return lump_loop(ST, FS, PI, PF, arr, pick, params, mem)
    if PI[K.I_SEED] == 1:
        return queue_loop(ST, FS, PI, PF, arr, pick, params, mem, True)
    return queue_loop(ST, FS, PI, PF, arr, pick, params, mem, False)


@njit(cache=True, aot=LOOP_SIGNATURE)
def fixed_model_loop(ST, FS, PI, PF, arr, params, mem):
    """Model ``params[0]`` on every decision: until the arrivals run out or the episode ends."""
    return register_loop(ST, FS, PI, PF, arr, fixed_pick, params, mem)


@njit(cache=True)
def general_loop(ST, FS, PI, PF, arr, params, mem):
    """The general kernels with model ``params[0]``: the reference the loops above must equal (tests, benchmarks)."""
    k_user = int(params[0])
    while True:
        status = K.advance(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status
        K.apply(ST, FS, PI, PF, k_user)
