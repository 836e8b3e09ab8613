"""Compiled loops that turn blocks of uniform draws into arrival ticks, in one pass and without temporaries.

The seed-compatible stream's doubles come from :func:`mt19937_doubles`, Python's (and NumPy's) Mersenne
Twister written out so it compiles to vector code. Both scans reproduce a stream draw for draw: the
seed-compatible one the original's per-tick Bernoulli test, the
default one NumPy's ``Generator.geometric`` (its search method, which NumPy uses for ``p >= 1/3`` and which
takes exactly one ``next_double`` per variate, so drawing the doubles in bulk leaves the generator where
``geometric`` would).
"""

from __future__ import annotations

import numpy as np

from tinysim_gym.core.jit import njit

GEOMETRIC_SEARCH_MIN_P = 0.333333333333333333333333
"""NumPy draws geometric variates by sequential search from this ``p`` on (by inversion below it)."""

MT_DOUBLES_PER_TWIST = 312  # one twist makes 624 words, two per double

_TABLE = 8  # partial sums compared branch-free; a longer search is rare ((1 - p) ** 8 < 4 % of variates)


@njit(cache=True, aot="u4[] f8[] -> none")
def mt19937_doubles(key: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` with the next Mersenne Twister doubles, as ``random.random()`` draws them.

    Args:
        key: the 624-word state (uint32), at the end of a twist (position 624, as after seeding); updated.
        out: a multiple of :data:`MT_DOUBLES_PER_TWIST` long; each double is ``(a >> 5, b >> 6)`` of two
            tempered words, ``(a * 2**26 + b) / 2**53``.
    """
    for blk in range(len(out) // MT_DOUBLES_PER_TWIST):
        for i in range(227):  # the twist, in the three stretches whose reads do not overlap its writes
            y = (np.int64(key[i]) & 0x80000000) | (np.int64(key[i + 1]) & 0x7FFFFFFF)
            key[i] = np.int64(key[i + 397]) ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)
        for i in range(227, 623):
            y = (np.int64(key[i]) & 0x80000000) | (np.int64(key[i + 1]) & 0x7FFFFFFF)
            key[i] = np.int64(key[i - 227]) ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)
        y = (np.int64(key[623]) & 0x80000000) | (np.int64(key[0]) & 0x7FFFFFFF)
        key[623] = np.int64(key[396]) ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)
        base = blk * MT_DOUBLES_PER_TWIST
        for j in range(MT_DOUBLES_PER_TWIST):
            a = np.int64(key[2 * j])
            a ^= a >> 11
            a ^= (a << 7) & 0x9D2C5680
            a ^= (a << 15) & 0xEFC60000
            a ^= a >> 18
            b = np.int64(key[2 * j + 1])
            b ^= b >> 11
            b ^= (b << 7) & 0x9D2C5680
            b ^= (b << 15) & 0xEFC60000
            b ^= b >> 18
            out[base + j] = ((a >> 5) * 67108864.0 + (b >> 6)) / 9007199254740992.0


@njit(cache=True, aot="f8[] i8 f8 i8 i8 i8 i8[] i8 -> i8x4")
def bernoulli_ticks(u: np.ndarray, pos: int, threshold: float, pending: int, last: int, base_gap: int,
                    out: np.ndarray, filled: int) -> tuple[int, int, int, int]:
    """Arrival ticks from per-tick draws ``u[pos:]``: a tick has an arrival when its draw exceeds ``threshold``.

    Args:
        u: uniform draws, one per eligible tick.
        pos: first unused draw.
        threshold: ``1 - p``.
        pending: failed draws since the last arrival (carried over from the previous block).
        last: tick of the last arrival.
        base_gap: ticks after an arrival before the next eligible tick, minus one.
        out: arrival ticks are written here from index ``filled`` on.
        filled: entries of ``out`` already written.

    Returns:
        ``(pos, pending, last, filled)`` after the block or ``out`` is used up, whichever comes first.
    """
    n = len(out)
    m = len(u)
    while filled < n and pos < m:  # branch-free body: a draw's outcome is a coin flip the CPU cannot predict
        pending += 1
        hit = u[pos] > threshold
        pos += 1
        out[filled] = last + base_gap + pending  # kept only when ``hit`` advances ``filled``
        last += (base_gap + pending) * hit
        pending *= 1 - hit
        filled += hit
    return pos, pending, last, filled


@njit(cache=True, aot="f8[] f8 i8 i8 i8[] -> i8")
def geometric_ticks(u: np.ndarray, p: float, last: int, base_gap: int, out: np.ndarray) -> int:
    """Arrival ticks ``last + cumsum(base_gap + G)`` with ``G`` found from ``u`` by NumPy's geometric search.

    The search repeats NumPy's arithmetic (``prod *= q; sum += prod``) so every variate is the same.

    Returns:
        The last arrival tick written.
    """
    q = 1.0 - p
    sums = np.empty(_TABLE)  # the search's partial sums, computed as the search computes them
    s = p
    prod = p
    sums[0] = s
    for j in range(1, _TABLE):
        prod *= q
        s += prod
        sums[j] = s
    prod_last = prod
    for i in range(len(u)):
        x = u[i]
        g = 1  # sums never decrease, so the search stops at 1 + (how many partial sums are below x)
        for j in range(_TABLE):
            g += x > sums[j]
        if g > _TABLE:  # beyond the table: go on searching from its last entry
            g = _TABLE
            s = sums[_TABLE - 1]
            prod = prod_last
            while x > s:
                prod *= q
                s += prod
                g += 1
        last += base_gap + g
        out[i] = last
    return last
