"""On-disk cache of solved oracles: NumPy arrays (``.npz``, no pickles) plus a JSON side file.

Entries are keyed by a hash of the scenario's content (every field, plus the bytes of any file it reads)
and of the solver's settings, so editing a scenario, a board or a profile never reuses a stale solution.
The directory is ``oracle`` under the project's cache root (:func:`~tinysim_gym.core.cache_root.cache_root`:
``$TINYSIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/tinysim-gym``, else ``~/.cache/tinysim-gym``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core.cache_root import cache_root


def cache_dir() -> Path:
    """The oracle cache directory (not created)."""
    return cache_root() / "oracle"


def scenario_key(scenario: ScenarioConfig, settings: dict[str, Any]) -> str:
    """A content hash of ``scenario`` (with the files it names) and the solver ``settings``."""
    doc = scenario.model_dump(mode="json")
    files = {}
    for path in (scenario.workload.trace, scenario.harvester.trace if scenario.harvester else None):
        if path:
            try:
                files[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            except OSError:
                files[path] = "missing"
    blob = json.dumps({"scenario": doc, "files": files, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def load(key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The arrays and metadata stored under ``key``, or None when absent or unreadable."""
    d = cache_dir()
    npz, meta = d / f"{key}.npz", d / f"{key}.json"
    if not npz.exists() or not meta.exists():
        return None
    try:
        with np.load(npz, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        return arrays, json.loads(meta.read_text())
    except (OSError, ValueError):
        return None


def save(key: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Store an entry (written to temporary names first, then renamed, so readers never see half a file)."""
    d = cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{key}.{os.getpid()}"
        with open(f"{tmp}.npz", "wb") as fh:
            np.savez(fh, **arrays)
        Path(f"{tmp}.json").write_text(json.dumps(meta, sort_keys=True))
        os.replace(f"{tmp}.npz", d / f"{key}.npz")
        os.replace(f"{tmp}.json", d / f"{key}.json")
    except OSError:
        pass  # a read-only home: solve again next time
