"""Numba on demand: the project's ``@njit`` functions, compiled (or loaded from the cache) at their first call.

Importing numba costs about 0.4 s, the whole start-up budget of a one-off ``tinysim simulate``. So the
project's modules decorate with :func:`njit` from here, which returns a :class:`Kernel`: the Python function
and its numba options, nothing compiled and numba not imported. The first call of any kernel from Python
takes one of two paths:

* the kernel declares an ahead-of-time signature (``aot=``) and a matching shared library was built for
  the installed sources (:mod:`tinysim_gym.core.aot`): it runs that machine code, numba still not imported
  (for its first :data:`AOT_CALLS` calls: a kernel called per decision is then worth numba's start);
* otherwise :func:`materialize` imports numba once for the whole process, points its cache at the
  source-keyed directory, makes every kernel a numba dispatcher, and rebinds the modules' globals to those
  dispatchers, so that later calls (and numba itself, when it compiles a caller) see plain dispatchers.

A kernel that still turns up somewhere numba types it (captured in a tuple, passed as an argument) is typed
as its dispatcher through ``_numba_type_``. Every ``@njit`` after :func:`materialize` is numba's own.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tinysim_gym.core.aot import Entry

#: top-level packages whose module globals :func:`materialize` rebinds from kernels to dispatchers
PACKAGES = ("tinysim_gym", "baselines", "agents", "tests", "benchmarks")

F = TypeVar("F", bound=Callable[..., Any])

_kernels: list[Kernel] = []
_lock = threading.RLock()
_numba_njit: Callable[..., Any] | None = None  # numba's njit, once materialised


#: calls a kernel's library serves before numba takes over: the library's call costs ~10 us against numba's
#: ~0.3 us, so a kernel called per decision is worth numba's 0.5 s start after a few thousand calls
AOT_CALLS = 4096


class Kernel:
    """A numba function not compiled yet: callable like its dispatcher, which it becomes on demand.

    Attributes:
        py_func: the Python function (as numba's dispatchers name it).
        options: numba's ``njit`` options (``cache``, ``inline``, ...).
        aot: the ahead-of-time signature (see :func:`tinysim_gym.core.aot.parse_signature`), or None.
    """

    def __init__(self, py_func: Callable[..., Any], sigs: tuple[object, ...], options: dict[str, Any],
                 aot: str | None) -> None:
        self.py_func = py_func
        self.sigs = sigs
        self.options = options
        self.aot = aot
        self._dispatcher: Any = None
        self._entry: Entry | None | bool = None if aot else False  # False: no machine code to look for
        self._aot_calls = 0
        functools.update_wrapper(self, py_func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the dispatcher, or the ahead-of-time machine code while numba is not imported."""
        d = self._dispatcher
        if d is not None:
            return d(*args, **kwargs)
        if self._entry is not False and not kwargs:
            if self._entry is None:
                from tinysim_gym.core import aot

                f = self.py_func
                self._entry = aot.entry_for(self.aot, f.__module__, f.__qualname__, f.__code__.co_filename) or False
            if self._entry is not False and self._aot_calls < AOT_CALLS:
                done, result = self._entry(args)
                if done:
                    self._aot_calls += 1
                    return result
        return self.dispatcher(*args, **kwargs)

    @property
    def dispatcher(self) -> Any:
        """The numba dispatcher of this function (numba is imported and every kernel materialised)."""
        if self._dispatcher is None:
            try:
                materialize()
            except AttributeError as exc:  # not left to __getattr__, which would look for ``dispatcher`` again
                raise RuntimeError(f"numba could not be set up: {exc}") from exc
        return self._dispatcher

    def __getattr__(self, name: str) -> Any:
        # what only a dispatcher has (signatures, stats, _numba_type_ when numba types this kernel)
        if name.startswith("__") or name in _OWN:
            raise AttributeError(name)
        return getattr(self.dispatcher, name)

    def __reduce__(self) -> tuple[Any, ...]:
        try:  # a module-level kernel: by name, as numba pickles a global function
            if _by_name(self.py_func.__module__, self.py_func.__qualname__) in (self, self._dispatcher):
                return _by_name, (self.py_func.__module__, self.py_func.__qualname__)
        except (ImportError, AttributeError):
            pass
        return self.dispatcher.__reduce__()  # one made at run time (a heuristic's loop): numba's by-value form

    def __repr__(self) -> str:
        state = "materialised" if self._dispatcher is not None else "not compiled"
        return f"<Kernel {self.py_func.__module__}.{self.py_func.__qualname__} ({state})>"


_OWN = frozenset(("py_func", "sigs", "options", "aot", "dispatcher", "_dispatcher", "_entry", "_aot_calls"))


def _by_name(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def njit(*args: Any, aot: str | None = None, **options: Any) -> Any:
    """Numba's ``njit`` (``@njit``, ``@njit(cache=True, ...)``), deferred until a kernel is first called.

    Args:
        *args: the function (bare ``@njit``) or numba signatures.
        aot: an ahead-of-time signature such as ``"i8[] f8[] -> i8"``: the kernel may then run from the
            shared library ``tinysim build-kernels`` builds, without numba (see :mod:`tinysim_gym.core.aot`).
        **options: numba's options.
    """
    if len(args) == 1 and callable(args[0]) and not options and aot is None:
        return _decorate(args[0], (), {}, None)

    def decorate(fn: F) -> F:
        return _decorate(fn, args, options, aot)

    return decorate


def _decorate(fn: Callable[..., Any], sigs: tuple[object, ...], options: dict[str, Any], aot: str | None) -> Any:
    with _lock:
        kernel = Kernel(fn, sigs, options, aot)
        _kernels.append(kernel)  # listed either way: ``tinysim build-kernels`` builds from this list
        if _numba_njit is None:
            return kernel
        kernel._dispatcher = _numba_njit(*sigs, **options)(fn)
        return kernel._dispatcher


def materialized() -> bool:
    """Whether numba has been imported and every kernel made a dispatcher."""
    return _numba_njit is not None


def materialize() -> None:
    """Import numba, set its cache up, make every kernel a dispatcher and rebind the globals (idempotent).

    The cache set-up comes first: a dispatcher chooses its cache directory when it is created.
    """
    global _numba_njit
    with _lock:
        if _numba_njit is not None:
            return
        import numba

        from tinysim_gym.core.numba_cache import tolerate_broken_cache, use_source_keyed_cache
        from tinysim_gym.core.numba_startup import load_cached_without_registries

        use_source_keyed_cache()
        load_cached_without_registries()  # before the tolerant wrapper, which wraps the load it finds
        tolerate_broken_cache()
        for kernel in _kernels:
            if kernel._dispatcher is None:
                kernel._dispatcher = numba.njit(*kernel.sigs, **kernel.options)(kernel.py_func)
        _numba_njit = numba.njit
        _rebind()


def _rebind() -> None:
    """Replace every kernel in the project's module globals by its dispatcher (no forwarding on later calls)."""
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in PACKAGES:
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            if type(value) is Kernel:
                namespace[attr] = value._dispatcher


def kernels() -> list[Kernel]:
    """Every kernel decorated so far (before or after :func:`materialize`), in decoration order."""
    return list(_kernels)
