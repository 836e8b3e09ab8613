"""Domain randomisation: which scenario fields may vary, how a variation is written, and drawing one.

A scenario's ``randomize`` section maps a field path (one of :data:`RANDOMIZABLE`) to a list of choices,
``{range: [lo, hi]}`` (uniform), ``{log_range: [lo, hi]}`` (log-uniform, ``lo > 0``) or ``{scale: [lo, hi]}``
(the field's value times a log-uniform factor, ``lo > 0``). The schema checks each entry with
:func:`check_randomize`; :func:`draw_overrides` draws one value per entry as a nested override mapping, which
:func:`tinysim_gym.config.loading.sample_scenario` merges into a concrete scenario.

``device`` is the one entry that is not a field: a list of nested override mappings (a board, a profile and
the workload, battery, horizon and harvester that suit them), one drawn first and merged over the scenario;
``scale`` entries then multiply the drawn device's values, so one range (``battery.capacity_mah: {scale:
[0.5, 2]}``) means "half to twice the device's battery" on devices whose charge per inference differs by
orders of magnitude. A device that sets ``harvester`` replaces the scenario's harvester as a whole; a
``scale`` of a field the drawn device lacks (a harvester current without a harvester) changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

RANDOMIZABLE = (
    "device",
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
    if key == "device":
        if not isinstance(spec, list) or not spec or not all(isinstance(d, dict) and d for d in spec):
            raise ValueError("randomize.device: expected a non-empty list of non-empty mappings (scenario overrides)")
        if any("randomize" in d for d in spec):
            raise ValueError("randomize.device: a device cannot randomise (put the ranges beside `device`)")
        return
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"randomize.{key}: the list of choices is empty")
        return
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("range", "log_range", "scale"):
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
        f"randomize.{key}: expected a list of choices, {{range: [lo, hi]}}, {{log_range: [lo, hi]}} (lo > 0) "
        "or {scale: [lo, hi]} (lo > 0)"
    )


def draw_overrides(randomize: Mapping[str, Any], rng: np.random.Generator,
                   base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Draw one value for every field entry of a (checked) ``randomize`` section (``device`` aside).

    Entries are drawn in sorted key order, so a seeded generator always gives the same scenario.

    Args:
        randomize: field path -> list of choices, ``{range: [lo, hi]}``, ``{log_range: [lo, hi]}`` or
            ``{scale: [lo, hi]}``.
        rng: the generator to draw from.
        base: the scenario mapping a ``scale`` multiplies (the drawn device merged in); a ``scale`` of a
            field it lacks is drawn (the stream stays the same) but not applied.

    Returns:
        A nested override mapping (``{"battery": {"capacity_mah": 0.3}, ...}``) that also clears
        ``randomize``, so the scenario it builds is concrete.
    """
    over: dict[str, Any] = {"randomize": {}}
    for key in sorted(randomize):
        spec = randomize[key]
        if key == "device":
            continue
        if isinstance(spec, list):
            value = spec[int(rng.integers(len(spec)))]
        elif "range" in spec:
            lo, hi = spec["range"]
            value = float(rng.uniform(lo, hi))
        else:
            lo, hi = spec.get("log_range") or spec["scale"]
            value = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            if "scale" in spec:
                current = field_value(base or {}, key)
                if not isinstance(current, int | float) or isinstance(current, bool):
                    continue
                value *= float(current)
        node = over
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return over


def field_value(mapping: Mapping[str, Any], key: str) -> Any:
    """The value at a dotted field path of a scenario mapping (None when a part is missing)."""
    node: Any = mapping
    for part in key.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node

