"""Numba's on-disk cache, keyed by the project's sources.

Numba re-compiles a cached function when *its own* file changes, but not when a function it calls from
another module does: a cached loop would keep an old copy of the engine's kernels. So the cache lives in a
directory named after a hash of every source file of the project's packages (``tinysim_gym``, ``baselines``,
``agents``): any change to any of them starts a fresh cache. ``NUMBA_CACHE_DIR`` set by the user wins.

The cache is an optimisation and never a reason to fail: :func:`tolerate_broken_cache` makes a corrupt or
unreadable entry a miss (the function is compiled in memory, and the broken index is removed so that the
next save writes a good one) and an entry that cannot be written a skipped save. A directory that cannot
be written at all is replaced by a temporary one (see :func:`use_source_keyed_cache`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import tempfile
from pathlib import Path

from tinysim_gym.core.cache_root import cache_root

PACKAGES = ("tinysim_gym", "baselines", "agents")


@functools.cache  # read once a process: the library lookup and numba's set-up both ask for it
def source_hash() -> str:
    """Hash of the project's Python sources, as installed beside this package."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def use_source_keyed_cache() -> None:
    """Point numba's cache at one usable directory, keyed by :func:`source_hash` unless the user chose one.

    When the chosen directory cannot be created or written, numba would fall back to ``__pycache__``
    beside the sources, whose entries are keyed by each file's own time stamp alone and so go stale when
    a module they call changes. Instead the cache then lives in a source-keyed directory under the temp
    directory (or a fresh private one), and that is the only place numba may look.
    """
    from numba.core import caching, config

    chosen = os.environ.get("NUMBA_CACHE_DIR")
    key = f"numba-{source_hash()}"
    default = cache_root() / key
    for target in (Path(chosen) if chosen else default, Path(tempfile.gettempdir()) / "tinysim-gym" / key):
        if _usable(target):
            break
    else:
        target = Path(tempfile.mkdtemp(prefix="tinysim-gym-numba-"))
    if chosen and str(target) != chosen:
        _log.debug("numba cache: %s is not usable; caching in %s", chosen, target)
    config.CACHE_DIR = str(target)
    caching.CacheImpl._locator_classes = [caching.UserProvidedCacheLocator]


def _usable(path: Path) -> bool:
    """Whether ``path`` is (or can be made) a directory this process can write."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def tolerate_broken_cache() -> None:
    """Make numba's cache loads and saves never raise: a broken cache costs a compilation, not the run.

    Numba raises whatever unpickling a damaged index or object file raises (``UnpicklingError``,
    ``EOFError``, ``ReferenceError``...), so every exception is caught here, at the two calls through
    which numba reads and writes its cache.
    """
    from numba.core import caching

    cache = caching.Cache
    if getattr(cache.load_overload, "tolerant", False):
        return
    load, save = cache.load_overload, cache.save_overload

    def load_overload(self: caching.Cache, sig: object, target_context: object) -> object:
        try:
            return load(self, sig, target_context)
        except Exception as exc:  # any damage: a miss, compiled in memory
            _log.debug("numba cache: cannot load %s (%s); compiling in memory", self._name, exc)
            return None

    def save_overload(self: caching.Cache, sig: object, data: object) -> None:
        try:
            save(self, sig, data)
        except OSError as exc:  # cannot write: keep what is compiled in memory
            _log.debug("numba cache: cannot save %s (%s)", self._name, exc)
        except Exception as exc:  # a damaged index: remove it so that this save writes a good one
            _log.debug("numba cache: damaged index of %s (%s); rewriting it", self._name, exc)
            index = getattr(getattr(self, "_cache_file", None), "_index_path", None)
            with contextlib.suppress(Exception):
                if index:
                    os.unlink(index)
                save(self, sig, data)

    load_overload.tolerant = True  # type: ignore[attr-defined]
    cache.load_overload = load_overload  # type: ignore[method-assign]
    cache.save_overload = save_overload  # type: ignore[method-assign]


_log = logging.getLogger(__name__)
