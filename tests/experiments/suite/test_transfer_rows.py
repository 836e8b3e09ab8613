"""The transfer matrix: a combination's row, a cell and the bar on hand-made rows; the suite without its oracle."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import baselines
from tinysim_gym.config import load_scenario
from tinysim_gym.config.suite import load_task
from tinysim_gym.core.engine import Engine
from tinysim_gym.experiments.pool import LocalPool
from tinysim_gym.experiments.suite.leaderboard import run_suite
from tinysim_gym.experiments.suite.transfer import cell_row, combination_row, transfer_markdown, verdict
from tinysim_gym.optimal.lp import bound


def rows(agent: float, lat: float, ladder: float, oracle: float | None, upper: float = 99.0) -> list[dict[str, Any]]:
    def row(policy: str, mean: float | None, norm: float | None = None) -> dict[str, Any]:
        return {"policy": policy, "mean": mean, "seed_count": 3, "normalised": norm}

    random = 50.0
    span = (oracle if oracle is not None else upper) - random
    return [row("latency-first", lat), row("ladder", ladder), row("random", random), row("fuzzy", None),
            row("oracle", oracle), row("upper", upper), row("agent:generalist", agent, 100 * (agent - random) / span)]


def test_a_combination_compares_the_agent_with_both_heuristics_and_the_oracle() -> None:
    win = combination_row(("generalist", "g", "B x P"), rows(agent=90.0, lat=88.0, ladder=90.0, oracle=91.5))
    assert win["wins"] == "yes" and win["best_heuristic"] == "ladder"  # a tie with the best heuristic counts
    assert win["below_reference"] == pytest.approx(1.5) and win["reference"] == "oracle"
    lose = combination_row(("generalist", "g", "B x Q"), rows(agent=89.0, lat=89.5, ladder=85.0, oracle=92.0))
    assert lose["wins"] == "no" and lose["best_heuristic"] == "latency-first"  # None means (fuzzy) are skipped
    no_oracle = combination_row(("generalist", "g", "B x R"), rows(agent=90.0, lat=80.0, ladder=80.0, oracle=None))
    assert no_oracle["reference"] == "upper" and no_oracle["below_reference"] == pytest.approx(9.0)


def test_cells_and_the_bar_average_over_combinations() -> None:
    combos = [combination_row(("generalist", "g", f"c{k}"), rows(agent=90.0 - k, lat=88.0, ladder=87.0, oracle=91.0))
              for k in range(4)]  # the agent is 1, 2, 3, 4 points below the oracle; it loses at c3 (87 < 88)
    cell = cell_row("generalist", "g", combos)
    assert cell["below_reference"] == pytest.approx(2.5) and cell["wins"] == "3/4"
    assert cell["normalised"] == pytest.approx(sum(100 * (40.0 - k) / 41.0 for k in range(4)) / 4)
    v = verdict(combos)
    assert v["wins"] == 3 and v["win_share"] == 0.75 and not v["meets_bar"] and v["failing"] == ["g: c3"]
    text = transfer_markdown([cell], combos)
    assert "| generalist |" in text and "not met" in text and "g: c3" in text


def test_without_the_oracle_upper_is_the_lp_bound_and_the_normalisation_reference(tiny_tasks: list[str]) -> None:
    task = load_task(tiny_tasks[0])
    sc = load_scenario(task.scenario)
    pool = LocalPool(1)
    try:
        rows = run_suite([task], ["budget", "random"], seeds=2, pool=pool, registry=baselines, progress=False,
                         oracle=False)
    finally:
        pool.close()
    by = {r["policy"]: r for r in rows}
    assert by["oracle"]["mean"] is None and by["upper"]["mean"] == pytest.approx(bound(sc).weighted_accuracy)
    runs = [Engine(sc).run(baselines.make("budget"), seed=s)["weighted_accuracy"] for s in (1000, 1001)]
    random = by["random"]["mean"]
    assert by["budget"]["normalised"] == pytest.approx(100 * (np.mean(runs) - random) / (by["upper"]["mean"] - random))
    as_agent = [{**r, "policy": "agent:x" if r["policy"] == "budget" else r["policy"]} for r in rows]
    combo = combination_row(("t", "g", "c"), [*as_agent, by["budget"]])
    assert combo["reference"] == "upper"
    assert combo["below_reference"] == pytest.approx(by["upper"]["mean"] - np.mean(runs))
