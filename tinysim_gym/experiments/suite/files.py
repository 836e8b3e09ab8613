"""The leaderboard's files: a Markdown table (with a per-task summary), the tidy CSV, a PNG of the scores.

The CSV is the one table writer's (:func:`~tinysim_gym.experiments.table.rows_csv`), the Markdown table its
:func:`~tinysim_gym.experiments.table.markdown_table`; :func:`write_leaderboard` writes all three or none.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinysim_gym.atomic import write_files
from tinysim_gym.experiments.suite.leaderboard import COLUMNS
from tinysim_gym.experiments.table import markdown_table, rows_csv

#: the oracle must beat the best heuristic by this many points before closing its gap is asked for
GAP_WORTH_CLOSING = 2.0
#: the share of that gap an agent must close
GAP_SHARE = 0.75

LEADERBOARD_COLUMNS = (
    ("task", "task", "{}"), ("policy", "policy", "{}"), ("seed_count", "seeds", "{}"),
    ("mean", "weighted acc %", "{:.3f}"), ("std", "std", "{:.3f}"), ("normalised", "normalised", "{:.1f}"),
    ("certified_gap", "certified gap", "{:.3f}"), ("train_seeds", "train seeds", "{}"),
)
SUMMARY_COLUMNS = (
    ("task", "task", "{}"), ("best_heuristic", "best heuristic", "{}"), ("best_heuristic_mean", "its acc %", "{:.3f}"),
    ("oracle", "oracle %", "{:.3f}"), ("oracle_margin", "oracle - heuristic", "{:.3f}"),
    ("agent", "agent", "{}"), ("agent_mean", "agent acc %", "{:.3f}"), ("agent_std", "agent std", "{:.3f}"),
    ("beats_heuristic", "agent >= heuristic", "{}"), ("gap_closed", "gap closed %", "{:.0f}"),
    ("verdict", "verdict", "{}"),
)


def summary_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per task: the best heuristic, the oracle, the best agent, and whether the agent meets the suite's bar.

    The bar: the agent's mean is at least the best heuristic's; where the oracle beats that heuristic by at
    least :data:`GAP_WORTH_CLOSING` points, the agent also closes at least :data:`GAP_SHARE` of that gap.
    """
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        heur = [r for r in mine if r["policy"] not in ("oracle", "upper") and not str(r["policy"]).startswith("agent")
                and r["mean"] is not None]
        agents = [r for r in mine if str(r["policy"]).startswith("agent") and r["mean"] is not None]
        oracle = next(r["mean"] for r in mine if r["policy"] == "oracle")
        best = max(heur, key=lambda r: r["mean"])
        row: dict[str, Any] = {"task": task, "best_heuristic": best["policy"], "best_heuristic_mean": best["mean"],
                               "oracle": oracle, "oracle_margin": oracle - best["mean"]}
        if agents:
            ag = max(agents, key=lambda r: r["mean"])
            margin = oracle - best["mean"]
            needs_gap = margin >= GAP_WORTH_CLOSING
            # the share is asked for (and meaningful) only where the oracle's margin is worth closing
            closed = 100.0 * (ag["mean"] - best["mean"]) / margin if needs_gap else None
            beats = ag["mean"] >= best["mean"]
            ok = beats and (not needs_gap or (closed is not None and closed >= 100 * GAP_SHARE))
            row |= {"agent": ag["policy"], "agent_mean": ag["mean"], "agent_std": ag["std"],
                    "beats_heuristic": "yes" if beats else "no", "gap_closed": closed,
                    "verdict": _verdict(ok, beats, best["mean"] - ag["mean"], closed)}
        out.append(row)
    return out


def _verdict(ok: bool, beats: bool, shortfall: float, closed: float | None) -> str:
    """The bar's verdict, with how far a miss is: a shortfall below the table's three decimals still shows."""
    if ok:
        return "meets the bar"
    if not beats:  # two significant digits, never in scientific notation
        points = np.format_float_positional(shortfall, 2, fractional=False, trim="-")
        return f"below the bar: {points} points under the heuristic"
    # floored (past rounding noise): a share just short of the bar must not round up to it
    return f"below the bar: closes {math.floor((closed or 0.0) + 1e-9)} % of the gap ({100 * GAP_SHARE:.0f} % asked)"


def leaderboard_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The per-task summary, then every row (weighted accuracy % on the evaluation seeds)."""
    return ("### Summary\n\n" + markdown_table(summary_rows(rows), SUMMARY_COLUMNS)
            + "\n### Every policy\n\n" + markdown_table(rows, LEADERBOARD_COLUMNS))


def leaderboard_png(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Normalised score per task (0 = random, 100 = oracle), one bar per policy."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    policies = [p for p in dict.fromkeys(r["policy"] for r in rows) if p not in ("random",)]
    fig = Figure(figsize=(max(8.0, 1.4 * len(tasks) + 3), 4.8), dpi=110)
    ax = fig.subplots()
    width = 0.8 / max(len(policies), 1)
    for i, p in enumerate(policies):
        xs, ys = [], []
        for j, t in enumerate(tasks):
            v = next((r["normalised"] for r in rows if r["task"] == t and r["policy"] == p), None)
            if v is not None:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(max(min(float(v), 150.0), -50.0))
        ax.bar(xs, ys, width=width, label=p, color=f"C{i % 10}", hatch="//" if i >= 10 else None)
    ax.axhline(100.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(range(len(tasks)), tasks, rotation=20)
    ax.set_ylabel("normalised score (random 0, oracle 100)")
    ax.set_title("TinySim suite leaderboard")
    ax.legend(fontsize=7, ncol=4, loc="lower left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_leaderboard(rows: Sequence[Mapping[str, Any]], out: str | Path) -> list[Path]:
    """Write ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.png`` under ``out`` (all or none)."""
    d = Path(out)
    tidy = [{k: r.get(k) for k in COLUMNS} for r in rows]
    return write_files({d / "leaderboard.md": leaderboard_markdown(tidy), d / "leaderboard.csv": rows_csv(tidy),
                        d / "leaderboard.png": leaderboard_png(tidy)})
