"""The original TinySimulator's selectors: static (reference), accuracy-first, latency-first, random, fuzzy.

Static and fuzzy selectors also hand the engine a compiled loop (``loop``): the engine's register loop
(:mod:`tinysim_gym.core.fast_static`) with a fixed model or the fuzzy decision function, so whole episodes
run compiled with the state in registers; every selector also answers one decision at a time through
``select``.
"""

from __future__ import annotations

import numpy as np

from baselines import fuzzy
from baselines.fast import CompiledForm
from tinysim_gym.core.aot import LOOP_SIGNATURE
from tinysim_gym.core.fast_static import fixed_model_loop, register_loop
from tinysim_gym.core.jit import njit
from tinysim_gym.core.view import DecisionView
from tinysim_gym.errors import TinySimError


@njit(cache=True)
def _fuzzy_pick(t, r, q, params, mem):  # one signature for every decision function
    """params: ``[variant code, capacity, rule base...]``; the state of charge as the original computes it."""
    soc_pct = r / params[1] * 100.0  # as the original: (remaining / capacity) * 100
    return fuzzy.fuzzy_index_kernel(fuzzy.fuzzy_output(soc_pct, float(q), params[2:]), int(params[0]))


@njit(cache=True, aot=LOOP_SIGNATURE)
def _fuzzy_loop(ST, FS, PI, PF, arr, params, mem):
    """The engine's register loop with the fuzzy decision function (see ``tinysim_gym.core.fast_static``)."""
    return register_loop(ST, FS, PI, PF, arr, _fuzzy_pick, params, mem)


class StaticSelector:
    """Always the same model (the original's ``reference`` is index 0).

    Args:
        index: the model index.
    """

    name = "reference"

    def __init__(self, index: int = 0) -> None:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TinySimError(f"index: expected an integer model index, got {index!r}")
        self.index = int(index)

    def reset(self, view: DecisionView) -> None:
        """Check the index against the scenario's model set."""
        if not 0 <= self.index < view.n_models:
            raise TinySimError(f"index: static model index {self.index} out of range 0..{view.n_models - 1}")

    def select(self, view: DecisionView) -> int:
        """Return the fixed index."""
        return self.index

    def loop(self, view: DecisionView) -> CompiledForm:
        """Compiled form: the engine's register loop for one model, the index as its only parameter."""
        return fixed_model_loop, np.array([self.index], dtype=np.float64), np.zeros(1)


class AccuracyFirst(StaticSelector):
    """The most accurate model (the first of equals)."""

    name = "accuracy-first"

    def __init__(self) -> None:
        super().__init__(0)

    def reset(self, view: DecisionView) -> None:
        """Pick the most accurate model of the scenario."""
        self.index = int(np.argmax(view.accuracies))


class LatencyFirst(StaticSelector):
    """The fastest model (the first of equals)."""

    name = "latency-first"

    def __init__(self) -> None:
        super().__init__(0)

    def reset(self, view: DecisionView) -> None:
        """Pick the model with the fewest service ticks."""
        lat = [m.latency_ms for m in view.scenario.profile.models]
        self.index = int(np.argmin(lat))


class RandomSelector:
    """Uniform over the models, from NumPy's legacy generator seeded with ``seed`` (the original: 1)."""

    name = "random"

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self.rs = np.random.RandomState(seed)

    def reset(self, view: DecisionView) -> None:
        """Re-seed the legacy generator."""
        self.rs = np.random.RandomState(self.seed)

    def select(self, view: DecisionView) -> int:
        """Draw a model index."""
        return int(self.rs.randint(view.n_models))


class FuzzySelector:
    """The original's zero-order Sugeno selector over (battery %, queue), one parameterised evaluator.

    Args:
        variant: ``"tova"`` (index = round(output), 10 -> 0) or ``"stream"`` (<= 3 -> 0, <= 5 -> 1, else 2);
            ``None`` takes the profile's variant.
        params: a rule base from :func:`baselines.fuzzy.make_params` (default: the original's).
    """

    name = "fuzzy"

    def __init__(self, variant: str | None = None, params: np.ndarray | None = None) -> None:
        if variant is not None and variant not in fuzzy.VARIANTS:
            raise TinySimError(f"variant: unknown fuzzy variant {variant!r} (allowed: {', '.join(fuzzy.VARIANTS)})")
        self.variant = variant
        try:
            self.params = fuzzy.DEFAULT_PARAMS if params is None else fuzzy.check_params(params)
        except ValueError as exc:
            raise TinySimError(str(exc)) from None
        self._code = fuzzy.VARIANTS[variant or "tova"]

    def reset(self, view: DecisionView) -> None:
        """Resolve the variant from the profile and check it fits the model set."""
        variant = self.variant or view.scenario.profile.fuzzy_variant
        self._code = fuzzy.VARIANTS[variant]
        need = 10 if variant == "tova" else 3
        if view.n_models < need:
            raise TinySimError(
                f"selector: fuzzy variant {variant!r} picks model indices up to {need - 1}, but the profile "
                f"has {view.n_models} models"
            )

    def select(self, view: DecisionView) -> int:
        """Evaluate the rule base at the current state of charge and queue."""
        return fuzzy.fuzzy_select_kernel(view.soc_pct, float(view.queue), self.params, self._code)

    def loop(self, view: DecisionView) -> CompiledForm:
        """Compiled form: variant code and battery capacity, followed by the rule base."""
        params = np.concatenate(([float(self._code), float(view.capacity_mah)], self.params))
        return _fuzzy_loop, params, np.zeros(1)
