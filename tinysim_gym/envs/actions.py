"""The action side of both envs: turning an action into a model index, and what the action masks need."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from tinysim_gym.core.engine import Engine


def mask_inputs(eng: Engine) -> tuple[np.ndarray, np.ndarray, int]:
    """``(charge of one action, always-masked actions, cheapest model)`` for :meth:`action_masks`.

    One entry per action: each model's inference, then, with ``allow_skip``, the skip (the selector's
    charge; never masked otherwise). Always masked: in sync mode a model slower than the sampling period,
    and models the engine marks as not fitting the board's memory (``Engine.available``, when present).
    The cheapest model is what stays allowed when the charge covers no action.
    """
    charge = np.asarray(eng.inference_charge_mah, dtype=np.float64)
    static = np.zeros(eng.n_models, dtype=bool)
    if eng.scenario.workload.mode == "sync":
        static |= np.asarray(eng.service_ticks) > eng.period_ticks
    available = getattr(eng, "available", None)
    if available is not None:
        static |= ~np.asarray(available, dtype=bool)
    allowed = np.flatnonzero(~static)
    pool = allowed if len(allowed) else np.arange(eng.n_models)
    cheapest = int(pool[np.argmin(charge[pool])])
    if getattr(eng, "allow_skip", False):
        charge = np.append(charge, eng.skip_charge_mah)
        static = np.append(static, False)
    return charge, static, cheapest


def coerce_action(action: Any, n: int) -> int:
    """Turn an action into a model index, or raise :class:`gymnasium.error.InvalidAction`."""
    a = action
    if isinstance(a, np.ndarray) and a.size == 1 and a.ndim <= 1:
        a = a.reshape(()).item() if a.dtype.kind in "iu" else a
    if isinstance(a, np.integer):
        a = int(a)
    if type(a) is not int:
        raise gym.error.InvalidAction(f"action: expected an integer model index in 0..{n - 1}, got {action!r}")
    if not 0 <= a < n:
        raise gym.error.InvalidAction(f"action: model index {a} is outside the action space 0..{n - 1}")
    return a
