"""Domain randomisation: which scenario fields may vary, how a variation is written, and drawing one.

A scenario's ``randomize`` section maps a field path (one of :data:`RANDOMIZABLE`) to a list of choices,
``{range: [lo, hi]}`` (uniform) or ``{log_range: [lo, hi]}`` (log-uniform, ``lo > 0``). The schema checks
each entry with :func:`check_randomize`; :func:`draw_overrides` draws one value per entry as a nested
override mapping, which :func:`tinysim_gym.config.loading.sample_scenario` merges into a concrete scenario.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

RANDOMIZABLE = (
    "board",
    "profile",
    "workload.min_interval_ms",
    "workload.arrival_probability",
    "workload.rate_hz",
    "battery.capacity_mah",
    "battery.initial_soc",
    "harvester.current_ma",
    "harvester.peak_current_ma",
    "horizon_ms",
)
"""Field paths a scenario's ``randomize`` section may name."""


def check_randomize(key: str, spec: Any) -> None:
    """Check one ``randomize`` entry.

    Args:
        key: the field path (one of :data:`RANDOMIZABLE`).
        spec: a non-empty list of choices, ``{range: [lo, hi]}`` or ``{log_range: [lo, hi]}`` (``lo > 0``).

    Raises:
        ValueError: a one-line message naming ``randomize.<key>`` (the schema turns it into a ConfigError).
    """
    if key not in RANDOMIZABLE:
        raise ValueError(f"randomize.{key}: cannot be randomised (allowed: {', '.join(RANDOMIZABLE)})")
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"randomize.{key}: the list of choices is empty")
        return
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("range", "log_range"):
        lo_hi = next(iter(spec.values()))
        if (
            isinstance(lo_hi, list)
            and len(lo_hi) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in lo_hi)
            and lo_hi[0] <= lo_hi[1]
            and (next(iter(spec)) == "range" or lo_hi[0] > 0)
        ):
            return
    raise ValueError(
        f"randomize.{key}: expected a list of choices, {{range: [lo, hi]}} or {{log_range: [lo, hi]}} (lo > 0)"
    )


def draw_overrides(randomize: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Draw one value for every entry of a (checked) ``randomize`` section.

    Entries are drawn in sorted key order, so a seeded generator always gives the same scenario.

    Args:
        randomize: field path -> list of choices, ``{range: [lo, hi]}`` or ``{log_range: [lo, hi]}``.
        rng: the generator to draw from.

    Returns:
        A nested override mapping (``{"battery": {"capacity_mah": 0.3}, ...}``) that also clears
        ``randomize``, so the scenario it builds is concrete.
    """
    over: dict[str, Any] = {"randomize": {}}
    for key in sorted(randomize):
        spec = randomize[key]
        if isinstance(spec, list):
            value = spec[int(rng.integers(len(spec)))]
        elif "range" in spec:
            lo, hi = spec["range"]
            value = float(rng.uniform(lo, hi))
        else:
            lo, hi = spec["log_range"]
            value = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        node = over
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return over
