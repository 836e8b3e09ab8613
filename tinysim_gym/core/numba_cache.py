"""Numba's on-disk cache, keyed by the project's sources.

Numba re-compiles a cached function when *its own* file changes, but not when a function it calls from
another module does: a cached loop would keep an old copy of the engine's kernels. So the cache lives in a
directory named after a hash of every source file of the project's packages (``tinysim_gym``, ``baselines``,
``agents``): any change to any of them starts a fresh cache. ``NUMBA_CACHE_DIR`` set by the user wins.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

PACKAGES = ("tinysim_gym", "baselines", "agents")


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
    """Point numba's cache at a directory keyed by :func:`source_hash` (unless the user chose one)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    from numba.core import config

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinysim-gym"
    target = base / f"numba-{source_hash()}"
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:
        target = Path(tempfile.gettempdir()) / "tinysim-gym" / f"numba-{source_hash()}"
        target.mkdir(parents=True, exist_ok=True)
    config.CACHE_DIR = str(target)
