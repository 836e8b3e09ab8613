"""A cheaper numba start: cached functions load without the lowering registries, BLAS probed cheaply.

Numba's cache load (``Cache.load_overload``) first calls ``target_context.refresh()``, which imports and
installs every lowering and typing registry of the CPU target (array math, linear algebra, typed
containers, random generators... about 250 registries): most of the cost of loading the first cached
function, and none of it is used by machine code that is already compiled. The loaded code needs only
numba's runtime (NRT, its allocator and reference counting), so :func:`load_cached_without_registries`
initialises that and loads. Every compilation still refreshes both contexts itself (numba's
``CompilerBase`` does), so a later compile in the same process sees every registry as before.

The first refresh imports the array-math registry, whose import calls ``numba.np.linalg.ensure_blas()``
once to learn whether ``np.dot`` may use BLAS. That call imports all of ``scipy.linalg`` (~0.2 s), and
none of the project's kernels uses BLAS. :func:`answer_blas_probe_cheaply` answers that first call by
whether scipy is installed (found, not imported); every later call (numba lowering a real ``np.dot``) is
numba's own, which imports scipy's BLAS then. It is applied by an import hook just before the array-math
registry is first imported (by a compilation, or by a cached function's environment), not at once:
``numba.np.linalg`` costs time of its own, and a run from the cache need not import it at all.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable

#: top-level packages whose cached functions load the lean way: the project's kernels, plain @njit code known
#: to need only the runtime. Anything else (a library's cached @vectorize, whose wrapper is built after the
#: load from the context's constant tables; another target) keeps numba's own load.
LEAN_PACKAGES: tuple[str, ...] = ("tinysim_gym", "baselines")

_installed = False


def load_cached_without_registries() -> None:
    """Make numba's cache loads of the project's functions initialise only its runtime (idempotent).

    Also installs the import hook that makes numba's BLAS probe cheap.
    """
    global _installed
    from numba.core import caching
    from numba.core.cpu import CPUContext
    from numba.core.runtime import rtsys

    if "numba.np.arraymath" not in sys.modules and not any(isinstance(f, _BeforeArrayMath) for f in sys.meta_path):
        sys.meta_path.insert(0, _BeforeArrayMath())
    cache = caching.Cache
    if _installed:
        return
    if not all(hasattr(cache, name) for name in ("_load_overload", "_guard_against_spurious_io_errors")):
        return  # a numba whose cache is built otherwise keeps its own load: slower, never broken
    numba_load = cache.load_overload

    def load_overload(self: caching.Cache, sig: object, target_context: object) -> object:
        module = getattr(getattr(self, "_py_func", None), "__module__", None) or ""
        if not isinstance(target_context, CPUContext) or module.split(".")[0] not in LEAN_PACKAGES:
            return numba_load(self, sig, target_context)
        rtsys.initialize(target_context)  # what refresh() did that loaded code needs
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)

    cache.load_overload = load_overload  # type: ignore[method-assign]
    _installed = True


class _BeforeArrayMath(importlib.abc.MetaPathFinder):
    """An import hook: just before numba's array-math registry is first imported, answer its BLAS probe."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        """Patch the probe when array math is being imported, then let the usual finders find it.

        The hook stays in ``sys.meta_path`` (the import system is iterating over that list right now).
        """
        if name == "numba.np.arraymath":
            answer_blas_probe_cheaply()


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
