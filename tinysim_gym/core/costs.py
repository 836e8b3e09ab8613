"""What one served sample costs each model, read off an engine's flat parameter arrays.

The optimal-policy bound and the heuristics that pace themselves against it need the same per-model
figures (busy ticks, net charge, idle charge); they live here, beside the kernels whose arithmetic they
mirror, so neither has to read the engine's parameter layout itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tinysim_gym.core import kernels as K


class PricedEngine(Protocol):
    """What :func:`model_costs` reads of an engine: its flat parameters and per-model figures."""

    PF: np.ndarray
    kind: int
    seed_compat: bool
    n_models: int
    accuracies: np.ndarray
    service_ticks: np.ndarray
    inference_charge_mah: np.ndarray
    available: np.ndarray


@dataclass(frozen=True)
class ModelCosts:
    """What one served sample costs each model, as the engine charges it.

    Attributes:
        accuracy: accuracy of each model (%).
        ticks: busy ticks of one inference (``L_k``; 1 in the seed-compatible sync mode, where an inference
            passes in a single tick).
        net_charge: charge of one inference minus the idle charge of the ticks it replaces (mAh).
        first_tick_charge: net charge of an inference cut short after its first tick (0 in the
            seed-compatible mode, whose stop rule lets the last tick run on an empty battery).
        idle_charge: charge of one idle tick (mAh).
        available: models the policy may choose (memory masking).
    """

    accuracy: np.ndarray
    ticks: np.ndarray
    net_charge: np.ndarray
    first_tick_charge: np.ndarray
    idle_charge: float
    available: np.ndarray


def model_costs(engine: PricedEngine) -> ModelCosts:
    """Per-model costs of one served sample under ``engine``'s arithmetic."""
    d_idle = float(engine.PF[K.F_D_IDLE])
    n = engine.n_models
    svc = np.asarray(engine.service_ticks, dtype=np.float64)
    charge = np.asarray(engine.inference_charge_mah, dtype=np.float64)
    available = np.asarray(engine.available, dtype=bool)
    if engine.kind == K.KIND_LUMP:
        lump = engine.PF[K.F_ACC + 2 * n : K.F_ACC + 3 * n] + engine.PF[K.F_LUMP_IDLE]
        return ModelCosts(engine.accuracies.copy(), np.ones(n), lump - d_idle, np.zeros(n), d_idle, available)
    first = np.zeros(n) if engine.seed_compat else np.maximum(charge / svc - d_idle, 0.0)
    return ModelCosts(engine.accuracies.copy(), svc, charge - svc * d_idle, first, d_idle, available)
