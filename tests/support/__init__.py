"""Helpers the tests share: the original's published figures, and example counts for property tests.

The figures and what they mean are written down in ``docs/seed-model.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from baselines.original import AccuracyFirst, FuzzySelector, LatencyFirst, StaticSelector

#: The repository's root folder (configs/, docs/ and the package sources sit here).
ROOT = Path(__file__).resolve().parents[2]

#: Published figures of the original TinySimulator (``docs/seed-model.md``): value and tolerance per field.
PUBLISHED: dict[str, dict[str, tuple[float, float]]] = {
    "sync_1": {"operating_time_ms": (440245.630, 0.1), "inferences": (146261, 0), "dropped": (0, 0),
               "weighted_accuracy": (94.08, 0.1)},
    "sync_2": {"operating_time_ms": (587124.580, 0.1), "inferences": (195058, 0), "dropped": (0, 0),
               "weighted_accuracy": (93.52, 0.1)},
    "async_1": {"operating_time_ms": (336450.630, 0.1), "inferences": (146283, 0), "dropped": (20273, 0),
                "weighted_accuracy": (82.63, 0.1)},
    "async_2": {"operating_time_ms": (407469.580, 0.5), "inferences": (201720, 10), "dropped": (0, 0),
                "weighted_accuracy": (93.51, 0.1)},
    "async_3": {"operating_time_ms": (336449.630, 1), "inferences": (146283, 0), "dropped": (183574, 13),
                "weighted_accuracy": (41.72, 0.1)},
    "async_4": {"operating_time_ms": (336449.630, 1), "inferences": (224276, 0), "dropped": (105567, 13),
                "weighted_accuracy": (63.40, 0.1)},
    "acc_first": {"operating_time_ms": (440245.630, 0.1), "inferences": (146261, 0), "dropped": (0, 0),
                  "weighted_accuracy": (94.08, 0.1)},
    "lat_first": {"operating_time_ms": (1281372.070, 0.1), "inferences": (425705, 0), "dropped": (0, 0),
                  "weighted_accuracy": (87.50, 0.1)},
}


#: The selector each published case names, by its name in the scenario files.
SELECTORS = {
    "reference": lambda: StaticSelector(0),
    "fuzzy-tova": lambda: FuzzySelector("tova"),
    "accuracy-first": AccuracyFirst,
    "latency-first": LatencyFirst,
}


def assert_published(case: str, metrics: dict[str, Any]) -> None:
    """Every published figure of ``case`` is matched within its tolerance."""
    for key, (value, tol) in PUBLISHED[case].items():
        assert abs(metrics[key] - value) <= tol + 1e-9, f"{case}.{key}: {metrics[key]} vs published {value}±{tol}"


#: Hypothesis profile in use (registered in ``tests/conftest.py``); "long" multiplies every example count.
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
EXAMPLE_SCALE = {"long": 20}.get(HYPOTHESIS_PROFILE, 1)


def examples(n: int) -> int:
    """Example count for one property test: ``n`` in `make test`, more under HYPOTHESIS_PROFILE=long."""
    return n * EXAMPLE_SCALE


def tiny_horizon(name: str, horizon_ms: float = 5000, capacity_mah: float = 0.01) -> dict[str, Any]:
    """A small copy of ``usps-l476-async-horizon`` (the training scenario) for short training and recording runs."""
    return {
        "name": name,
        "description": f"test copy of usps-l476-async-horizon: {horizon_ms / 1000:g} s horizon on {capacity_mah:g} mAh",
        "board": "NUCLEO-L476RG",
        "profile": "usps_tova",
        "workload": {"mode": "async", "min_interval_ms": 2, "arrival_probability": 0.5, "buffer_size": 6},
        "battery": {"capacity_mah": capacity_mah},
        "horizon_ms": horizon_ms,
    }
