"""Energy-minimising: the model with the least charge per correct answer, above an accuracy floor."""

from __future__ import annotations

import numpy as np

from baselines.base import Facts, check_number
from baselines.original import StaticSelector
from tinysim_gym.core.view import DecisionView
from tinysim_gym.errors import TinySimError


class EnergyMinimising(StaticSelector):
    """Always the model drawing the least charge per correctly classified sample (charge / accuracy).

    Args:
        min_accuracy: only models at least this accurate (%, 0..100) are considered (default 0: all).
    """

    name = "energy"

    def __init__(self, min_accuracy: float = 0.0) -> None:
        super().__init__(0)
        self.min_accuracy = check_number("min_accuracy", min_accuracy, 0.0, 100.0)

    def reset(self, view: DecisionView) -> None:
        """Pick the cheapest model per correct answer among those above the floor."""
        f = Facts.of(view)
        ok = f.allowed()
        ok = ok[f.accuracy[ok] >= self.min_accuracy]
        if len(ok) == 0:
            best = float(f.accuracy[f.allowed()].max())
            raise TinySimError(f"min_accuracy: no model reaches {self.min_accuracy:g} % (allowed: 0..{best:g})")
        per_correct = f.charge[ok] / np.maximum(f.accuracy[ok], 1e-12)
        self.index = int(ok[np.lexsort((-f.accuracy[ok], per_correct))[0]])
