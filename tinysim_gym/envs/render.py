"""Rendering for both envs: a trace of the episode sampled over simulated time, drawn as a dashboard.

:class:`Trace` samples the device every ``render_every_ms`` of simulated time (charge, buffer, the model in
use, running weighted accuracy and harvest current); :class:`Dashboard` draws it with matplotlib, either as
``rgb_array`` frames (an off-screen Agg canvas, no pyplot state) or as a live ``human`` window. matplotlib is
imported only when a dashboard is built, so importing the env stays cheap and ``render_mode=None`` never
loads it. The static parts of the figure (axes, ticks, labels) are drawn once and the curves are blitted over
them, so a frame costs a few milliseconds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tinysim_gym.core import kernels as K

if TYPE_CHECKING:
    from tinysim_gym.core.engine import Engine

#: frame size of ``rgb_array`` (pixels, width x height) and the figure's resolution
FRAME_SIZE = (640, 480)
DPI = 100

#: the dashboard's panels: (trace field, y label)
PANELS = (
    ("charge", "charge %"),
    ("buffer", "buffer"),
    ("model", "model"),
    ("accuracy", "w. acc. %"),
    ("harvest", "harvest mA"),
)


class Trace:
    """The episode sampled every ``every_ms`` of simulated time (at most one sample per env step).

    Args:
        every_ms: simulated time between samples.
    """

    def __init__(self, every_ms: float) -> None:
        self.every_ms = float(every_ms)
        self.fields: dict[str, list[float]] = {"time_s": [], **{name: [] for name, _ in PANELS}}
        self.next_ms = 0.0
        self._last_ms, self._last_mah = 0.0, 0.0
        self.version = 0  # bumped at every sample, so a dashboard redraws only when there is something new
        self.status = ""

    def reset(self, eng: Engine) -> None:
        """Start a new episode and take its first sample."""
        for values in self.fields.values():
            values.clear()
        self.next_ms = 0.0
        self.observe(eng)

    def observe(self, eng: Engine) -> bool:
        """Take a sample when ``every_ms`` has passed since the last one; returns whether it did."""
        t = eng.time_ms
        if t < self.next_ms and not eng.done:
            return False
        served = eng.inferences + eng.dropped
        harvested = float(eng.FS[K.G_HARVESTED])
        f = self.fields
        # the harvest current is the charge harvested into the battery since the previous sample, per hour
        dt_h = (t - self._last_ms) / 3.6e6
        rate = (harvested - self._last_mah) / dt_h if f["time_s"] and dt_h > 0 else 0.0
        f["time_s"].append(t / 1000.0)
        f["charge"].append(100.0 * eng.soc)
        f["buffer"].append(float(eng.queue))
        f["model"].append(float(eng.last_action) if eng.last_action >= 0 else math.nan)
        f["accuracy"].append(float(eng.FS[K.G_ACC_SUM]) / served if served else math.nan)
        f["harvest"].append(rate)
        self._last_ms, self._last_mah = t, harvested
        self.next_ms = (math.floor(t / self.every_ms) + 1) * self.every_ms
        self.version += 1
        self.status = f"t = {t / 1000.0:.1f} s"
        return True

    def __len__(self) -> int:
        return len(self.fields["time_s"])


class Dashboard:
    """The trace as five stacked panels over simulated time (seconds), with a status line on top.

    Args:
        eng: the engine whose scenario sets the fixed axis ranges (horizon, buffer size, models).
        human: a live window through pyplot (it only draws off-screen under a non-interactive backend such
            as Agg); otherwise an off-screen canvas for ``rgb_array`` frames.
    """

    def __init__(self, eng: Engine, human: bool = False) -> None:
        from matplotlib.figure import Figure

        size = (FRAME_SIZE[0] / DPI, FRAME_SIZE[1] / DPI)
        if human:
            import matplotlib.pyplot as plt

            self.fig = plt.figure(figsize=size, dpi=DPI)
            # a GUI canvas names its toolkit; Agg and the other file backends do not, and cannot show
            self._window = getattr(self.fig.canvas, "required_interactive_framework", None) is not None
            if self._window:
                plt.show(block=False)
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            self.fig = Figure(figsize=size, dpi=DPI)
            FigureCanvasAgg(self.fig)
            self._window = False
        self.human = human
        horizon_s = (eng.scenario.horizon_ms or 0.0) / 1000.0
        self._x_max = horizon_s if horizon_s > 0 else 10.0
        self._fixed_x = horizon_s > 0
        accs = [float(a) for a in eng.accuracies]
        self._y = {
            "charge": (0.0, 100.0),
            "buffer": (0.0, max(1.0, float(eng.buffer_size))),
            "model": (-0.5, eng.n_models - 0.5),
            "accuracy": (max(0.0, min(accs) - 5.0), min(100.0, max(accs) + 1.0)),
            "harvest": (0.0, 1.0),
        }
        self.axes = self.fig.subplots(len(PANELS), 1, sharex=True)
        self.lines = {}
        colours = ("tab:green", "tab:orange", "tab:purple", "tab:blue", "tab:olive")
        for ax, (name, label), colour in zip(self.axes, PANELS, colours, strict=True):
            ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            style = "steps-post" if name in ("model", "buffer") else "default"
            (self.lines[name],) = ax.plot([], [], color=colour, lw=1.2, drawstyle=style, animated=True)
        self.axes[-1].set_xlabel("simulated time (s)", fontsize=8)
        # the scenario's name is static (drawn once); the short status line is the only text drawn per frame,
        # because glyphs are what a frame costs most
        self.fig.text(0.01, 0.985, eng.scenario.name, fontsize=8, va="top", weight="bold")
        self.status = self.fig.text(0.85, 0.985, "", fontsize=8, va="top", animated=True)
        self.fig.subplots_adjust(left=0.12, right=0.98, top=0.93, bottom=0.09, hspace=0.25)
        self._background: Any = None
        self._drawn = -1
        self._scanned = 0  # samples already fitted into the ranges

    def _layout(self, trace: Trace) -> bool:
        """Fit the axis ranges to the trace (ranges only grow); returns whether the background must be redrawn."""
        changed = self._background is None
        t = trace.fields["time_s"]
        if len(t) <= self._scanned:  # a new episode
            self._scanned = 0
        if t and t[-1] > self._x_max and not self._fixed_x:
            while t[-1] > self._x_max:
                self._x_max *= 2.0
            changed = True
        for name in ("buffer", "accuracy", "harvest"):
            values = np.asarray(trace.fields[name][self._scanned :], dtype=np.float64)
            if not np.isfinite(values).any():
                continue
            lo, hi = self._y[name]
            vlo, vhi = float(np.nanmin(values)), float(np.nanmax(values))
            if vlo < lo or vhi > hi:
                span = max(vhi, hi) - min(vlo, lo)
                self._y[name] = (min(vlo, lo) - 0.05 * span * (vlo < lo), max(vhi, hi) + 0.1 * span * (vhi > hi))
                changed = True
        self._scanned = max(0, len(t) - 1)
        if changed:
            for ax, (name, _) in zip(self.axes, PANELS, strict=True):
                ax.set_ylim(*self._y[name])
            self.axes[0].set_xlim(0.0, self._x_max)
        return changed

    def draw(self, trace: Trace) -> None:
        """Bring the figure up to date with the trace (nothing to do when no sample was taken since)."""
        if trace.version == self._drawn:
            return
        self._drawn = trace.version
        canvas = self.fig.canvas
        if self._layout(trace):
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        canvas.restore_region(self._background)
        x = trace.fields["time_s"]
        for name, line in self.lines.items():
            line.set_data(x, trace.fields[name])
            self.fig.draw_artist(line)
        self.status.set_text(trace.status)
        self.fig.draw_artist(self.status)
        if self._window:
            canvas.blit(self.fig.bbox)
            canvas.flush_events()

    def frame(self) -> np.ndarray:
        """The current picture as an ``(height, width, 3)`` uint8 array."""
        return np.asarray(self.fig.canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        """Close the window (a pyplot figure) and free the figure."""
        if self.human:
            import matplotlib.pyplot as plt

            plt.close(self.fig)


class Renderer:
    """What an env needs for the dashboard render modes: the trace, the dashboard and its frames.

    The env calls :meth:`reset` after each reset and :meth:`observe` after each step (cheap unless
    ``every_ms`` has passed). ``"human"`` redraws the window at each sample; ``"rgb_array"`` draws only when
    :meth:`frame` is asked for, and between two samples returns the same array object (a recorder that keeps
    a frame per step holds one copy per sample); ``"rgb_array_list"`` draws a frame at each sample and
    :meth:`frames` hands over those taken since the last call (Gymnasium's list convention), so a
    ``RecordVideo`` of an episode holds one frame per ``every_ms``, not one per step.

    Args:
        mode: ``"human"``, ``"rgb_array"`` or ``"rgb_array_list"``.
        every_ms: simulated time between samples (the env's ``render_every_ms``).
    """

    def __init__(self, mode: str, every_ms: float) -> None:
        self.mode = mode
        self.trace = Trace(every_ms)
        self._dashboard: Dashboard | None = None
        self._scenario: object = None
        self._frame: np.ndarray | None = None
        self._frame_version = -1
        self._pending: list[np.ndarray] = []

    def _board(self, eng: Engine) -> Dashboard:
        if self._dashboard is None or self._scenario is not eng.scenario:
            if self._dashboard is not None:
                self._dashboard.close()
            self._dashboard = Dashboard(eng, human=self.mode == "human")
            self._scenario = eng.scenario
        return self._dashboard

    def reset(self, eng: Engine) -> None:
        """A new episode: clear the trace and take its first sample."""
        self.trace.reset(eng)
        self._pending.clear()
        self._after_sample(eng)

    def _after_sample(self, eng: Engine) -> None:
        if self.mode == "human":
            self._board(eng).draw(self.trace)
        elif self.mode == "rgb_array_list":
            self._pending.append(self.frame(eng))

    def observe(self, eng: Engine) -> None:
        """After a step: sample when due (and redraw the window in ``"human"`` mode)."""
        if self.trace.observe(eng):
            self._after_sample(eng)

    def frame(self, eng: Engine) -> np.ndarray:
        """The dashboard as an RGB frame, redrawn only when a sample was taken since the last one."""
        if self._frame is None or self._frame_version != self.trace.version:
            board = self._board(eng)
            board.draw(self.trace)
            self._frame = board.frame()
            self._frame_version = self.trace.version
        return self._frame

    def frames(self) -> list[np.ndarray]:
        """``"rgb_array_list"``: the frames taken since the last call (one per sample; empty if none)."""
        out, self._pending = self._pending, []
        return out

    def close(self) -> None:
        """Close the dashboard's figure (and window)."""
        if self._dashboard is not None:
            self._dashboard.close()
            self._dashboard = None

    def __getstate__(self) -> dict[str, object]:
        # a figure does not pickle (a copied env, an async worker): the copy builds its own when it draws
        return {**self.__dict__, "_dashboard": None, "_scenario": None, "_frame": None, "_frame_version": -1}
