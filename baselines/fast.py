"""The compiled fast path shared by every heuristic whose decision function lives in numba.

A heuristic writes one small numba decision function, ``pick(tick, remaining_mah, queue, params, mem)``,
and offers ``loop(view) -> (compiled_loop(pick), params, mem)``; ``Engine.run`` drives the loop, which
calls the engine's kernels (``advance``/``apply``) and the decision function between them. ``select``
calls the very same function, so the compiled and the per-decision paths choose identically. Heuristics
with pre-drawn data (the seeded random selector) write their own loop and return ``NEED_MORE`` when it
runs out.
"""

from __future__ import annotations

import hashlib
import re
import types
from collections.abc import Callable

import numpy as np

from tinysim_gym.core import kernels as K
from tinysim_gym.core.jit import njit
from tinysim_gym.core.view import CompiledLoop

#: Status a loop returns when its own pre-drawn data (e.g. random draws) ran out: ``Engine.run`` then calls
#: ``selector.more(params, mem)``.
NEED_MORE = K.NEED_MORE

#: A numba decision function ``pick(tick, remaining_mah, queue, params, mem) -> model index``.
Pick = Callable[[int, float, int, np.ndarray, np.ndarray], int]

#: What a heuristic's ``loop(view)`` returns: the compiled loop, its parameters and its scratch memory.
CompiledForm = tuple[CompiledLoop, np.ndarray, np.ndarray]


def _loop_body(ST, FS, PI, PF, arr, params, mem):  # the kernels' array names
    """Run the engine, answering each decision with ``pick(tick, remaining_mah, queue, params, mem)``."""
    while True:
        status = K.advance(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status
        # ``pick`` is a global of each specialised copy of this function (see pick_loop), not of this module
        K.apply(ST, FS, PI, PF, pick(ST[K.S_T], FS[K.G_R], ST[K.S_Q], params, mem))  # noqa: F821


_LOOPS: dict[Callable[..., object], CompiledLoop] = {}


def pick_loop(pick: Pick) -> CompiledLoop:
    """The compiled engine loop specialised to one decision function: one per ``pick``, cached on disk.

    Numba keys a cached function by its argument types, and a dispatcher passed as an argument is typed by
    its identity, which is new in every process: the cache never hit and grew by one entry per process
    until it broke. So ``pick`` is not an argument but a global of a copy of :func:`_loop_body` whose name
    says which decision function it calls (and a hash of that function's code): each heuristic gets its
    own cache entry, found again by every later process. A ``pick`` that is a closure (its behaviour
    depends on captured values the name cannot tell apart) gets a loop compiled in memory only.
    """
    py_func = getattr(pick, "py_func", pick)  # the key: a kernel and the dispatcher it becomes are one pick
    loop = _LOOPS.get(py_func)
    if loop is None:
        name = f"pick_loop__{_name_of(py_func)}"
        fn = types.FunctionType(_loop_body.__code__, {**globals(), "pick": pick}, name)
        fn.__qualname__ = name  # numba names the cache index after it: one index per decision function
        fn.__doc__ = _loop_body.__doc__
        loop = _LOOPS[py_func] = njit(cache=py_func.__closure__ is None)(fn)
    return loop


def _name_of(py_func: Callable[..., object]) -> str:
    """``<module>.<qualname>`` and a hash of the code, as a file-name-safe string stable across processes."""
    h = hashlib.sha256()
    _hash_code(py_func.__code__, h)
    where = f"{py_func.__module__}.{py_func.__qualname__}"
    return re.sub(r"[^A-Za-z0-9_.]+", "_", where) + "__" + h.hexdigest()[:12]


def _hash_code(code: types.CodeType, h: hashlib._Hash) -> None:
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    for const in code.co_consts:  # nested code objects by content: their repr holds an address
        if isinstance(const, types.CodeType):
            _hash_code(const, h)
        else:
            h.update(repr(const).encode())


def compiled_loop(pick: Pick) -> CompiledLoop:
    """``Engine.run``'s loop form (``fn(ST, FS, PI, PF, arr, params, mem)``) for a numba decision function."""
    return pick_loop(pick)
