"""The env's compiled kernels: one env step over the engine's arrays, and a whole batch of them.

Each env owns an int64 *work row* ``WK`` beside the engine's state (``ST``, ``FS``) and parameters (``PI``,
``PF``): control words for the step in progress, then a ring of ``(tick, arrivals, dropped)`` per recent
decision, from which the observation's drop window and arrival rate are read. :class:`TinySimEnv` calls
:func:`env_step` for one env; :class:`TinySimVectorEnv` calls :func:`batch_step` over 2-D arrays whose rows
are the same layouts, so both give identical numbers.
"""

from __future__ import annotations

import numpy as np

from tinysim_gym.core import kernels as K
from tinysim_gym.core.harvest import harvest_between
from tinysim_gym.core.jit import materialize, njit
from tinysim_gym.envs.raw_views import float32_row, float64_row, int64_row, rows_contiguous

# The envs call their kernels from Python on every step: numba now, so that no step goes through a
# not-yet-compiled Kernel (and an env is never served by the one-off ahead-of-time path).
materialize()

# ---- per-env int64 work row: control words, then a ring of (tick, arrivals, dropped) per recent decision
W_LEFT = 0  # decisions left in the current step
W_MODEL = 1  # model serving the current step
W_PHASE = 2  # 0: the next kernel call applies the model, 1: it resumes advancing (after a refill)
W_INF0 = 3  # credited inferences (served, minus deadline misses) at the start of the step
W_DROP0 = 4  # lost samples (dropped or skipped) at the start of the step
W_POS = 5  # next ring slot to write = the oldest entry (the window's start)
W_WIN = 6  # ring slots: window length (decisions) + 1
W_FLAGS = 7  # optional features: the FLAG_* bits below
W_KEY = 8  # the episode's forecast-noise key (a chain of hashes from the reset seed)
W_HSCALE = 9  # the harvester's largest current, in nA (the harvest features' scale; 0: no harvester)
W_FWIN = 10  # forecast window, ticks
W_NOISE = 11  # forecast noise: relative standard deviation, in parts per million
W_AGE = 12  # head-age scale, ticks (the deadline, or the buffer's fill time)
W_DAY = 13  # day length, ticks
W_DAY0 = 14  # tick of the day's start (sunrise of a solar harvester)
W_RING = 15

FLAG_HORIZON = 1
FLAG_LAST_ACTION = 2
FLAG_ARRIVAL_RATE = 4
FLAG_HEAD_AGE = 8
FLAG_HARVEST = 16
FLAG_DAY_PHASE = 32
FLAG_FORECAST = 64
FLAG_CHARGE = 128
FLAG_PRIV_HARVEST = 256

_TWO_PI = 6.283185307179586
_MASK62 = (1 << 62) - 1


@njit(cache=True, inline="always")
def _now(ST):
    """Tick of the pending decision, or of the end."""
    if ST[K.S_PHASE] == K.P_DECIDE:
        return ST[K.S_T]
    return ST[K.S_END] if ST[K.S_END] >= 0 else ST[K.S_FREE]


@njit(cache=True)
def mix_key(x):
    """A 62-bit hash of ``x`` (splitmix64's finaliser): the forecast noise's counter-based generator."""
    z = (x * 0x5851F42D4C957F2D + 0x14057B7EF767814F) & _MASK62
    z = ((z ^ (z >> 29)) * 0x3C6EF372FE94F82B) & _MASK62
    z = ((z ^ (z >> 31)) * 0x2545F4914F6CDD1D) & _MASK62
    return z ^ (z >> 27)


@njit(cache=True)
def _gauss(key, n):
    """A standard normal draw for counter ``n`` of stream ``key`` (Box-Muller over two hashed uniforms)."""
    a = mix_key(key ^ mix_key(2 * n + 1))
    b = mix_key(key ^ mix_key(2 * n + 2))
    u1 = (a + 1.0) / (_MASK62 + 2.0)
    u2 = b / (_MASK62 + 1.0)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)


@njit(cache=True)
def _extras(ST, FS, PI, PF, WK, obs, j, t, flags):
    """The optional features after the first ones: only what a real controller could know (see the env)."""
    if flags & FLAG_HEAD_AGE:
        age = t - ST[K.S_DEC_ARR] if ST[K.S_PHASE] == K.P_DECIDE else 0
        obs[j] = min(max(age / WK[W_AGE], 0.0), 1.0) if WK[W_AGE] > 0 else 0.0
        j += 1
    off = PI[K.I_HOFF]
    scale = WK[W_HSCALE] * 1e-6  # mA
    tb = PF[K.F_TB]
    if flags & FLAG_HARVEST:
        now = harvest_between(PF, off, t, t + 1, tb) / (tb / 3.6e6) if off > 0 else 0.0
        obs[j] = min(max(now / scale, 0.0), 1.0) if scale > 0 else 0.0
        j += 1
    if flags & FLAG_DAY_PHASE:
        x = _TWO_PI * ((t - WK[W_DAY0]) % WK[W_DAY]) / WK[W_DAY]
        obs[j] = 0.5 + 0.5 * np.sin(x)
        obs[j + 1] = 0.5 + 0.5 * np.cos(x)
        j += 2
    mean = 0.0
    if flags & (FLAG_FORECAST | FLAG_PRIV_HARVEST) and off > 0 and scale > 0:
        w = WK[W_FWIN]
        mean = harvest_between(PF, off, t, t + w, tb) / (w * tb / 3.6e6) / scale
    if flags & FLAG_FORECAST:
        noisy = mean * (1.0 + WK[W_NOISE] * 1e-6 * _gauss(WK[W_KEY], ST[K.S_DECISIONS])) if mean > 0 else 0.0
        obs[j] = min(max(noisy, 0.0), 1.0)
        j += 1
    if flags & FLAG_CHARGE:
        n = PI[K.I_N]
        rem = FS[K.G_R]
        for k in range(n):
            if PI[K.I_KIND] == K.KIND_LUMP:
                q = PF[K.F_ACC + 2 * n + k]
            else:
                q = PF[K.F_ACC + n + k] * PI[K.I_SVC + k]
            obs[j] = min(q / rem, 1.0) if rem > 0 else 1.0
            j += 1
    if flags & FLAG_PRIV_HARVEST:
        obs[j] = min(max(mean, 0.0), 1.0)


@njit(cache=True, inline="always")
def lost(ST):
    """Samples lost so far, for the reward's drop penalty and the drop window: dropped plus skipped."""
    return ST[K.S_DROP_OVF] + ST[K.S_DROP_AFTER] + ST[K.S_SKIPPED]


@njit(cache=True, inline="always")
def fill_obs(ST, FS, PI, PF, WK, obs):
    """Write the observation of the current state into ``obs`` (the window's oldest entry is ``WK[W_POS]``)."""
    t = _now(ST)
    arrivals = ST[K.S_ARR]
    dropped = lost(ST)
    base = W_RING + 3 * WK[W_POS]
    soc = FS[K.G_R] / PF[K.F_CAP]
    obs[0] = min(max(soc, 0.0), 1.0)
    obs[1] = min(ST[K.S_Q] / PI[K.I_BUF], 1.0)
    da = arrivals - WK[base + 1]
    obs[2] = min(max((dropped - WK[base + 2]) / da, 0.0), 1.0) if da > 0 else 0.0
    j = 3
    flags = WK[W_FLAGS]
    if flags & FLAG_HORIZON:
        h = PI[K.I_H]
        obs[j] = min(t / h, 1.0) if h > 0 else 0.0
        j += 1
    if flags & FLAG_LAST_ACTION:
        obs[j] = (ST[K.S_LAST_ACTION] + 1) / (PI[K.I_N] + (PI[K.I_SKIP] >= 0))  # the skip is the last action
        j += 1
    if flags & FLAG_ARRIVAL_RATE:
        dt = t - WK[base]
        obs[j] = min(da * PI[K.I_PERIOD] / dt, 1.0) if dt > 0 and da > 0 else 0.0
        j += 1
    if flags >= FLAG_HEAD_AGE:
        _extras(ST, FS, PI, PF, WK, obs, j, t, flags)


@njit(cache=True, inline="always")
def _observe(ST, FS, PI, PF, WK, obs, write):
    """Push the current decision into the window ring; when ``write``, fill ``obs`` from the window."""
    base = W_RING + 3 * WK[W_POS]
    WK[base] = _now(ST)
    WK[base + 1] = ST[K.S_ARR]
    WK[base + 2] = lost(ST)
    pos = WK[W_POS] + 1
    WK[W_POS] = 0 if pos >= WK[W_WIN] else pos
    if write:
        fill_obs(ST, FS, PI, PF, WK, obs)


@njit(cache=True, inline="always")
def _result(status, ST, FS, WK):
    dropped = ST[K.S_DROP_OVF] + ST[K.S_DROP_AFTER]
    return (
        status,
        ST[K.S_INF] - ST[K.S_MISSES] - WK[W_INF0],
        lost(ST) - WK[W_DROP0],
        _now(ST),
        ST[K.S_INF],
        dropped,
        ST[K.S_ARR],
        ST[K.S_Q],
        FS[K.G_R],
        FS[K.G_ACC_SUM],
    )


@njit(cache=True, inline="always")
def env_resume(ST, FS, PI, PF, arr, WK, obs):
    """Continue the current step (after an arrival refill).

    Returns:
        ``(status, credited, new_drops, tick, inferences, dropped, arrivals, queue, remaining_mah,
        accuracy_sum)``;
        ``status`` is ``NEED_ARRIVALS`` (refill and call again), ``DECISION`` or ``DONE``.
    """
    while True:
        if WK[W_PHASE] == 0:
            K.apply(ST, FS, PI, PF, WK[W_MODEL])
            WK[W_LEFT] -= 1
            WK[W_PHASE] = 1
        status = K.advance(ST, FS, PI, PF, arr)
        if status == K.NEED_ARRIVALS:
            return _result(status, ST, FS, WK)
        WK[W_PHASE] = 0
        last = status == K.DONE or WK[W_LEFT] <= 0
        _observe(ST, FS, PI, PF, WK, obs, last)
        if last:
            return _result(status, ST, FS, WK)


@njit(cache=True, inline="always")
def env_step(ST, FS, PI, PF, arr, WK, obs, k, reps):
    """One env step: serve up to ``reps`` decisions with model ``k``; see :func:`env_resume`."""
    WK[W_LEFT] = reps
    WK[W_MODEL] = k
    WK[W_PHASE] = 0
    WK[W_INF0] = ST[K.S_INF] - ST[K.S_MISSES]
    WK[W_DROP0] = lost(ST)
    return env_resume(ST, FS, PI, PF, arr, WK, obs)


@njit(cache=True, inline="always")
def _store(r, ST, PF, out_i, out_f):
    """Write a result tuple, and the info's derived figures, into the caller's arrays.

    Boxing a ten-item tuple and deriving ``time_ms``, ``soc`` and ``weighted_accuracy`` in Python cost more
    than the step's simulation. The arithmetic is the one the info states (the same IEEE operations).
    """
    skipped = ST[K.S_SKIPPED]
    out_i[0] = r[1]
    out_i[1] = r[2]
    out_i[2] = r[4]
    out_i[3] = r[5]
    out_i[4] = skipped
    out_i[5] = r[6]
    out_i[6] = r[7]
    rem = r[8]
    served = r[4] + r[5] + skipped
    out_f[0] = rem
    out_f[1] = min(max(rem / PF[K.F_CAP], 0.0), 1.0)
    out_f[2] = r[3] * PF[K.F_TB]
    out_f[3] = r[9] / served if served != 0 else 0.0
    return r[0]


@njit(cache=True)
def env_step_into(ST, FS, PI, PF, arr, WK, obs, k, reps, out_i, out_f):
    """:func:`env_step` for the single env: returns the status, the rest of the result goes to the arrays.

    ``out_i`` gets ``(credited, new_drops, inferences, dropped, skipped, arrivals, queue)`` and ``out_f``
    ``(remaining_mah, soc, time_ms, weighted_accuracy)``: the single env reads both with one ``tolist()``
    each.
    """
    return _store(env_step(ST, FS, PI, PF, arr, WK, obs, k, reps), ST, PF, out_i, out_f)


@njit(cache=True)
def env_resume_into(ST, FS, PI, PF, arr, WK, obs, out_i, out_f):
    """:func:`env_resume` with the result written as :func:`env_step_into` writes it."""
    return _store(env_resume(ST, FS, PI, PF, arr, WK, obs), ST, PF, out_i, out_f)


@njit(cache=True)
def env_first_into(ST, FS, PI, PF, WK, obs, out_i, out_f):
    """:func:`env_first` with the result written as :func:`env_step_into` writes it."""
    return _store(env_first(ST, FS, PI, PF, WK, obs), ST, PF, out_i, out_f)


@njit(cache=True)
def env_first(ST, FS, PI, PF, WK, obs):
    """After an engine reset: clear the window, write the first observation; see :func:`env_resume`."""
    WK[W_POS] = 0
    WK[W_PHASE] = 0
    WK[W_INF0] = ST[K.S_INF] - ST[K.S_MISSES]
    WK[W_DROP0] = lost(ST)
    WK[W_RING:] = 0
    _observe(ST, FS, PI, PF, WK, obs, True)
    status = K.DECISION if ST[K.S_PHASE] == K.P_DECIDE else K.DONE
    return _result(status, ST, FS, WK)


@njit(cache=True)
def batch_step(ST2, FS2, PI2, PF2, ARR2, WK2, OBS2, actions, reps, drop_penalty, status, rew):
    """Step every row whose ``status`` is ``DECISION`` with its action; other rows get reward 0.

    Writes each stepped row's new status (``DECISION``, ``DONE`` or ``NEED_ARRIVALS``: refill and finish it
    with :func:`env_resume`), reward and observation. Returns the number of rows that
    need arrivals.

    The rows are viewed through :mod:`~tinysim_gym.envs.raw_views` (no reference count): slicing seven rows
    per sub-env (``ST2[i]`` ...) cost more than the decision's simulation.

    Raises:
        ValueError: a 2-D array whose rows are not contiguous (the vector env allocates them so).
    """
    ints = rows_contiguous(ST2) and rows_contiguous(PI2) and rows_contiguous(ARR2) and rows_contiguous(WK2)
    if not (ints and rows_contiguous(FS2) and rows_contiguous(PF2) and rows_contiguous(OBS2)):
        raise ValueError("batch_step: every 2-D state array needs contiguous rows")
    need = 0
    for i in range(ST2.shape[0]):
        if status[i] != K.DECISION:
            rew[i] = 0.0
            continue
        k = actions[i]
        PF = float64_row(PF2, i)
        r = env_step(
            int64_row(ST2, i), float64_row(FS2, i), int64_row(PI2, i), PF, int64_row(ARR2, i),
            int64_row(WK2, i), float32_row(OBS2, i), k, reps,
        )
        status[i] = r[0]
        if r[0] == K.NEED_ARRIVALS:
            need += 1
        else:
            rew[i] = step_reward(PF, k, r[1], r[2], drop_penalty)
    return need


@njit(cache=True, inline="always")
def step_reward(PF, k, credited, drops, drop_penalty):
    """A step's reward: ``credited`` samples at model ``k``'s accuracy / 100, minus the drop penalty.

    A skip step (``k == n``) credits nothing (``credited`` is 0; the factor read is then a finite charge), and
    its discarded samples are in ``drops``.
    """
    acc = credited * (PF[K.F_ACC + k] / 100.0)
    if drops and drop_penalty:
        return acc + -(drop_penalty * drops)
    return acc + 0.0

