"""Settings for the whole suite: the plot backend and hypothesis profiles (helpers live in :mod:`tests.support`)."""

import os

from hypothesis import HealthCheck, settings

from tests.support import HYPOTHESIS_PROFILE

os.environ.setdefault("MPLBACKEND", "Agg")  # figures render off-screen in every test
# The suite tests numba's kernels and cache, children included; tests/core/test_aot.py turns the
# ahead-of-time kernels on where it tests them.
os.environ["TINYSIM_AOT"] = "0"


# ---- hypothesis profiles (the property and hostile-input tests)
# `make test` uses "default": bounded example counts so the property tests stay around half a minute.
# HYPOTHESIS_PROFILE=long multiplies every property test's example count (tests.support.examples).
_HYP_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                   print_blob=True)
settings.register_profile("default", max_examples=100, **_HYP_COMMON)
settings.register_profile("long", max_examples=2000, **_HYP_COMMON)
settings.register_profile("ci", max_examples=100, derandomize=True, **_HYP_COMMON)  # the same cases every run
settings.load_profile(HYPOTHESIS_PROFILE)
