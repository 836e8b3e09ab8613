"""Arrays viewed straight from a memory address: no reference count to move when a kernel takes a view.

A numba view of a row of a 2-D array (``A[i]``) shares the parent's reference count, and taking one
costs an atomic increment, dropping it an atomic decrement. A batched step takes seven rows per sub-env:
fourteen atomic operations cost more than the simulation of a typical decision. A view built by
``carray`` on a raw pointer has no reference count at all; it is valid while the caller holds the
parent array (a kernel's argument is held for the whole call).
"""

from __future__ import annotations

from collections.abc import Callable

from numba import carray, types
from numba.extending import intrinsic

from tinysim_gym.core.jit import njit


def _pointer_intrinsic(dtype: types.Number) -> Callable[..., object]:
    """An intrinsic turning an int64 address into a pointer to ``dtype``."""

    @intrinsic
    def at(typingctx, address):
        sig = types.CPointer(dtype)(types.int64)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

        return sig, codegen

    return at


int64_at = _pointer_intrinsic(types.int64)
float64_at = _pointer_intrinsic(types.float64)
float32_at = _pointer_intrinsic(types.float32)


@njit(cache=True)
def rows_contiguous(A):
    """Whether each row of the 2-D array ``A`` is contiguous (a precondition of the row views below)."""
    return A.shape[1] <= 1 or A.strides[1] == A.itemsize


@njit(cache=True, inline="always")
def int64_row(A, i):
    """Row ``i`` of the 2-D int64 array ``A`` (rows contiguous), without a reference count."""
    return carray(int64_at(A.ctypes.data + i * A.strides[0]), A.shape[1])


@njit(cache=True, inline="always")
def float64_row(A, i):
    """Row ``i`` of the 2-D float64 array ``A`` (rows contiguous), without a reference count."""
    return carray(float64_at(A.ctypes.data + i * A.strides[0]), A.shape[1])


@njit(cache=True, inline="always")
def float32_row(A, i):
    """Row ``i`` of the 2-D float32 array ``A`` (rows contiguous), without a reference count."""
    return carray(float32_at(A.ctypes.data + i * A.strides[0]), A.shape[1])
