"""Ahead-of-time kernels: the machine code of a few entry points, run through ctypes without importing numba.

A one-off command (``tinysim simulate --scenario sync_1``) spends 0.4 s importing numba and 0.1 s loading
its cached kernels for a simulation of 8 ms. ``tinysim build-kernels``
(:mod:`tinysim_gym.core.aot_build`) writes, for every kernel that declares an ``aot=`` signature, a shared
library with numba's own optimised code of that kernel for this machine's CPU. :func:`entry_for` finds it
when the installed sources, numba, Python and the CPU are the ones it was built for (all in the directory's
key); anything else falls back to numba, so a stale or missing library costs time, never a wrong number.

Signatures are written ``"i8[] f8[] i8 f8 -> i8"``: C-contiguous writable 1-D arrays of int64, float64 or
uint32 (``u4[]``), int64 and float64 scalars; the result is ``i8``, ``f8``, ``none`` or ``i8xN`` (a tuple
of N int64). An argument of any other type (another dtype, a view that is not contiguous, a numpy int32
scalar) is declined and numba serves the call, exactly as it would have specialised it.

``TINYSIM_AOT=0`` turns the path off (the test-suite does, except where it tests this path). The
libraries live under the project's cache root (:mod:`tinysim_gym.core.cache_root`, ``TINYSIM_CACHE_DIR``).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinysim_gym.errors import TinySimError

ARRAYS = {"i8[]": np.dtype(np.int64), "f8[]": np.dtype(np.float64), "u4[]": np.dtype(np.uint32)}
SCALARS = {"i8": ctypes.c_int64, "f8": ctypes.c_double}
SYMBOL = "tinysim_entry"  # the one exported function of each library
TAKE_FAILURE = "tinysim_take_failure"  # whether the kernel raised in this thread's last call (and clears it)
#: ``Engine.run``'s loop form ``fn(ST, FS, PI, PF, arr, params, mem)`` with float64 parameters and scratch
LOOP_SIGNATURE = "i8[] f8[] i8[] f8[] i8[] f8[] f8[] -> i8"


@dataclass(frozen=True)
class Signature:
    """A parsed ``aot=`` signature: argument kinds, result kind and, for ``i8xN``, the tuple length."""

    args: tuple[str, ...]
    result: str
    tuple_len: int = 0


def parse_signature(text: str) -> Signature:
    """Parse ``"i8[] f8 -> i8x4"``.

    Raises:
        ValueError: a kind that is not one of those listed in the module's docstring.
    """
    head, sep, result = text.partition("->")
    args = tuple(head.split())
    result = result.strip()
    if not sep or any(a not in ARRAYS and a not in SCALARS for a in args):
        raise ValueError(f"aot signature {text!r}: arguments are i8[], f8[], u4[], i8 or f8, then '-> result'")
    n = 0
    if result.startswith("i8x") and result[3:].isdigit() and int(result[3:]) > 0:
        n = int(result[3:])
    elif result not in ("i8", "f8", "none"):
        raise ValueError(f"aot signature {text!r}: the result is i8, f8, none or i8xN")
    return Signature(args, result, n)


def cpu_key() -> str:
    """What the machine code depends on besides the sources: numba, Python, the OS and the CPU's features."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        numba_version = version("numba")
    except PackageNotFoundError:
        numba_version = "none"
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            cpu = "".join(line for line in f if line.startswith(("model name", "flags")))[:100_000]
    except OSError:
        pass
    h = hashlib.sha256(f"{numba_version}|{sys.version}|{sys.platform}|{platform.machine()}|{cpu}".encode())
    return h.hexdigest()[:16]


def library_dir() -> Path:
    """The directory of this installation's libraries: ``<cache root>/aot-<sources>-<numba, CPU...>``."""
    from tinysim_gym.core.cache_root import cache_root
    from tinysim_gym.core.numba_cache import source_hash

    return cache_root() / f"aot-{source_hash()}-{cpu_key()}"


def library_name(module: str, qualname: str, filename: str) -> str:
    """File name of one kernel's library, with a hash of the file that defines it.

    The directory's key covers the project's packages; the file's own hash also covers a kernel defined
    elsewhere (a user's module). Not covered: a kernel outside the project that calls code in another of
    its own files; after editing that file, ``tinysim build-kernels --force`` (or ``TINYSIM_AOT=0``).
    """
    try:
        digest = hashlib.sha256(Path(filename).read_bytes()).hexdigest()[:12]
    except OSError:
        digest = "unreadable"
    return f"{module}.{qualname}-{digest}.so"


#: numba settings that change neither the machine code nor what it checks; any other ``NUMBA_*`` variable
#: (``NUMBA_BOUNDSCHECK``, ``NUMBA_DISABLE_JIT``, ``NUMBA_OPT``...) turns the libraries off
NEUTRAL_NUMBA_SETTINGS = frozenset(("NUMBA_CACHE_DIR", "NUMBA_DEBUG_CACHE", "NUMBA_NUM_THREADS"))


def numba_settings() -> list[str]:
    """The numba settings in force that the libraries were not built under.

    The ``NUMBA_*`` variables beyond the neutral ones, and numba's own settings file in the working
    directory (``.numba_config.yaml``, which numba reads at import).
    """
    found = sorted(k for k in os.environ if k.startswith("NUMBA_") and k not in NEUTRAL_NUMBA_SETTINGS)
    if os.path.exists(".numba_config.yaml"):
        found.append(".numba_config.yaml")
    return found


def enabled() -> bool:
    """Whether the ahead-of-time path may be used (not with ``TINYSIM_AOT=0`` or a numba setting of its own)."""
    return os.environ.get("TINYSIM_AOT", "1") != "0" and not numba_settings()


_dir: Path | None = None


def entry_for(signature: str | None, module: str, qualname: str, filename: str) -> Entry | None:
    """The ahead-of-time entry of the kernel ``module.qualname`` (defined in ``filename``), or None.

    None when there is no signature, the path is turned off, or no loadable library was built for it.
    """
    global _dir
    if signature is None or not enabled():
        return None
    if _dir is None:
        _dir = library_dir()
    path = _dir / library_name(module, qualname, filename)
    if not path.is_file():
        return None
    try:
        return Entry(path, parse_signature(signature), qualname)
    except (OSError, AttributeError, ValueError):  # not loadable here, or not a library of ours
        return None


class Entry:
    """One kernel's library: converts the call's arguments, calls the machine code, returns its result."""

    def __init__(self, path: Path, sig: Signature, name: str) -> None:
        lib = ctypes.CDLL(str(path))
        self.name = name
        self.sig = sig
        self.fn = getattr(lib, SYMBOL)
        argtypes: list[Any] = []
        for kind in sig.args:
            argtypes += [ctypes.c_void_p, ctypes.c_int64] if kind in ARRAYS else [SCALARS[kind]]
        if sig.tuple_len:
            argtypes.append(ctypes.c_void_p)
        self.fn.argtypes = argtypes
        self.fn.restype = {"i8": ctypes.c_int64, "f8": ctypes.c_double}.get(sig.result)
        self.take_failure = getattr(lib, TAKE_FAILURE)
        self.take_failure.argtypes = []
        self.take_failure.restype = ctypes.c_int
        self._convert: list[Callable[[Any, list[Any]], bool]] = [_CONVERT.get(k) or _array(ARRAYS[k]) for k in sig.args]

    def __call__(self, args: tuple[Any, ...]) -> tuple[bool, Any]:
        """Run the kernel on ``args``: ``(True, result)``, or ``(False, None)`` when an argument is declined."""
        if len(args) != len(self._convert):
            return False, None
        cargs: list[Any] = []
        for convert, a in zip(self._convert, args, strict=True):
            if not convert(a, cargs):
                return False, None
        out = None
        if self.sig.tuple_len:
            out = np.zeros(self.sig.tuple_len, dtype=np.int64)
            cargs.append(out.ctypes.data)
        result = self.fn(*cargs)
        if self.take_failure():
            raise TinySimError(f"{self.name}: the compiled kernel raised an error (run with TINYSIM_AOT=0 to see "
                               "numba's own message)")
        if out is not None:
            return True, tuple(int(v) for v in out)
        return True, result


def _array(dtype: np.dtype) -> Callable[[Any, list[Any]], bool]:
    def convert(a: Any, out: list[Any]) -> bool:
        if type(a) is not np.ndarray or a.dtype != dtype or a.ndim != 1:
            return False
        flags = a.flags
        if not (flags.c_contiguous and flags.writeable):
            return False
        out += [a.ctypes.data, a.shape[0]]
        return True

    return convert


def _int(a: Any, out: list[Any]) -> bool:
    # what numba types as int64: a Python int in range, or a numpy int64 (an int32 would be specialised apart)
    if type(a) is int and -(1 << 63) <= a < (1 << 63) or type(a) is np.int64:
        out.append(int(a))
        return True
    return False


def _float(a: Any, out: list[Any]) -> bool:
    if type(a) is float or type(a) is np.float64:
        out.append(float(a))
        return True
    return False


_CONVERT: dict[str, Callable[[Any, list[Any]], bool]] = {"i8": _int, "f8": _float}
