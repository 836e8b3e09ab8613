"""The one directory under which the project caches what it computed.

Numba's kernels, the ahead-of-time libraries and the oracle's solutions all live there.

``$TINYSIM_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/tinysim-gym``, else ``~/.cache/tinysim-gym``. Each
user of it adds its own keyed subdirectory (``numba-<sources>``, ``aot-<sources>-<machine>``, ``oracle``).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The project's cache directory (not created)."""
    chosen = os.environ.get("TINYSIM_CACHE_DIR")
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinysim-gym"
