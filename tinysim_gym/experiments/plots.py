"""Figures: a comparison's trade-off and model usage, and the standard figures of a sweep table (PNG).

:func:`write_plots` draws a comparison (rows from :func:`~tinysim_gym.experiments.compare.compare`):
operating time against weighted accuracy with the frontier and the bound, and the model usage over time of
one policy. :func:`write_sweep_plots` draws a sweep table (``tinysim sweep`` output):

* ``accuracy_vs_time.png``: weighted accuracy against operating time, one point per scenario cell and
  policy (mean over seeds, bars: standard deviation), one panel per board.
* ``best_policy.png``: a heat map of the best policy per cell (highest mean ``metric``) over the two
  swept fields with the most values (or ``x`` / ``y``), one panel per board; fields not on an axis are
  averaged over.

Every file is written atomically (a temporary file in the same directory, then ``os.replace``).
"""

from __future__ import annotations

import io
import math
import os
import statistics
import textwrap
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinysim_gym.atomic import atomic_path, write_bytes
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.sweep.columns import SCENARIO_COLUMNS
from tinysim_gym.experiments.sweep.journal import read_table
from tinysim_gym.experiments.usage_plot import draw_usage

__all__ = ["pareto_frontier", "write_plots", "write_sweep_plots"]

BOARD = "board.name"


# ---------------------------------------------------------------------------------------------- compare


def pareto_frontier(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Policies no other policy beats on both operating time and weighted accuracy (the bound excluded)."""
    pts = [(r["policy"], float(r["operating_time_ms"]), float(r["weighted_accuracy"])) for r in rows
           if r.get("policy") != "bound"]
    front = []
    for p, t, a in pts:
        if not any((t2 >= t and a2 >= a) and (t2 > t or a2 > a) for _, t2, a2 in pts):
            front.append(p)
    return sorted(front, key=lambda p: next(t for q, t, _ in pts if q == p))


def write_plots(
    rows: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    policy: str | None = None,
    usage: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Path:
    """Save a PNG: the trade-off frontier (operating time vs weighted accuracy) and model usage over time.

    Args:
        rows: rows from :func:`compare`.
        path: the PNG to write (atomically).
        policy: whose model usage to plot (default: the one :func:`compare` recorded).
        usage: that policy's timeline, if ``rows`` is not a :class:`Rows` that carries it.
        title: figure title (default: the scenario name).
    """
    return write_bytes(path, plots_png(rows, policy=policy, usage=usage, title=title))


def plots_png(
    rows: Sequence[Mapping[str, Any]],
    policy: str | None = None,
    usage: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> bytes:
    """The PNG of :func:`write_plots`, as bytes (for a caller that writes it with other files, all or none)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    recorded = getattr(rows, "usage", {}) or {}
    if usage is None:
        if policy is None:
            policy = getattr(rows, "usage_policy", None) or next(iter(recorded), None)
        usage = recorded.get(policy) if policy is not None else None
    sc = getattr(rows, "scenario", None)
    title = title or (sc.name if sc is not None else "comparison")

    fig = Figure(figsize=(12, 4.8), dpi=110)
    ax1, ax2 = fig.subplots(1, 2)
    front = set(pareto_frontier(rows))
    pts = [r for r in rows if r.get("policy") != "bound"]
    groups: dict[tuple[float, float], list[str]] = {}  # policies on the same spot share one label
    for r in pts:
        key = (round(float(r["operating_time_ms"]) / 1000.0, 3), round(float(r["weighted_accuracy"]), 2))
        groups.setdefault(key, []).append(str(r["policy"]))
    for (t, a), names in groups.items():
        on = any(p in front for p in names)
        ax1.scatter([t], [a], s=40 if on else 25, color="C0" if on else "0.55", zorder=3)
        ax1.annotate(", ".join(names), (t, a), textcoords="offset points", xytext=(4, 4), fontsize=8)
    fr = sorted((float(r["operating_time_ms"]) / 1000.0, float(r["weighted_accuracy"])) for r in pts
                if r["policy"] in front)
    if fr:
        ax1.plot([p[0] for p in fr], [p[1] for p in fr], color="C0", lw=1, label="frontier")
    b = next((r for r in rows if r.get("policy") == "bound"), None)
    if b is not None:
        ax1.axhline(float(b["weighted_accuracy"]), color="C3", ls="--", lw=1,
                    label=f"bound {float(b['weighted_accuracy']):.2f} %")
        ax1.scatter([float(b["operating_time_ms"]) / 1000.0], [float(b["weighted_accuracy"])], marker="*",
                    s=160, facecolors="none", edgecolors="C3", zorder=4)
    ax1.set_xlabel("operating time (s)")
    ax1.set_ylabel("weighted accuracy (%)")
    ax1.set_title("trade-off frontier")
    ax1.grid(alpha=0.3)
    ax1.legend(loc="lower right", fontsize=8)

    draw_usage(ax2, usage, f"model usage over time: {policy}")
    fig.suptitle(title)
    fig.tight_layout()

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ sweeps


def _num(v: str) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _sorted_values(values: Sequence[str]) -> list[str]:
    uniq = list(dict.fromkeys(values))
    if all(_num(v) is not None for v in uniq):
        return sorted(uniq, key=lambda v: _num(v) or 0.0)
    return uniq


def _short(v: str) -> str:
    x = _num(v)
    return f"{x:g}" if x is not None else (v if len(v) <= 18 else v[:17] + "…")


def load_rows(path: str) -> tuple[list[str], list[dict[str, str]]]:
    """The table's header and its rows without errors, checked for the columns the figures need."""
    header, rows = read_table(path)
    need = ["cell", "policy", "seed", "operating_time_ms", "weighted_accuracy"]
    missing = [c for c in need if c not in header]
    if missing:
        raise TinySimError(f"{path}: not a sweep table (missing column {missing[0]!r}; write one with tinysim sweep)")
    ok = [r for r in rows if not r.get("error")]
    if not ok:
        raise TinySimError(f"{path}: no rows without errors to plot")
    return header, ok


def varying_columns(header: Sequence[str], rows: Sequence[dict[str, str]]) -> list[str]:
    """Scenario columns that take more than one value, one per group of columns that vary together."""
    cands = [c for c in ("scenario", *SCENARIO_COLUMNS) if c in header]
    groups: dict[tuple[int, ...], str] = {}
    for c in cands:
        vals = [r.get(c, "") for r in rows]
        if len(set(vals)) < 2:
            continue
        ids: dict[str, int] = {}
        partition = tuple(ids.setdefault(v, len(ids)) for v in vals)
        groups.setdefault(partition, c)  # the first column in table order represents its group
    return list(groups.values())


def _refines(rows: Sequence[dict[str, str]], a: str, b: str) -> bool:
    """True when the value of ``a`` determines the value of ``b``."""
    seen: dict[str, str] = {}
    for r in rows:
        if seen.setdefault(r.get(a, ""), r.get(b, "")) != r.get(b, ""):
            return False
    return True


def pick_axes(rows: Sequence[dict[str, str]], varying: list[str], x: str | None, y: str | None,
              header: Sequence[str]) -> tuple[str | None, str | None]:
    """The heat map's axes: the given ones, else the two independent swept fields with the most values."""
    for name, col in (("--x", x), ("--y", y)):
        if col is not None and col not in header:
            raise TinySimError(f"{name}: no column {col!r} in the table")
    cands = [c for c in varying if c != BOARD]
    count = {c: len({r.get(c, '') for r in rows}) for c in cands}
    order = sorted(cands, key=lambda c: -count[c])
    if x is None:
        x = next((c for c in order if c != y), None)
    if y is None and x is not None:
        y = next((c for c in order if c != x and not _refines(rows, x, c) and not _refines(rows, c, x)), None)
    return x, y


def _colors(n: int) -> list[Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def plot_accuracy_vs_time(rows: Sequence[dict[str, str]], varying: list[str], path: Path) -> None:
    """Weighted accuracy against operating time, per policy, one panel per board."""
    import matplotlib.pyplot as plt

    policies = list(dict.fromkeys(r["policy"] for r in rows))
    boards = list(dict.fromkeys(r.get(BOARD, "") for r in rows))
    colors = dict(zip(policies, _colors(len(policies)), strict=True))
    markers = "osD^v<>pPX*h"
    point_cols = [c for c in varying if c != BOARD]
    cols = min(3, len(boards))
    nrows = math.ceil(len(boards) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(max(8.0, 5.5 * cols), 4.2 * nrows), squeeze=False)
    for ax, board in zip(axes.flat, boards, strict=False):
        groups: dict[tuple[str, tuple[str, ...]], list[tuple[float, float]]] = defaultdict(list)
        for r in rows:
            if r.get(BOARD, "") != board:
                continue
            t, a = _num(r["operating_time_ms"]), _num(r["weighted_accuracy"])
            if t is not None and a is not None:
                groups[(r["policy"], tuple(r.get(c, "") for c in point_cols))].append((t / 1000.0, a))
        for i, pol in enumerate(policies):
            pts = [v for (p, _), v in groups.items() if p == pol]
            if not pts:
                continue
            xs = [statistics.fmean(t for t, _ in v) for v in pts]
            ys = [statistics.fmean(a for _, a in v) for v in pts]
            xe = [statistics.pstdev([t for t, _ in v]) for v in pts]
            ye = [statistics.pstdev([a for _, a in v]) for v in pts]
            ax.errorbar(xs, ys, xerr=xe, yerr=ye, fmt=markers[i % len(markers)], color=colors[pol], label=pol,
                        alpha=0.85, markersize=6, capsize=2, linewidth=0.8)
        ax.set_title(board or "board")
        ax.set_xlabel("operating time (s)")
        ax.set_ylabel("weighted accuracy (%)")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(boards):]:
        ax.set_visible(False)
    handles = [h for ax in axes.flat for h in ax.get_legend_handles_labels()[0]]
    handles = list({h.get_label(): h for h in handles}.values())
    sub = f" (points: {', '.join(point_cols)}; mean over seeds)" if point_cols else " (mean over seeds)"
    _legend_and_title(fig, handles, "weighted accuracy vs operating time per policy" + sub)
    _save(fig, path)


def plot_best_policy(rows: Sequence[dict[str, str]], x: str | None, y: str | None, metric: str,
                     varying: list[str], path: Path) -> None:
    """Heat map of the policy with the highest mean ``metric`` per (x, y) cell, one panel per board."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    policies = list(dict.fromkeys(r["policy"] for r in rows))
    boards = list(dict.fromkeys(r.get(BOARD, "") for r in rows)) if BOARD not in (x, y) else [None]
    xs = _sorted_values([r.get(x, "") for r in rows]) if x else [""]
    ys = _sorted_values([r.get(y, "") for r in rows]) if y else [""]
    colors = _colors(len(policies))
    averaged = [c for c in varying if c not in (x, y, BOARD)
                and not any(a and _refines(rows, a, c) for a in (x, y))]
    cols = min(2, len(boards))
    nrows = math.ceil(len(boards) / cols)
    w = max(5.0, 1.1 * len(xs) + 2.5)
    h = max(3.0, 0.7 * len(ys) + 2.0)
    fig, axes = plt.subplots(nrows, cols, figsize=(w * cols, h * nrows), squeeze=False)
    for ax, board in zip(axes.flat, boards, strict=False):
        vals: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for r in rows:
            if board is not None and r.get(BOARD, "") != board:
                continue
            v = _num(r[metric])
            if v is not None:
                vals[(r.get(x, "") if x else "", r.get(y, "") if y else "", r["policy"])].append(v)
        grid = np.full((len(ys), len(xs)), np.nan)
        for j, yv in enumerate(ys):
            for i, xv in enumerate(xs):
                means = [(statistics.fmean(vals[(xv, yv, p)]), -k, p) for k, p in enumerate(policies)
                         if vals.get((xv, yv, p))]
                if not means:
                    continue
                best, negk, pol = max(means)
                grid[j, i] = -negk
                ax.text(i, j, f"{_short(pol)}\n{best:.4g}", ha="center", va="center", fontsize=7)
        ax.imshow(grid, cmap=ListedColormap(colors), vmin=-0.5, vmax=len(policies) - 0.5, aspect="auto",
                  origin="lower", alpha=0.75)
        ax.set_xticks(range(len(xs)), [_short(v) for v in xs], rotation=30 if len(xs) > 6 else 0, fontsize=8)
        ax.set_yticks(range(len(ys)), [_short(v) for v in ys], fontsize=8)
        ax.set_xlabel(x or "")
        ax.set_ylabel(y or "")
        ax.set_title(board if board is not None else "all boards", fontsize=9)
    for ax in list(axes.flat)[len(boards):]:
        ax.set_visible(False)
    handles = [Patch(color=c, alpha=0.75, label=p) for p, c in zip(policies, colors, strict=True)]
    note = f"; averaged over {', '.join(averaged)}" if averaged else ""
    _legend_and_title(fig, handles, f"best policy per cell by mean {metric} (over seeds{note})")
    _save(fig, path)


def _legend_and_title(fig: Any, handles: list[Any], title: str) -> None:
    """Title on top, the policies' legend below the panels."""
    ncol = min(5, len(handles))
    rows = math.ceil(len(handles) / ncol)
    h = fig.get_figheight()
    bottom = min(0.4, (0.3 * rows + 0.15) / h)
    width = int(fig.get_figwidth() * 12)
    fig.suptitle("\n".join(textwrap.wrap(title, width)), fontsize=10)
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, bottom, 1, 1))


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def write_sweep_plots(table: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                      metric: str = "weighted_accuracy", x: str | None = None, y: str | None = None) -> list[Path]:
    """Write the standard figures of a sweep table; return their paths.

    Args:
        table: a table written by ``tinysim sweep``.
        out: the directory (default: ``<table>_plots`` beside the table).
        metric: the column the heat map ranks policies by.
        x: the heat map's x axis (a scenario column; default: the swept field with the most values).
        y: its y axis.

    Raises:
        TinySimError: not a sweep table, no rows without errors, or a metric or axis the table lacks.
    """
    table = str(table)
    header, rows = load_rows(table)
    if metric not in header:
        raise TinySimError(f"--metric: no column {metric!r} in the table")
    if all(_num(r[metric]) is None for r in rows):
        raise TinySimError(f"--metric: column {metric!r} holds no numbers")
    where = Path(out) if out else Path(table).with_name(Path(table).stem + "_plots")
    if where.exists() and not where.is_dir():
        raise TinySimError(f"--out: {str(where)!r} exists and is not a directory")
    varying = varying_columns(header, rows)
    x, y = pick_axes(rows, varying, x, y, header)
    written = [where / "accuracy_vs_time.png", where / "best_policy.png"]
    plot_accuracy_vs_time(rows, varying, written[0])
    plot_best_policy(rows, x, y, metric, varying, written[1])
    return written
