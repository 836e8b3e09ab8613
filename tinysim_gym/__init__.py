"""tinysim-gym: a battery-powered TinyML microcontroller as a Gymnasium environment.

Importing the package registers the Gymnasium ids (``TinySim-v0`` and named variants) when gymnasium is
installed; the simulation core (:mod:`tinysim_gym.core.engine`) itself imports no gymnasium.
"""

from tinysim_gym._numba_cache import use_source_keyed_cache

use_source_keyed_cache()  # before any numba function of the project is compiled or loaded

from tinysim_gym.config import ScenarioConfig, load_scenario  # noqa: E402
from tinysim_gym.core.engine import Engine, run  # noqa: E402
from tinysim_gym.errors import ConfigError, TinySimError  # noqa: E402

__all__ = ["ConfigError", "Engine", "ScenarioConfig", "TinySimError", "load_scenario", "run"]
__version__ = "0.1.0"

try:  # registration lives beside the env; the core works without gymnasium
    from tinysim_gym.envs import registration as _registration  # noqa: F401
except ImportError:  # pragma: no cover - gymnasium missing
    pass
