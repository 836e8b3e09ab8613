"""Where the built-in configs live: the installed package data, or ``configs/`` in a checkout.

A leaf with no imports of ours (and no pydantic), so that the env registration at ``import tinysim_gym`` can
list and name the suite's tasks cheaply.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def builtin_root() -> Path:
    """Directory holding the built-in configs (installed package data, or ``configs/`` in a checkout)."""
    try:
        root = Path(str(resources.files("tinysim_gym.configs")))
        if (root / "boards").is_dir():
            return root
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[1] / "configs"


def builtin_stems(kind: str) -> list[str]:
    """Sorted names (file stems) of the built-in ``*.yaml`` configs of one kind (a folder of the root)."""
    d = builtin_root() / kind
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def suite_env_name(task: str) -> str:
    """The Gymnasium id of a suite task without its namespace: ``night-survival`` -> ``TinySim-NightSurvival-v0``."""
    return "TinySim-" + "".join(part.capitalize() for part in task.split("-")) + "-v0"
