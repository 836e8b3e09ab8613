"""The one progress bar of the project: a tqdm bar on stderr, never on stdout.

Commands print their results on stdout; the bar goes to stderr so that ``tinysim ... --json | jq`` stays
clean. By default a bar shows only on a terminal (or with ``TINYSIM_PROGRESS=1``); a caller that was asked
for one explicitly (``compare(progress=True)``) passes ``show=True``.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import Any

__all__ = ["Progress", "wanted"]


def wanted() -> bool:
    """Whether a bar shows when nobody asked: stderr is a terminal, or ``TINYSIM_PROGRESS=1``."""
    return sys.stderr.isatty() or os.environ.get("TINYSIM_PROGRESS") == "1"


class Progress:
    """A progress bar that counts finished work, created on its first update.

    Created lazily so that a caller can hand :meth:`update` out as a callback before the total is known,
    and so that no bar (and no tqdm monitor thread) exists before a process pool has forked its workers.

    Args:
        description: the text before the bar.
        total: the amount of work (it may also come with the first :meth:`update`).
        unit: what is counted (``"%"``, ``"run"``, ...).
        show: ``True`` always, ``False`` never, ``None`` as :func:`wanted` says.
        delay: seconds before the bar appears (short work shows no bar at all).
        leave: keep the finished bar on the screen.
    """

    def __init__(self, description: str = "", total: float | None = None, unit: str = "it",
                 show: bool | None = None, delay: float = 0.0, leave: bool = False) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.show = wanted() if show is None else show
        self.delay = delay
        self.leave = leave
        self._bar: Any = None

    def _ensure(self, initial: float = 0) -> Any:
        if self._bar is None and not self.show:
            self._bar = _Hidden(initial)  # nothing to draw: spares the start of a command tqdm's import
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, initial=initial, desc=self.description, unit=self.unit,
                             delay=self.delay, file=sys.stderr, leave=self.leave, disable=not self.show)
        return self._bar

    def update(self, done: float, total: float | None = None) -> None:
        """Move the bar to ``done`` (of ``total``, if given now)."""
        if total is not None and self._bar is None:
            self.total = total
        bar = self._ensure(done)
        bar.n = done
        bar.refresh()

    def advance(self, note: str | None = None) -> None:
        """Count one more finished piece of work; ``note`` says which (shown after the description)."""
        bar = self._ensure()
        if note is not None:
            bar.set_description_str(f"{self.description} (done: {note})", refresh=False)
        bar.update(1)

    def close(self) -> None:
        """Remove the bar (or leave it, finished, when ``leave``)."""
        if self._bar is not None:
            self._bar.set_description_str(self.description, refresh=False)
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class _Hidden:
    """What :class:`Progress` calls of a tqdm bar, for a bar that is never shown: it only counts."""

    def __init__(self, initial: float) -> None:
        self.n = initial

    def refresh(self) -> None:
        """Nothing to draw."""

    def update(self, n: float = 1) -> None:
        """Count ``n`` more."""
        self.n += n

    def set_description_str(self, desc: str, refresh: bool = True) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to remove."""
