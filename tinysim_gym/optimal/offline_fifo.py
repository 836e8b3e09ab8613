"""The offline optimum of one realised trace with the engine's own drop-tail FIFO buffer, exactly.

A schedule of the trace is a sequence of decisions, each at a tick ``t`` where the chip is free and a
sample is pending. The engine picks the pending sample as it does: an arrival on that very tick first,
else the head of the buffer, else it idles to the next arrival; arrivals while the chip is busy join the
tail of the buffer or, when it is full, are dropped. A sample served with a model of ``L`` ticks earns its
accuracy when ``t + L - arrival <= deadline``. So the value of the rest of a trace depends on the tick, the
next arrival, and which samples wait, in order: that is the state, exactly.

It is kept small by the deadline: a waiting sample that cannot meet it even with the fastest model (it
never will, time only grows) is *dead* and only its place in the buffer matters; dead samples are the
oldest, so they form the head of the FIFO and a count holds them. The live ones arrived within one deadline
of ``t``: a bit mask over the latest arrivals names them (bit ``j``: arrival ``a - 1 - j``, ``a`` the next
arrival). Without a deadline every sample is alike and the count holds the whole buffer.

States are reached from the start by the decisions and solved in depth-first post-order (each decision
moves the tick on or, with a free discard, empties a place, so the graph has no cycle), each once, in a
hash map. The action set per decision: every model (a skip action is a zero-accuracy model of the
selector's ticks), a free discard of the pending sample (zero ticks, where the caller allows it) and
stopping for good (what a dying battery does; before any idle ticks to the decision, so at no charge).
Charge is priced at ``price`` per mAh (:mod:`tinysim_gym.optimal.hindsight` minimises over the price): the
kernel returns the best value of ``accuracy - price * charge`` and the charge of a schedule reaching it.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.typed import Dict

from tinysim_gym.core.jit import njit

KEY = types.UniTuple(types.int64, 2)
#: live bits per state; a live sample further back than this many arrivals makes the kernel give up
MASK_BITS = 57
A_BITS = 22  # arrivals per trace below 2**22 (the key packs the tick and the next arrival together)
#: states per solve before the kernel gives up (about 100 bytes each)
MAX_STATES = 1_000_000
OK, TOO_WIDE, TOO_MANY = 0, 1, 2
#: no information-relaxation penalty (the plain offline optimum): ``pen_h``, ``pen_eh`` and ``pen_ctx``
NO_PENALTY = (np.zeros((0, 0, 0)), np.zeros((0, 0, 0)), np.zeros(0, np.int8))


@njit(cache=True)
def _count(m):
    c = 0
    while m:
        m &= m - 1
        c += 1
    return c


@njit(cache=True)
def _top(m):
    j = -1
    while m:
        m >>= 1
        j += 1
    return j


@njit(cache=True)
def _settle(arr, t2, a, nd, mask, B, D, lmin):
    """Arrivals before ``t2`` join the buffer (drop-tail); the buffer in canonical form at ``t2``.

    Returns ``(next arrival, dead or anonymous count, live mask, status)``.
    """
    n = len(arr)
    q = nd + _count(mask)
    while a < n and arr[a] < t2:
        if D < 0:
            if q < B:
                nd += 1
                q += 1
        else:
            mask <<= 1
            if q < B:
                mask |= 1
                q += 1
        a += 1
        if mask >> MASK_BITS:  # the oldest live sample must be dead by now, or the state is too wide
            j = _top(mask)
            if t2 + lmin - arr[a - 1 - j] <= D:
                return a, nd, mask, TOO_WIDE
            mask ^= 1 << j
            nd += 1
    while mask:  # the oldest live samples that can no longer meet the deadline join the dead head
        j = _top(mask)
        if t2 + lmin - arr[a - 1 - j] <= D:
            break
        mask ^= 1 << j
        nd += 1
    return a, nd, mask, OK


@njit(cache=True)
def _expand(arr, H, B, L, acc, d, d_idle, D, lmin, price, discard, t, a, nd, mask, ck1, ck2, rew, chg, pen_h,
            pen_eh, pen_ctx):
    """The decisions of one state: children keys (``-1``: the episode ends), rewards and charges.

    With a penalty (``pen_h`` not empty) a model's reward loses
    ``pen_h[pen_ctx[t2], k, min(q + N, B)] - pen_eh[pen_ctx[t], k, q]``, ``q`` the samples left waiting at the
    decision, ``N`` the arrivals in the ticks ``(t, t2]`` and ``t2 = t + L[k]`` the window's end (only when it
    is before ``H``), see
    :mod:`tinysim_gym.optimal.dual_penalty`.

    Returns ``(number of actions, idle charge before the decision, status)``; 0 actions: nothing more to do.
    """
    n = len(arr)
    idle = 0
    credit_all = D < 0
    pend = -1  # arrival tick of the pending sample, -1 when it is dead
    if a < n and arr[a] == t:
        pend, a1, nd1, m1 = t, a + 1, nd, mask << 1
        if D < 0:
            m1 = 0
    elif nd > 0:
        a1, nd1, m1 = a, nd - 1, mask
    elif mask:
        j = _top(mask)
        pend, a1, nd1, m1 = arr[a - 1 - j], a, nd, mask ^ (1 << j)
    elif a < n:
        idle = arr[a] - t
        t = arr[a]
        pend, a1, nd1, m1 = t, a + 1, 0, 0
    else:
        return 0, 0.0, OK
    if m1 >> MASK_BITS:
        return 0, 0.0, TOO_WIDE
    nk = len(L)
    na = 0
    penal = pen_h.shape[0] > 0
    q_left = nd1 + _count(m1)
    known = np.searchsorted(arr, t, side="right")  # arrivals at or before the decision tick
    for k in range(nk + (1 if discard else 0)):
        lk = L[k] if k < nk else 0
        run = min(lk, H - t)
        c = run * d[k] if k < nk else 0.0
        r = -price * c
        if k < nk and (credit_all or (pend >= 0 and t + lk - pend <= D)):
            r += acc[k]
        t2 = t + lk
        if t2 >= H:
            ck1[na], ck2[na] = -1, -1
        else:
            a2, nd2, m2, st = _settle(arr, t2, a1, nd1, m1, B, D, lmin)
            if st != OK:
                return 0, 0.0, st
            ck1[na], ck2[na] = (t2 << A_BITS) | a2, (nd2 << MASK_BITS + 1) | m2
            if penal and k < nk:
                n_win = np.searchsorted(arr, t2, side="right") - known
                r -= pen_h[pen_ctx[t2], k, min(q_left + n_win, B)] - pen_eh[pen_ctx[t], k, q_left]
        rew[na], chg[na] = r, c
        na += 1
    return na, idle * d_idle, OK


@njit(cache=True)
def offline_fifo(arr, H, B, L, acc, d, d_idle, D, price, discard, lmin, max_states, pen_h, pen_eh, pen_ctx):
    """Best ``sum(accuracy - price * charge)`` over every schedule of the trace and the charge it draws.

    Args:
        arr: sorted arrival ticks, all below ``H``.
        H: horizon (ticks).
        B: buffer size.
        L: ticks per action (the models, then the skip if the scenario has one).
        acc: accuracy per action (0 for the skip).
        d: charge per tick per action (mAh).
        d_idle: idle charge per tick (mAh).
        D: deadline (ticks; negative: none).
        price: the charge price (accuracy points per mAh).
        discard: also offer a free discard of the pending sample.
        lmin: ticks of the fastest model (a sample later than ``D - lmin`` can never be on time).
        max_states: give up beyond this many states.
        pen_h: an information-relaxation penalty per context at the window's end, action and occupancy (shape
            ``(1 or contexts, len(L), B + 1)``, or :data:`NO_PENALTY` for none): see :func:`_expand` and
            :mod:`tinysim_gym.optimal.dual_penalty`.
        pen_eh: its conditional mean per context, action and occupancy at the decision (``(contexts, len(L),
            B + 1)``; empty with no penalty).
        pen_ctx: the context per tick (the arrival process's state the mean is conditioned on; ``H`` entries).

    Returns:
        ``(value, charge, states, status)``; status ``OK``, ``TOO_WIDE`` or ``TOO_MANY``.
    """
    nk = len(L) + 1
    index = Dict.empty(key_type=KEY, value_type=types.int64)
    cap = 1 << 16
    k1s = np.empty(cap, np.int64)
    k2s = np.empty(cap, np.int64)
    val = np.empty(cap)
    chv = np.empty(cap)
    done = np.zeros(cap, np.int8)
    ck1 = np.empty(nk, np.int64)
    ck2 = np.empty(nk, np.int64)
    rew = np.empty(nk)
    chg = np.empty(nk)
    amask = (1 << A_BITS) - 1
    mmask = (1 << MASK_BITS + 1) - 1
    k1s[0], k2s[0] = 0, 0
    index[(0, 0)] = 0
    ns = 1
    stack = [0]
    while len(stack):
        s = stack[-1]
        if done[s] == 2:
            stack.pop()
            continue
        t, a = k1s[s] >> A_BITS, k1s[s] & amask
        nd, mask = k2s[s] >> MASK_BITS + 1, k2s[s] & mmask
        na, idle_c, st = _expand(arr, H, B, L, acc, d, d_idle, D, lmin, price, discard, t, a, nd, mask, ck1,
                                 ck2, rew, chg, pen_h, pen_eh, pen_ctx)
        if st != OK:
            return 0.0, 0.0, ns, st
        done[s] = 1
        # every child must be solved before this state reads its value: a child first reached from another
        # state may still wait lower on the stack, unexpanded (its value not yet written), so it is pushed
        # again above this one; the states only move forward in time, so none is its own descendant
        pushed = False
        for i in range(na):
            if ck1[i] < 0:
                continue
            key = (ck1[i], ck2[i])
            if key not in index:
                if ns == cap:
                    if cap >= max_states:
                        return 0.0, 0.0, ns, TOO_MANY
                    cap *= 2
                    k1s, k2s = _grow(k1s, cap), _grow(k2s, cap)
                    val, chv = _grow(val, cap), _grow(chv, cap)
                    done = _grow(done, cap)
                index[key] = ns
                k1s[ns], k2s[ns], done[ns] = ck1[i], ck2[i], 0
                stack.append(ns)
                ns += 1
                pushed = True
            elif done[index[key]] == 0:
                stack.append(index[key])
                pushed = True
        if pushed:
            continue
        best, bc = 0.0, 0.0  # stop for good (before idling)
        go, gc = -1e300, 0.0
        for i in range(na):
            r, c = rew[i], chg[i]
            if ck1[i] >= 0:
                j = index[(ck1[i], ck2[i])]
                r += val[j]
                c += chv[j]
            if r > go:
                go, gc = r, c
        if na > 0:
            go -= price * idle_c
            if go > best:
                best, bc = go, gc + idle_c
        val[s], chv[s], done[s] = best, bc, 2
        stack.pop()
    return val[0], chv[0], ns, OK


@njit(cache=True)
def _grow(x, cap):
    y = np.empty(cap, x.dtype)
    y[: len(x)] = x
    return y
