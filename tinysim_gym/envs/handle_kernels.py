"""The single env's step kernels called through one *handle*: the addresses of its state arrays.

Numba unboxes every array argument of a call from Python (~0.1 us each, more than the simulation of a
typical decision): :func:`~tinysim_gym.envs.kernels.env_step_into` takes ten arrays, so its call cost
~1 us. The kernels here take one int64 array holding the address and length of each state array instead
(see :func:`state_handle`), the observation buffer among them, view the arrays in place and run the very
same kernels, so the numbers are the ones :func:`~tinysim_gym.envs.kernels.env_step_into` gives, bit for
bit.

A handle does not keep its arrays alive: the caller holds them (and builds a new handle whenever it
binds new arrays; a copied or unpickled env must build its own, its arrays live elsewhere).
"""

from __future__ import annotations

import numpy as np
from numba import carray

from tinysim_gym.core.jit import njit
from tinysim_gym.envs.kernels import env_resume_into, env_step_into
from tinysim_gym.envs.raw_views import float32_at, float64_at, int64_at

#: the arrays of a handle, in order, with their dtypes: the engine's state and parameters, its arrival
#: buffer, the env's work row, the step's two result arrays and the observation it writes
HANDLE_DTYPES = (np.int64, np.float64, np.int64, np.float64, np.int64, np.int64, np.int64, np.float64, np.float32)


def state_handle(*arrays: np.ndarray) -> np.ndarray:
    """The handle of ``(ST, FS, PI, PF, arr, WK, out_i, out_f, obs)``: ``[address, length]`` per array.

    Raises:
        TypeError: an array that is not one-dimensional, C-contiguous, writeable and of its dtype
            (the kernels would read or write the wrong memory).
    """
    if len(arrays) != len(HANDLE_DTYPES):
        raise TypeError(f"state_handle: expected {len(HANDLE_DTYPES)} arrays, got {len(arrays)}")
    handle = np.empty(2 * len(arrays), dtype=np.int64)
    for j, (a, dtype) in enumerate(zip(arrays, HANDLE_DTYPES, strict=True)):
        if a.dtype != dtype or a.ndim != 1 or not a.flags.c_contiguous or not a.flags.writeable:
            raise TypeError(f"state_handle: array {j} must be a writeable contiguous 1-D {np.dtype(dtype)} array")
        handle[2 * j] = a.ctypes.data
        handle[2 * j + 1] = a.shape[0]
    return handle


@njit(cache=True, inline="always")
def _views(H):
    return (
        carray(int64_at(H[0]), H[1]),
        carray(float64_at(H[2]), H[3]),
        carray(int64_at(H[4]), H[5]),
        carray(float64_at(H[6]), H[7]),
        carray(int64_at(H[8]), H[9]),
        carray(int64_at(H[10]), H[11]),
        carray(int64_at(H[12]), H[13]),
        carray(float64_at(H[14]), H[15]),
        carray(float32_at(H[16]), H[17]),
    )


@njit(cache=True)
def env_step_at(H, k, reps):
    """:func:`~tinysim_gym.envs.kernels.env_step_into` on the arrays of handle ``H`` (the observation too)."""
    ST, FS, PI, PF, arr, WK, out_i, out_f, obs = _views(H)
    return env_step_into(ST, FS, PI, PF, arr, WK, obs, k, reps, out_i, out_f)


@njit(cache=True)
def env_resume_at(H):
    """:func:`~tinysim_gym.envs.kernels.env_resume_into` on the arrays of handle ``H``."""
    ST, FS, PI, PF, arr, WK, out_i, out_f, obs = _views(H)
    return env_resume_into(ST, FS, PI, PF, arr, WK, obs, out_i, out_f)
