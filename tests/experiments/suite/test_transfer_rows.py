"""The transfer matrix's arithmetic: a combination's row, a cell, and the bar, on hand-made leaderboard rows."""

from __future__ import annotations

from typing import Any

import pytest

from tinysim_gym.experiments.suite.transfer import cell_row, combination_row, transfer_markdown, verdict


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
