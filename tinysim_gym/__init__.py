"""tinysim-gym: a battery-powered TinyML microcontroller as a Gymnasium environment.

Importing the package registers the Gymnasium ids (``TinySim-v0`` and named variants): at once when
gymnasium is imported already, else as soon as it is (:mod:`tinysim_gym.envs.deferred_registration`). The
engine and the configs are loaded on first use (``tinysim_gym.Engine``, ``tinysim_gym.load_scenario``), so
that a command that needs neither (``tinysim --help``) starts without gymnasium, numpy or numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinysim_gym.envs.deferred_registration import register_when_gymnasium_loads
from tinysim_gym.errors import ConfigError, TinySimError

if TYPE_CHECKING:
    from tinysim_gym.config import ScenarioConfig, load_scenario
    from tinysim_gym.core.engine import Engine, run

__all__ = ["ConfigError", "Engine", "ScenarioConfig", "TinySimError", "load_scenario", "run"]
__version__ = "0.1.0"  # the one version: setup.cfg reads it (attr:), tinysim --version prints it

register_when_gymnasium_loads()

_LAZY = {
    "Engine": "tinysim_gym.core.engine",
    "run": "tinysim_gym.core.engine",
    "ScenarioConfig": "tinysim_gym.config",
    "load_scenario": "tinysim_gym.config",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tinysim_gym' has no attribute {name!r}")
