"""``tinysim plot``: the standard figures of a sweep table (``tinysim sweep`` output), as PNG.

Writes into ``--out`` (default: ``<table>_plots/`` beside the table):

* ``accuracy_vs_time.png``: weighted accuracy against operating time, one point per scenario cell and
  policy (mean over seeds, bars: standard deviation), one panel per board.
* ``best_policy.png``: a heat map of the best policy per cell (highest mean ``--metric``) over the two
  swept fields with the most values (or ``--x`` / ``--y``), one panel per board; fields not on an axis
  are averaged over.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinysim_gym.cli.common import atomic_path
from tinysim_gym.errors import TinySimError

BOARD = "board.name"


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    p = sub.add_parser("plot", help="figures of a sweep table (PNG)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", metavar="SWEEP_CSV", help="a table written by tinysim sweep")
    p.add_argument("--out", metavar="DIR", help="output directory (default: <table>_plots beside the table)")
    p.add_argument("--metric", default="weighted_accuracy", help="metric for the heat map (default: %(default)s)")
    p.add_argument("--x", metavar="COLUMN", help="heat map x axis (a scenario column of the table)")
    p.add_argument("--y", metavar="COLUMN", help="heat map y axis")
    p.set_defaults(func=run)


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
    from tinysim_gym.experiments.sweep import read_table

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
    from tinysim_gym.experiments.sweep import SCENARIO_COLUMNS

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
    import numpy as np

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
    import textwrap

    width = int(fig.get_figwidth() * 12)
    fig.suptitle("\n".join(textwrap.wrap(title, width)), fontsize=10)
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, bottom, 1, 1))


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    """Write the figures and print their paths."""
    import matplotlib

    matplotlib.use("Agg")
    header, rows = load_rows(args.table)
    if args.metric not in header:
        raise TinySimError(f"--metric: no column {args.metric!r} in the table")
    if all(_num(r[args.metric]) is None for r in rows):
        raise TinySimError(f"--metric: column {args.metric!r} holds no numbers")
    out = Path(args.out) if args.out else Path(args.table).with_name(Path(args.table).stem + "_plots")
    if out.exists() and not out.is_dir():
        raise TinySimError(f"--out: {str(out)!r} exists and is not a directory")
    varying = varying_columns(header, rows)
    x, y = pick_axes(rows, varying, args.x, args.y, header)
    written = [out / "accuracy_vs_time.png", out / "best_policy.png"]
    plot_accuracy_vs_time(rows, varying, written[0])
    plot_best_policy(rows, x, y, args.metric, varying, written[1])
    for p in written:
        print(p)
    return 0
