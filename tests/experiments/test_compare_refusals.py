"""``compare`` with every policy leaves out those that cannot run the scenario, and says why."""

from __future__ import annotations

import pytest

import baselines
from tinysim_gym.config import load_scenario
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.compare import compare


def test_every_policy_skips_the_fuzzy_rule_base_on_a_one_model_profile():
    sc = load_scenario("mlperf-kws-ndp9120-coincell-14d", horizon_ms=20_000.0)
    rows = compare(sc, seeds=1, processes=1, progress=False, usage_policy=None, registry=baselines)
    assert set(rows.skipped) == {"fuzzy"} and "profile has 1 models" in rows.skipped["fuzzy"]
    assert [r["policy"] for r in rows] == [*(n for n in baselines.names() if n != "fuzzy"), "bound"]
    assert len({r["inferences"] for r in rows[:-1]}) == 1  # one model: every policy serves alike
    with pytest.raises(TinySimError, match="fuzzy variant"):  # asked for by name: refused, not skipped
        compare(sc, policies=["fuzzy"], processes=1, progress=False, usage_policy=None, registry=baselines)
