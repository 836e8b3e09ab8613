"""A cheaper numba start: its import-time probe for scipy's BLAS is answered without importing scipy.linalg.

The first compiled function that numba loads (from the cache or not) imports its array-math registry,
whose import calls ``numba.np.linalg.ensure_blas()`` once to learn whether ``np.dot`` may use BLAS. That
call imports all of ``scipy.linalg`` (~0.2 s, a third of ``tinysim simulate``'s start), and none of the
project's kernels uses BLAS. :func:`answer_blas_probe_cheaply` answers that first call by whether scipy is
installed (found, not imported); every later call (numba lowering a real ``np.dot``) is numba's own, which
imports scipy's BLAS then. So code that does use ``np.dot`` under numba in the same process behaves as
before, only later.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable


def answer_blas_probe_cheaply() -> None:
    """Replace numba's ``ensure_blas`` by one whose first call does not import scipy (idempotent).

    Does nothing once numba's array math is imported: its probe has run already.
    """
    if "numba.np.arraymath" in sys.modules:
        return
    from numba.np import linalg

    if getattr(linalg.ensure_blas, "cheap_first_call", False):
        return
    linalg.ensure_blas = _cheap_first_call(linalg.ensure_blas)


def _cheap_first_call(ensure_blas: Callable[[], None]) -> Callable[[], None]:
    probed = False

    def cheap_ensure_blas() -> None:
        nonlocal probed
        if probed:
            ensure_blas()
            return
        probed = True
        if importlib.util.find_spec("scipy") is None:
            raise ImportError("scipy 0.16+ is required for linear algebra")  # numba's own message

    cheap_ensure_blas.cheap_first_call = True  # type: ignore[attr-defined]
    return cheap_ensure_blas
