"""Code named by a string, Gymnasium entry-point style: ``"module:attr"`` (or ``"module"`` for the module).

Experiments run policies and training functions they must not import (the layers above them fill them
in), and worker processes cannot receive closures or modules: a string that the worker imports travels
everywhere a pickle does, so every such reference is either a picklable object or such a string.
"""

from __future__ import annotations

import importlib
import importlib.util
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinysim_gym.errors import TinySimError

__all__ = ["load_ref", "portable", "package_dirs", "show_ref"]


def load_ref(ref: Any, what: str, module_ok: bool = False) -> Any:
    """The object ``ref`` names; an object that is not a string is returned as it is.

    Args:
        ref: ``"module:attr"`` (``attr`` may be dotted), ``"module"`` when ``module_ok``, or the object itself.
        what: the name the one-line errors start with.
        module_ok: whether a bare module name is allowed (the module is then the object).

    Raises:
        TinySimError: a malformed string, or a module or attribute that does not import.
    """
    if not isinstance(ref, str):
        return ref
    mod, sep, attr = ref.partition(":")
    if not mod or (not sep and not module_ok) or (sep and not attr):
        raise TinySimError(f"{what}: expected 'module:function' or a callable, got {ref!r}")
    try:
        obj: Any = importlib.import_module(mod)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise TinySimError(f"{what}: cannot load {ref!r} ({exc})") from None
    return obj


def portable(ref: Any) -> Any:
    """``ref`` in a form a worker process can receive: a module becomes its name, anything else stays."""
    return ref.__name__ if isinstance(ref, types.ModuleType) else ref


def show_ref(ref: Any) -> str:
    """``ref`` as a dotted name for messages (``agents:run_agent`` -> ``agents.run_agent``)."""
    if isinstance(ref, str):
        return ref.replace(":", ".")
    return getattr(ref, "__qualname__", None) or getattr(ref, "__name__", None) or repr(ref)


def package_dirs(names: Sequence[str]) -> list[str]:
    """The directories of the named top-level packages, found without importing them.

    Raises:
        TinySimError: a name that is not an importable package.
    """
    out = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise TinySimError(f"--ship-code: package {name!r} is not importable here")
        out.append(str(Path(spec.origin).resolve().parent))
    return out
