"""Register the Gymnasium ids at ``import tinysim_gym`` without importing gymnasium there.

Gymnasium (and numpy under it) costs ~0.15 s to import; a command that never builds an env
(``tinysim --help``, ``tinysim simulate``) should not pay it. :func:`register_when_gymnasium_loads`
registers the ids at once when gymnasium is already imported (the common ``import gymnasium as gym;
import tinysim_gym`` order), and otherwise right after gymnasium's own import finishes, whenever and by
whomever it is imported: ``import tinysim_gym; import gymnasium as gym; gym.make("TinySim-v0")`` works too.
Importing this module imports nothing beyond the standard library (not even :mod:`importlib.abc`, ~10 ms:
a finder and a loader are any objects with these methods).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Protocol

GYMNASIUM = "gymnasium"
REGISTRATION = "tinysim_gym.envs.registration"


def register_when_gymnasium_loads() -> None:
    """Register the ids now if gymnasium is imported, else as soon as it is (safe to call twice)."""
    if GYMNASIUM in sys.modules:
        importlib.import_module(REGISTRATION)
        return
    if not any(isinstance(finder, _AfterGymnasium) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterGymnasium())


class Loader(Protocol):
    """What a module loader offers (the part of :class:`importlib.abc.Loader` used here)."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        """The module object, or None for the default one."""

    def exec_module(self, module: ModuleType) -> None:
        """Run the module's code in ``module``."""


class _AfterGymnasium:
    """A finder that answers only for gymnasium: the real spec, with a loader that registers afterwards."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Find gymnasium through the other finders and wrap its loader (once; then step aside)."""
        if fullname != GYMNASIUM:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _RegisteringLoader(spec.loader)  # type: ignore[assignment]
        return spec


class _RegisteringLoader:
    """Gymnasium's own loader, followed by the registration of the ids."""

    def __init__(self, loader: Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        """Delegate to gymnasium's loader."""
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        """Run gymnasium's ``__init__``, then register (gymnasium is complete by then)."""
        self._loader.exec_module(module)
        importlib.import_module(REGISTRATION)

    def __getattr__(self, name: str) -> object:
        return getattr(self._loader, name)
