"""Accuracy-per-latency ratio: the model giving the most accuracy per millisecond of latency."""

from __future__ import annotations

import numpy as np

from baselines.base import Facts, check_number
from baselines.original import StaticSelector
from tinysim_gym.core.view import DecisionView


class AccuracyPerLatency(StaticSelector):
    """Always the model maximising ``accuracy / latency ** alpha`` (latency including the selector's).

    Args:
        alpha: weight of latency, 0..10. ``alpha = 1`` (default) is accuracy per millisecond, which favours
            the fastest model on most sets; ``alpha = 0`` is accuracy-first; values in between trade off.
    """

    name = "ratio"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(0)
        self.alpha = check_number("alpha", alpha, 0.0, 10.0)

    def reset(self, view: DecisionView) -> None:
        """Pick the best ratio among the allowed models (ties: the more accurate)."""
        f = Facts.of(view)
        score = f.accuracy / f.latency_ms**self.alpha
        allowed = f.allowed()
        self.index = int(allowed[np.lexsort((-f.accuracy[allowed], -score[allowed]))[0]])
