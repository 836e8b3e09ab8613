"""C99 source text from numbers: exact literals and constant arrays.

Every number is written as a C99 hexadecimal floating literal (``0x1.8p+1``), which names one binary value
exactly, so the compiled constants are the very float32 / float64 values the Python side computed with;
decimal literals would round twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinysim_gym.errors import TinySimError


def c_double(x: float) -> str:
    """An exact C ``double`` literal of ``x`` (finite)."""
    x = float(x)
    if not math.isfinite(x):
        raise TinySimError(f"export: cannot write the non-finite number {x!r} into C")
    return x.hex()


def c_float(x: float) -> str:
    """An exact C ``float`` literal of ``x`` rounded to float32."""
    return c_double(float(np.float32(x))) + "f"


def c_array(ctype: str, name: str, values: Iterable[str], per_line: int = 6) -> str:
    """``static const <ctype> name[n] = {...};`` from already formatted literals."""
    items = list(values)
    if not items:
        items = ["0"]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n    ".join(lines)
    return f"static const {ctype} {name}[{len(items)}] = {{\n    {body}\n}};\n"


def floats(values: np.ndarray) -> list[str]:
    """float32 literals of an array, flattened in C order."""
    return [c_float(v) for v in np.asarray(values, dtype=np.float32).ravel()]


def doubles(values: np.ndarray) -> list[str]:
    """C double literals of an array, flattened in C order."""
    return [c_double(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def ints(values: np.ndarray) -> list[str]:
    """Integer literals of an array, flattened in C order."""
    return [str(int(v)) for v in np.asarray(values).ravel()]
