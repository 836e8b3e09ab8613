"""What a policy may read at a decision, and what the engine needs of a policy.

The engine (:class:`tinysim_gym.core.engine.Engine`) is the decision view: at a decision point its
properties describe the device and the scenario, and a selector answers with a model index. Heuristics,
the env's observation builder and tests type against :class:`DecisionView`, not the engine class, so a
selector can be driven by anything that offers these figures (a recorded trace, a test double).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core.costs import ModelCosts

#: A compiled episode loop ``fn(ST, FS, PI, PF, arr, params, mem) -> status``: it calls the kernels'
#: ``advance``/``apply`` and its own decision function between them, and returns ``NEED_ARRIVALS``,
#: ``NEED_MORE`` (its own pre-drawn data ran out) or ``DONE``.
CompiledLoop = Callable[..., int]


class DecisionView(Protocol):
    """The device and scenario as a selector sees them when a sample waits for a model.

    Fixed per episode: the scenario and its model set. Changing: charge, queue, time and the counts so far.
    """

    scenario: ScenarioConfig
    n_models: int
    model_ids: list[str]
    accuracies: np.ndarray
    inference_charge_mah: np.ndarray
    service_ticks: np.ndarray
    available: np.ndarray
    capacity_mah: float
    initial_mah: float
    timebase_ms: float
    horizon_ticks: int
    period_ticks: int
    deadline_ticks: int
    allow_skip: bool
    n_actions: int

    @property
    def soc(self) -> float:
        """State of charge as a fraction of the capacity, clipped to [0, 1]."""
        ...

    @property
    def soc_pct(self) -> float:
        """State of charge in percent, as the original's selectors see it (not clipped)."""
        ...

    @property
    def remaining_mah(self) -> float:
        """Charge left in the battery."""
        ...

    @property
    def queue(self) -> int:
        """Samples waiting in the buffer (not counting the one being decided on)."""
        ...

    @property
    def buffer_size(self) -> int:
        """Capacity of the buffer."""
        ...

    @property
    def tick(self) -> int:
        """Tick of the pending decision."""
        ...

    @property
    def time_ms(self) -> float:
        """Time of the pending decision in ms."""
        ...

    @property
    def head_arrival_tick(self) -> int:
        """Arrival tick of the sample being decided on."""
        ...

    @property
    def waiting_arrival_ticks(self) -> np.ndarray:
        """Arrival ticks of the buffered samples, oldest first."""
        ...

    @property
    def skipped(self) -> int:
        """Samples discarded by the skip action so far."""
        ...

    @property
    def arrivals(self) -> int:
        """Samples that have arrived so far (including the one being decided on)."""
        ...

    @property
    def inferences(self) -> int:
        """Inferences so far."""
        ...

    @property
    def dropped(self) -> int:
        """Samples lost so far."""
        ...

    @property
    def last_action(self) -> int:
        """The previous decision's model index (-1 before the first)."""
        ...

    @property
    def model_counts(self) -> np.ndarray:
        """Inferences per model so far."""
        ...

    def model_costs(self) -> ModelCosts:
        """Per-model costs of one served sample (busy ticks, net charge, idle charge)."""
        ...


class Selector(Protocol):
    """What the engine needs of a policy: a model index (or, with ``allow_skip``, the skip) for each decision.

    A selector may also offer ``reset(view)`` (called once per episode, before the first decision) and,
    for the compiled fast path, ``loop(view) -> (fn, params, mem)`` (a :data:`CompiledLoop` with its
    parameter and scratch arrays) with ``more(params, mem)`` to refill pre-drawn data; ``Engine.run``
    uses them when present.
    """

    def select(self, view: DecisionView) -> int:
        """Return the index of the model that serves the waiting sample."""
        ...
