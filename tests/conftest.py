import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# Published figures of the original (shared/spec/seed-model.md): value and tolerance per field.
PUBLISHED = {
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


@pytest.fixture(scope="session")
def published():
    return PUBLISHED


def assert_published(case: str, metrics: dict) -> None:
    for key, (value, tol) in PUBLISHED[case].items():
        assert abs(metrics[key] - value) <= tol + 1e-9, f"{case}.{key}: {metrics[key]} vs published {value}±{tol}"


# ---- hypothesis profiles (tests/test_properties.py, tests/test_hostile_input.py)
# `make test` uses "default": bounded example counts so the property tests stay around half a minute.
# HYPOTHESIS_PROFILE=long multiplies every property test's example count by EXAMPLE_SCALE["long"].
from hypothesis import HealthCheck, settings  # noqa: E402

_HYP_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                   print_blob=True)
settings.register_profile("default", max_examples=100, **_HYP_COMMON)
settings.register_profile("long", max_examples=2000, **_HYP_COMMON)
settings.register_profile("ci", max_examples=100, derandomize=True, **_HYP_COMMON)  # the same cases every run
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(HYPOTHESIS_PROFILE)
EXAMPLE_SCALE = {"long": 20}.get(HYPOTHESIS_PROFILE, 1)


def examples(n: int) -> int:
    """Example count for one property test: ``n`` in `make test`, more under HYPOTHESIS_PROFILE=long."""
    return n * EXAMPLE_SCALE
