"""One form for every benchmark figure that has a goal: ``{"value", "goal", "unit", "met"}``.

Each benchmark prints one JSON object whose ``"figures"`` maps a figure's name to :func:`figure`;
``benchmarks/readme_table.py`` turns the output of ``make bench`` into the README's speed table.
"""

from __future__ import annotations

from typing import Any


def figure(value: float, goal: float, unit: str, higher_is_better: bool = False, **context: Any) -> dict[str, Any]:
    """A measured figure beside its goal; ``met`` when it is at most (or, ``higher_is_better``, at least) the goal.

    ``context`` (how it was measured: a command, a peer figure) is kept beside it.
    """
    met = value >= goal if higher_is_better else value <= goal
    digits = 3 if abs(value) < 100 else 0
    shown: float | int = round(value, digits) if digits else round(value)
    return {"value": shown, "goal": goal, "unit": unit, "met": bool(met),
            "better": "higher" if higher_is_better else "lower", **context}
