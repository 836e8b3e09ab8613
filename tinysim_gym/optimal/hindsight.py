"""The hindsight bound: the best any policy could do on one seed's realised arrivals, known in advance.

For a horizon scenario the realised arrival ticks of a seed (drawn from the engine's own stream) fix the
denominator ``N`` (every arrival before the horizon counts). For any charge price ``lambda >= 0``::

    accuracy sum of any run  <=  J(lambda) + lambda * budget

where ``budget`` is the initial charge plus everything the harvester delivers (the capacity cap ignored; a
supercapacitor's harvest at its best worth to the board, :func:`~tinysim_gym.optimal.fluid.harvest_worth`) and
``J(lambda)`` is the offline optimum of ``sum(accuracy - lambda * net charge)`` over every schedule of the
realised trace with no battery at all (charge: ``L_k`` ticks of the model's current per inference, the idle
current otherwise), solved by dynamic programming (below). The schedule may also discard the waiting sample
(zero ticks, no accuracy: free, so it dominates the engine's skip action, which costs the selector's time and
charge) or stop for good (what a dying battery does: it earns and draws nothing more), so every run of the
engine on that trace is one of its schedules drawing no more charge than the run did, and that is at most
``budget``: the inequality holds for every causal policy. The bound is its minimum over ``lambda`` (a convex
piecewise-linear function whose slope is ``budget`` less the charge of the optimal schedule), divided by
``N``.

Solvers: without a deadline the waiting samples are alike and backward induction over every tick ``t``
and buffer occupancy ``q`` is exact (:func:`_offline`). With one, drop-tail FIFO keeps the samples that got
in before the buffer filled, so the state holds which samples wait
(:func:`~tinysim_gym.optimal.offline_fifo.offline_fifo`, exact) while they fit in ``max_states``; past it
the occupancy DP answers, crediting a sample taken from the buffer as if it were the youngest it could be
(the ``q + 1``-th latest arrival so far), a relaxation, so the bound stays valid. Until depletion (no
horizon) the episode's length depends on the policy; no hindsight bound is computed there (``None``).
"""

from __future__ import annotations

import numpy as np

from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine
from tinysim_gym.core.jit import njit
from tinysim_gym.optimal.dual_penalty import penalty_tables
from tinysim_gym.optimal.lp import harvest_budget_mah
from tinysim_gym.optimal.offline_fifo import A_BITS, MAX_STATES, NO_PENALTY, OK, offline_fifo

NEG = -1e300


@njit(cache=True)
def _offline(arr, H, B, L, acc, d, d_idle, D, price, discard, pen_h, pen_eh, pen_ctx):
    """``J(price)`` over the trace ``arr`` (sorted arrival ticks, all ``< H``) and the charge its schedule draws.

    The buffer is an occupancy ``q`` per tick: exact without a deadline (waiting samples are alike); with
    one, a sample taken from the buffer is credited as the ``q + 1``-th latest arrival so far (a relaxation).

    A penalty (``pen_h`` not empty; :func:`~tinysim_gym.optimal.offline_fifo.offline_fifo` has the same) costs
    a model's decision at ``(t, q)`` ``pen_h[pen_ctx[t2], k, min(q + N, B)] - pen_eh[pen_ctx[t], k, q]``, ``N``
    the arrivals in ``(t, t2]``, ``t2 = t + L[k]``, when that window ends before ``H``.

    Actions at a decision: serve with a model (``L[k]`` ticks of ``d[k]``), discard the sample for free
    (zero ticks; only when ``discard``), or stop for good (what a battery that dies does: nothing more is
    earned or drawn). Idle ticks draw ``d_idle``.
    """
    nk = len(L)
    lmax = 0
    for k in range(nk):
        lmax = max(lmax, L[k])
    n_arr = len(arr)
    ticks = np.empty(n_arr, np.int64)
    mult = np.empty(n_arr, np.int64)
    m = 0
    for i in range(n_arr):
        if m > 0 and ticks[m - 1] == arr[i]:
            mult[m - 1] += 1
        else:
            ticks[m] = arr[i]
            mult[m] = 1
            m += 1
    ticks = ticks[:m]
    mult = mult[:m]
    cum = np.cumsum(mult)  # arrivals at or before ticks[j]
    penal = pen_h.shape[0] > 0
    vdir = np.zeros((m + 1, B + 1))  # row m: no more arrivals
    adir = np.zeros((m + 1, B + 1), np.int8)
    vpop = np.zeros((H + lmax + 1, B + 1))  # decisions from the buffer at each tick
    apop = np.zeros((H, B + 1), np.int8)
    nxt_j = np.empty(nk, np.int64)
    j = m - 1
    for t in range(H - 1, -1, -1):
        while j >= 0 and ticks[j] > t:
            j -= 1
        here = j >= 0 and ticks[j] == t
        c_le = cum[j] if j >= 0 else 0
        for k in range(nk):  # the last distinct arrival tick before t + L[k]
            jj = j
            while jj + 1 < m and ticks[jj + 1] < t + L[k]:
                jj += 1
            nxt_j[k] = jj
        for direct in range(2):
            if direct == 1 and not here:
                continue
            for q in range(B + 1):
                if direct == 1:
                    age = 0.0
                else:
                    idx = c_le - 1 - q
                    if idx < 0:
                        vpop[t, q] = NEG
                        continue
                    age = float(t - arr[idx])
                best = 0.0  # stop for good
                choice = nk + 1
                if discard:
                    if q > 0:
                        r = vpop[t, q - 1]
                    else:
                        a = j + 1  # idle until the next arrival
                        r = vdir[a, min(mult[a] - 1, B)] - price * d_idle * (ticks[a] - t) if a < m else 0.0
                    if r > best:
                        best, choice = r, nk
                for k in range(nk):
                    lk = L[k]
                    run = min(lk, H - t)
                    r = -price * run * d[k]
                    if D < 0 or age + lk <= D:
                        r += acc[k]
                    t2 = t + lk
                    if t2 < H:
                        jj = nxt_j[k]
                        q1 = min(q + (cum[jj] if jj >= 0 else 0) - c_le, B)
                        a = jj + 1
                        if penal:
                            n_win = (cum[jj] if jj >= 0 else 0) - c_le + (mult[a] if a < m and ticks[a] == t2 else 0)
                            r -= pen_h[pen_ctx[t2], k, min(q + n_win, B)] - pen_eh[pen_ctx[t], k, q]
                        if a < m and ticks[a] == t2:
                            r += vdir[a, min(q1 + mult[a] - 1, B)]
                        elif q1 > 0:
                            r += vpop[t2, q1 - 1]
                        elif a < m:
                            r += vdir[a, min(mult[a] - 1, B)] - price * d_idle * (ticks[a] - t2)
                        else:
                            r -= price * d_idle * (H - t2)
                    if r > best:
                        best, choice = r, k
                if direct == 1:
                    vdir[j, q] = best
                    adir[j, q] = choice
                else:
                    vpop[t, q] = best
                    apop[t, q] = choice
    if m == 0:
        return 0.0, 0.0
    start = vdir[0, min(mult[0] - 1, B)] - price * d_idle * ticks[0]
    if start <= 0.0:
        return 0.0, 0.0
    # forward: the charge the optimal schedule draws
    charge = d_idle * ticks[0]
    t = ticks[0]
    q = min(mult[0] - 1, B)
    direct = 1
    j = 0
    while True:
        while j + 1 < m and ticks[j + 1] <= t:
            j += 1
        c = adir[j, q] if direct == 1 else apop[t, q]
        if c == nk + 1:
            break
        if c == nk:
            if q > 0:
                q -= 1
                direct = 0
                continue
            if j + 1 >= m:
                break
            charge += d_idle * (ticks[j + 1] - t)
            t = ticks[j + 1]
            j += 1
            q = min(mult[j] - 1, B)
            direct = 1
            continue
        charge += min(L[c], H - t) * d[c]
        t2 = t + L[c]
        if t2 >= H:
            break
        jj = j
        while jj + 1 < m and ticks[jj + 1] < t2:
            jj += 1
        q1 = min(q + cum[jj] - cum[j], B)
        a = jj + 1
        if a < m and ticks[a] == t2:
            t, j, q, direct = t2, a, min(q1 + mult[a] - 1, B), 1
        elif q1 > 0:
            t, j, q, direct = t2, jj, q1 - 1, 0
        elif a < m:
            charge += d_idle * (ticks[a] - t2)
            t, j, q, direct = ticks[a], a, min(mult[a] - 1, B), 1
        else:
            charge += d_idle * (H - t2)
            break
    return start, charge


def realised_arrivals(scenario: ScenarioConfig, seed: int | None) -> np.ndarray:
    """The arrival ticks before the horizon that the engine draws for ``seed`` (its own stream, refilled)."""
    eng = Engine(scenario, chunk=4096)
    eng.reset(seed)
    H = eng.horizon_ticks
    stream = eng.stream
    assert stream is not None
    parts = [eng.arr[: int(eng.ST[K.S_AN])].copy()]
    buf = np.zeros(4096, dtype=np.int64)
    while parts[-1].size and parts[-1][-1] < H:
        n = stream.fill(buf)
        parts.append(buf[:n].copy())
    out = np.concatenate(parts)
    return out[out < H]


def hindsight_seed(scenario: ScenarioConfig | str, seed: int | None, tol: float = 1e-9,
                   max_states: int = MAX_STATES, penalty: np.ndarray | None = None) -> float | None:
    """The hindsight bound (weighted accuracy %) of one seed, or None until depletion.

    ``max_states``: the most FIFO states solved exactly (0: the occupancy relaxation only). ``penalty``: an
    information-relaxation table ``h`` (:mod:`tinysim_gym.optimal.dual_penalty`): the value is then an upper
    bound in the mean over seeds, not seed by seed.
    """
    sc = load_scenario(scenario) if not isinstance(scenario, ScenarioConfig) else scenario
    eng = Engine(sc, chunk=1)
    H = int(eng.horizon_ticks)
    if H < 0:
        return None
    arr = realised_arrivals(sc, seed)
    N = len(arr)
    if N == 0:
        return 0.0
    avail = np.flatnonzero(eng.available)
    L = eng.service_ticks[avail].astype(np.int64)
    acc = eng.accuracies[avail].astype(np.float64)
    d_idle = float(eng.PF[K.F_D_IDLE])
    d = np.asarray(eng.inference_charge_mah)[avail] / L
    # a sample leaves the engine unserved only by a skip (a zero-accuracy "model" of the selector's ticks) or
    # with the device off (a supercapacitor's brownout flushes it): free discards are offered only for those
    discard = sc.storage is not None or eng.skip_ticks == 0
    if eng.skip_ticks > 0:
        L, acc = np.append(L, eng.skip_ticks), np.append(acc, 0.0)
        d = np.append(d, float(eng.PF[K.F_D_SKIP]))
    budget = eng.initial_mah + harvest_budget_mah(eng)
    B, D = int(eng.buffer_size), int(eng.deadline_ticks)

    lmin = int(L[acc > 0].min()) if (acc > 0).any() else int(L.min())
    # the exact FIFO states where a deadline makes the waiting samples differ, while they fit in max_states
    # (the reachable states do not depend on the price: the first solve decides); else the occupancy DP
    fifo = D >= 0 and B < 32 and N < 1 << A_BITS and max_states > 0
    # the penalty's decisions are the same (tick, occupancy, action) path in both solvers: valid in either
    pen = NO_PENALTY if penalty is None else penalty_tables(sc, penalty, L, seed, H, arr)

    def dual(price: float) -> tuple[float, float]:
        """The dual's value and slope (``budget`` less the charge the schedule draws)."""
        nonlocal fifo
        if fifo:
            v, c, _, status = offline_fifo(arr, H, B, L, acc, d, d_idle, D, price, discard, lmin, max_states, *pen)
            fifo = status == OK
        if not fifo:
            v, c = _offline(arr, H, B, L, acc, d, d_idle, D, price, discard, *pen)
        return v + price * budget, budget - c

    return _minimise(dual, float(np.max(acc / np.maximum(d * L, 1e-300))) * 2.0, tol) / N


def _minimise(dual, hi: float, tol: float, max_evals: int = 40) -> float:
    """Minimum over ``[0, hi]`` of a convex piecewise-linear function given its value and slope.

    Bisection on the slope, with the tangent lines' crossing as the next point; the best value seen is the
    answer (every value is an upper bound, so stopping early only loosens it).
    """
    f0, s0 = dual(0.0)
    if s0 >= 0:  # the schedule that ignores charge fits the budget
        return f0
    lo, flo, slo = 0.0, f0, s0
    fhi, shi = dual(hi)
    best = min(f0, fhi)
    for _ in range(max_evals):
        if shi <= 0 or hi - lo <= tol * hi:
            break
        # the tangents at lo and hi cross at x; the minimum lies in [lo, hi] and is at least their value
        x = (fhi - flo + slo * lo - shi * hi) / (slo - shi) if slo != shi else (lo + hi) / 2
        if not lo < x < hi:
            x = (lo + hi) / 2
        floor = flo + slo * (x - lo)
        fx, sx = dual(x)
        best = min(best, fx)
        if best - floor <= 1e-9 * max(1.0, abs(best)):
            break
        if sx < 0:
            lo, flo, slo = x, fx, sx
        else:
            hi, fhi, shi = x, fx, sx
    return best


def hindsight(scenario: ScenarioConfig | str, seeds: list[int]) -> float | None:
    """Mean over ``seeds`` of :func:`hindsight_seed` (an upper bound on every causal policy's mean)."""
    vals = [hindsight_seed(scenario, s) for s in seeds]
    if any(v is None for v in vals):
        return None
    return float(np.mean([v for v in vals if v is not None]))
