"""``pretrained:generalist``: one shipped network plays devices with different model counts in one evaluation."""

from __future__ import annotations

from typing import Any

import pytest

from agents.evaluation import evaluate_agent
from agents.loading import load_agent
from agents.pretrained import pretrained_tasks
from agents.rollout import policy_fn, run_seeds

pytestmark = pytest.mark.skipif("generalist" not in pretrained_tasks(), reason="pretrained:generalist not shipped")

WORKLOAD = {"mode": "async", "min_interval_ms": 70.0, "arrival_probability": 0.004, "buffer_size": 6,
            "timebase_ms": 0.1}
KWS = {"board": "NUCLEO-L4R5ZI", "profile": "mlperf_tiny_v1.1_l4r5zi_kws_ladder"}  # 2 models
USPS = {"board": "NUCLEO-L476RG", "profile": "usps_tova",  # 10 models
        "workload": {**WORKLOAD, "min_interval_ms": 1.8, "arrival_probability": 0.013, "timebase_ms": 0.01}}


def two_devices() -> dict[str, Any]:
    return {"name": "two-devices", **KWS, "workload": WORKLOAD, "battery": {"capacity_mah": 0.5, "initial_soc": 1.0},
            "horizon_ms": 20_000.0, "seed_compat": False,
            "randomize": {"device": [KWS, {**USPS, "battery": {"capacity_mah": 0.002}, "horizon_ms": 600.0}]}}


def test_one_network_plays_two_and_ten_models_in_one_run() -> None:
    agent = load_agent("pretrained:generalist")
    runs, _ = run_seeds(policy_fn(agent.model, agent.normalizer), agent.env_config(two_devices()), list(range(6)))
    sizes = sorted({len(r["model_counts"]) for r in runs})
    assert sizes == [2, 10]
    for r in runs:
        assert r["arrivals"] > 0 and 0.0 < r["weighted_accuracy"] <= 100.0


def test_evaluate_takes_any_concrete_scenario_and_names_the_agent_row() -> None:
    kws = {k: v for k, v in two_devices().items() if k != "randomize"}
    rows = evaluate_agent("pretrained:generalist", scenario=kws, seeds=2, baselines=False)
    assert [r["policy"] for r in rows][0].startswith("agent")
