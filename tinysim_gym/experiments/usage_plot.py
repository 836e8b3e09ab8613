"""The model usage over an episode as a figure: the share of each model's inferences over simulated time.

One drawing for the comparison figure (:func:`tinysim_gym.experiments.plots.plots_png`) and for the image
that training logs to TensorBoard at each held-out evaluation (:func:`usage_image`). A timeline is what
:func:`agents.rollout.run_seeds` and :func:`tinysim_gym.experiments.compare.compare` record:
``{"time_ms": [...], "counts": [[cumulative inferences per model], ...], "model_ids": [...]}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def draw_usage(ax: Any, usage: Mapping[str, Any] | None, title: str) -> None:
    """Draw ``usage`` on a matplotlib axis: a stacked share per model between successive points.

    Args:
        ax: the matplotlib ``Axes``.
        usage: the timeline (None or empty: a note that none was recorded).
        title: the axis title.
    """
    if not usage:
        ax.text(0.5, 0.5, "no usage timeline recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    t = np.asarray(usage["time_ms"], dtype=np.float64) / 1000.0
    c = np.asarray(usage["counts"], dtype=np.float64)
    ids = usage.get("model_ids") or [str(i) for i in range(c.shape[1])]
    if len(t) >= 2:
        d = np.diff(c, axis=0)
        tot = d.sum(axis=1, keepdims=True)
        share = np.divide(d, tot, out=np.zeros_like(d), where=tot > 0)
        used = [k for k in range(c.shape[1]) if c[-1, k] > 0]
        if not used:  # every sample dropped or skipped: nothing to stack
            ax.text(0.5, 0.5, "no inference in this episode", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(title)
            return
        ax.stackplot(t[1:], *[share[:, k] for k in used], labels=[f"model {ids[k]}" for k in used], step="pre")
        ax.set_ylim(0, 1)
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    ax.set_title(title)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("share of inferences")


def usage_image(usage: Mapping[str, Any] | None, title: str, size: tuple[float, float] = (6.4, 3.6),
                dpi: int = 100) -> np.ndarray:
    """The usage figure as an RGB image (height x width x 3, uint8), drawn without pyplot or a display."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    draw_usage(fig.subplots(), usage, title)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
