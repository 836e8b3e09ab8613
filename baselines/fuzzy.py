"""The original TinySimulator's fuzzy selectors as one parameterised zero-order Sugeno evaluator.

The original built two identical ``simpful`` systems (inputs "battery" in % and "queue" in samples, AND =
minimum, crisp rule outputs) and differed only in how the crisp output became a model index. Here the
whole rule base is a flat ``float64`` array (see :func:`make_params`), so a different rule base is just
different params, and the maths lives in one numba kernel, :func:`fuzzy_output`, that reproduces
``simpful``'s arithmetic operation for operation (same membership formulas, same rule order of the
weighted sum), hence bit for bit.

Membership functions are stored as trapezoids ``(a, b, c, d)``; a triangle ``(a, b, c)`` is the trapezoid
``(a, b, b, c)``, which ``simpful`` evaluates identically. Degenerate edges follow ``simpful``:
``a == b`` makes a left shoulder (membership 1 for every ``x < b``, also left of the universe) and
``c == d`` a right shoulder (membership 1 for every ``x > c``). Inputs are not clipped to the universe
of discourse (``simpful`` does not clip function-based sets either); every value is clamped to [0, 1].

When no rule fires (sum of firing strengths 0) the output is 0.0, as ``simpful`` returns (it also
prints a warning; this module does not print). The default rule base always fires.

Layout of ``params`` (all float64)::

    [0] n_battery  [1] n_queue  [2] n_outputs  [3] n_rules
    then 4 * n_battery battery breakpoints (a, b, c, d per set)
    then 4 * n_queue queue breakpoints
    then n_outputs output constants
    then 3 * n_rules rule rows (battery set, queue set, output) as indices, -1 = clause absent
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from tinysim_gym.core.jit import njit

VARIANT_TOVA = 0
VARIANT_STREAM = 1
VARIANTS: Mapping[str, int] = MappingProxyType({"tova": VARIANT_TOVA, "stream": VARIANT_STREAM})

HEADER = 4

DEFAULT_BATTERY_SETS: Mapping[str, tuple[float, ...]] = MappingProxyType(
    {
        "low": (0.0, 0.0, 25.0),
        "medium": (0.0, 25.0, 50.0),
        "high": (25.0, 50.0, 75.0),
        "full": (50.0, 75.0, 100.0, 100.0),
    }
)
DEFAULT_QUEUE_SETS: Mapping[str, tuple[float, ...]] = MappingProxyType(
    {
        "empty": (0.0, 0.0, 2.0),
        "half": (1.0, 2.0, 5.0),
        "full": (3.0, 5.0, 6.0, 6.0),
    }
)
DEFAULT_OUTPUTS: Mapping[str, float] = MappingProxyType({"small": 3.0, "average": 5.0, "high": 7.0, "C": 10.0})
# (battery set, queue set or None, output), in the original's order (the order of the weighted sum).
DEFAULT_RULES: tuple[tuple[str | None, str | None, str], ...] = (
    ("low", None, "small"),
    ("medium", None, "average"),
    ("high", None, "high"),
    ("full", None, "C"),
    ("full", "empty", "C"),
    ("full", "half", "high"),
    ("full", "full", "average"),
    ("high", "empty", "high"),
    ("high", "half", "average"),
    ("high", "full", "small"),
    ("medium", "empty", "average"),
    ("medium", "half", "small"),
    ("medium", "full", "small"),
    ("low", "empty", "small"),
    ("low", "half", "small"),
    ("low", "full", "small"),
)


def _trapezoid(name: str, points: Sequence[float]) -> tuple[float, float, float, float]:
    """Normalise a triangle ``(a, b, c)`` or trapezoid ``(a, b, c, d)`` to trapezoid breakpoints."""
    pts = [float(p) for p in points]
    if len(pts) == 3:
        pts.insert(2, pts[1])
    if len(pts) != 4:
        raise ValueError(f"fuzzy set {name!r}: expected 3 (triangle) or 4 (trapezoid) points, got {len(pts)}")
    a, b, c, d = pts
    if not all(math.isfinite(p) for p in pts) or not a <= b <= c <= d:
        raise ValueError(f"fuzzy set {name!r}: need finite, non-decreasing points: {tuple(points)}")
    return a, b, c, d


def make_params(
    battery_sets: Mapping[str, Sequence[float]] = DEFAULT_BATTERY_SETS,
    queue_sets: Mapping[str, Sequence[float]] = DEFAULT_QUEUE_SETS,
    outputs: Mapping[str, float] = DEFAULT_OUTPUTS,
    rules: Sequence[tuple[str | None, str | None, str]] = DEFAULT_RULES,
) -> np.ndarray:
    """Build the flat parameter array of a zero-order Sugeno rule base over (battery %, queue).

    Args:
        battery_sets: fuzzy sets of the battery input (SoC in %), name -> ``(a, b, c)`` triangle or
            ``(a, b, c, d)`` trapezoid, with ``simpful``'s ``Triangular_MF`` / ``Trapezoidal_MF`` meaning.
        queue_sets: fuzzy sets of the queue input (samples in the buffer), same form.
        outputs: crisp output constants, name -> value.
        rules: ``(battery set, queue set, output)`` triples in evaluation order; either set may be
            ``None`` (clause absent), not both. Two clauses are joined with AND = minimum.

    Returns:
        A read-only 1-D float64 array in the layout described in the module docstring.

    Raises:
        ValueError: on unknown names, malformed sets, an empty rule base or a rule without clauses.
    """
    b_names = list(battery_sets)
    q_names = list(queue_sets)
    o_names = list(outputs)
    if not rules:
        raise ValueError("the rule base is empty")
    rows: list[tuple[int, int, int]] = []
    for rule in rules:
        battery, queue, out = rule
        if battery is None and queue is None:
            raise ValueError(f"rule {rule!r} has no antecedent clause")
        if battery is not None and battery not in battery_sets:
            raise ValueError(f"rule {rule!r}: unknown battery set {battery!r} (known: {b_names})")
        if queue is not None and queue not in queue_sets:
            raise ValueError(f"rule {rule!r}: unknown queue set {queue!r} (known: {q_names})")
        if out not in outputs:
            raise ValueError(f"rule {rule!r}: unknown output {out!r} (known: {o_names})")
        rows.append(
            (
                -1 if battery is None else b_names.index(battery),
                -1 if queue is None else q_names.index(queue),
                o_names.index(out),
            )
        )
    values: list[float] = [float(len(b_names)), float(len(q_names)), float(len(o_names)), float(len(rows))]
    for name in b_names:
        values.extend(_trapezoid(name, battery_sets[name]))
    for name in q_names:
        values.extend(_trapezoid(name, queue_sets[name]))
    for name in o_names:
        value = float(outputs[name])
        if not math.isfinite(value):
            raise ValueError(f"output {name!r} must be finite, got {value}")
        values.append(value)
    for row in rows:
        values.extend(float(i) for i in row)
    params = np.asarray(values, dtype=np.float64)
    params.setflags(write=False)
    return params


DEFAULT_PARAMS: np.ndarray = make_params()


def check_params(params: object) -> np.ndarray:
    """Validate a flat rule base (the layout in the module docstring) before a kernel reads it.

    Returns:
        The params as a float64 array.

    Raises:
        ValueError: not a finite 1-D array of the layout its header announces, or a rule index out of range.
    """
    try:
        a = np.asarray(params, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("params: expected a flat list of numbers (see baselines.fuzzy.make_params)") from None
    if a.ndim != 1 or len(a) < HEADER or not np.isfinite(a).all():
        raise ValueError("params: expected a flat list of finite numbers starting with the 4 counts")
    counts = a[:HEADER]
    if (counts != np.round(counts)).any() or (counts < 0).any() or counts[3] < 1 or (counts[:3] > 1000).any():
        raise ValueError("params: the header must hold 4 whole counts (battery sets, queue sets, outputs, rules)")
    nb, nq, no, nr = (int(c) for c in counts)
    if nr > 10_000 or len(a) != HEADER + 4 * nb + 4 * nq + no + 3 * nr:
        raise ValueError(
            f"params: the header announces {nb} battery sets, {nq} queue sets, {no} outputs and {nr} rules "
            f"({HEADER + 4 * nb + 4 * nq + no + 3 * nr} numbers), got {len(a)} numbers"
        )
    rules = a[HEADER + 4 * nb + 4 * nq + no :].reshape(nr, 3)
    for i, (b, q, o) in enumerate(rules):
        if b != round(b) or q != round(q) or o != round(o) or not (-1 <= b < nb and -1 <= q < nq and 0 <= o < no):
            raise ValueError(f"params: rule {i} refers to a set or output that does not exist")
        if b == -1 and q == -1:
            raise ValueError(f"params: rule {i} has no antecedent clause")
    return a


def variant_code(variant: str) -> int:
    """Integer code of an index-mapping variant (``"tova"`` or ``"stream"``) for the njit kernels.

    Raises:
        ValueError: for an unknown variant name.
    """
    try:
        return VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown fuzzy variant {variant!r}; expected one of {sorted(VARIANTS)}") from None


@njit(cache=True)
def _membership(x: float, a: float, b: float, c: float, d: float) -> float:
    """``simpful``'s ``Trapezoidal_MF`` (``Triangular_MF`` when ``b == c``), clamped like ``MF_object``."""
    if x < b:
        if a != b:
            mu = (x - a) * (1.0 / (b - a))
        else:
            mu = 1.0
    elif x <= c:
        mu = 1.0
    elif c != d:
        mu = 1.0 + (x - c) * (-1.0 / (d - c))
    else:
        mu = 1.0
    # min(1, max(0, mu)) with Python's semantics (NaN -> 0)
    if not mu > 0.0:
        mu = 0.0
    if not mu < 1.0:
        mu = 1.0
    return mu


@njit(cache=True)
def fuzzy_output(soc_pct: float, queue: float, params: np.ndarray) -> float:
    """Crisp output of the zero-order Sugeno rule base ``params`` at (battery %, queue).

    Args:
        soc_pct: state of charge in percent (the original's ``battery``).
        queue: samples in the buffer.
        params: rule base from :func:`make_params` (e.g. :data:`DEFAULT_PARAMS`).

    Returns:
        ``sum(w_i * z_i) / sum(w_i)`` over the rules in order (``w_i`` = firing strength, ``z_i`` = output
        constant), or 0.0 when no rule fires.
    """
    nb = int(params[0])
    nq = int(params[1])
    no = int(params[2])
    nr = int(params[3])
    ob = HEADER
    oq = ob + 4 * nb
    oo = oq + 4 * nq
    orr = oo + no
    x = float(soc_pct)
    y = float(queue)
    num = 0.0
    den = 0.0
    for r in range(nr):
        ib = int(params[orr + 3 * r])
        iq = int(params[orr + 3 * r + 1])
        io = int(params[orr + 3 * r + 2])
        if iq < 0:
            k = ob + 4 * ib
            w = _membership(x, params[k], params[k + 1], params[k + 2], params[k + 3])
        else:
            k = oq + 4 * iq
            w = _membership(y, params[k], params[k + 1], params[k + 2], params[k + 3])
            if ib >= 0:
                k = ob + 4 * ib
                wb = _membership(x, params[k], params[k + 1], params[k + 2], params[k + 3])
                if wb < w:
                    w = wb
        num += w * params[oo + io]
        den += w
    if den == 0.0:
        return 0.0
    return num / den


@njit(cache=True)
def fuzzy_output_array(soc: np.ndarray, queue: np.ndarray, params: np.ndarray) -> np.ndarray:
    """:func:`fuzzy_output` over two equally long 1-D arrays (element by element)."""
    n = soc.shape[0]
    if queue.shape[0] != n:
        raise ValueError("soc and queue must have the same length")
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = fuzzy_output(soc[i], queue[i], params)
    return out


@njit(cache=True)
def fuzzy_index_kernel(output: float, variant: int) -> int:
    """Model index from the crisp output, as the original's two selectors did.

    Args:
        output: crisp output of :func:`fuzzy_output`.
        variant: :data:`VARIANT_TOVA` (``round(output)`` half to even, 10 -> 0) or :data:`VARIANT_STREAM`
            (``<= 3`` -> 0, ``<= 5`` -> 1, else 2).

    Returns:
        The model index (not checked against the size of any model set).
    """
    if variant == VARIANT_TOVA:
        idx = int(np.rint(output))  # rint rounds half to even, as Python's round()
        if idx == 10:
            idx = 0
        return idx
    if output <= 3.0:
        return 0
    if output <= 5.0:
        return 1
    return 2


@njit(cache=True)
def fuzzy_select_kernel(soc_pct: float, queue: float, params: np.ndarray, variant: int) -> int:
    """:func:`fuzzy_output` followed by :func:`fuzzy_index_kernel`."""
    return fuzzy_index_kernel(fuzzy_output(soc_pct, queue, params), variant)


def fuzzy_index(output: float, variant: str) -> int:
    """Model index from the crisp output for a variant named ``"tova"`` or ``"stream"``.

    Raises:
        ValueError: for an unknown variant name.
    """
    return int(fuzzy_index_kernel(float(output), variant_code(variant)))


def fuzzy_select(soc_pct: float, queue: float, variant: str, params: np.ndarray = DEFAULT_PARAMS) -> int:
    """Model index the original's fuzzy selector ``variant`` picks at (battery %, queue).

    Raises:
        ValueError: for an unknown variant name.
    """
    return int(fuzzy_select_kernel(float(soc_pct), float(queue), params, variant_code(variant)))
