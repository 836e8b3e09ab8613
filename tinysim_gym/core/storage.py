"""The scenario's energy storage as the kernels see it: which model, its parameter block, its scale.

A linear battery needs nothing; a Peukert battery is a linear one whose per-tick charges are effective
ones (:mod:`tinysim_gym.core.peukert`); a kinetic battery (:mod:`tinysim_gym.core.kibam`), a battery
that restarts (:mod:`tinysim_gym.core.restart`; its block is :mod:`tinysim_gym.core.battery`'s) and a
supercapacitor (:mod:`tinysim_gym.core.supercap`) add a parameter block at the end of ``PF``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core.battery import B_BOOT_D, B_BOOT_TICKS, B_C, B_K, B_RESTART, B_SIZE
from tinysim_gym.core.layout import F_STORE, F_STORE_OFF, G_SUPERCAP, STORE_KIBAM, STORE_LINEAR, STORE_SUPERCAP
from tinysim_gym.core.peukert import effective_charge
from tinysim_gym.core.supercap import X_V, supercap_block


@dataclass(frozen=True)
class Storage:
    """The storage's model and parameters, and the charge scale of the state of charge.

    Attributes:
        kind: the kernels' storage model (``STORE_*``).
        block: its parameter block (empty for a linear or Peukert battery).
        capacity_mah: the charge of a full storage (a supercapacitor's: what the board could draw).
        initial_mah: the charge at the start.
        initial_v: a supercapacitor's voltage at the start (0 otherwise).
    """

    kind: int
    block: np.ndarray
    capacity_mah: float
    initial_mah: float
    initial_v: float = 0.0

    def place(self, PF: np.ndarray, offset: int) -> None:
        """Write the model and its block (at ``offset``, the end of ``PF``) into the float parameters."""
        if len(self.block):
            PF[F_STORE], PF[F_STORE_OFF] = self.kind, offset
            PF[offset : offset + len(self.block)] = self.block

    def start(self, FS: np.ndarray) -> None:
        """Set the storage's own state at the start of an episode (the remaining charge is the caller's)."""
        if self.kind == STORE_SUPERCAP:
            FS[G_SUPERCAP + X_V] = self.initial_v


def storage_of(scenario: ScenarioConfig, d_inf: np.ndarray, d_idle: float) -> tuple[Storage, np.ndarray, float]:
    """The scenario's storage, and the per-tick inference and idle charges as it counts them."""
    bat, cap, conv, tb = scenario.battery, scenario.storage, scenario.converter, scenario.workload.timebase_ms
    if cap is not None and conv is not None:
        block = supercap_block(cap, conv, tb)
        usable = conv.usable_mah(cap, cap.v_max), conv.usable_mah(cap, cap.initial_v)
        return Storage(STORE_SUPERCAP, block, *usable, initial_v=cap.initial_v), d_inf, d_idle
    full, initial = bat.capacity_mah, bat.capacity_mah * bat.initial_soc
    d_boot = tb / 3600 / 1000 * bat.boot_current_ma  # as the engine counts the board's currents
    if bat.peukert is not None:  # each current's charge as it counts against the rated capacity
        p = bat.peukert
        d_inf = effective_charge(d_inf, tb, p.exponent, p.rated_current_ma)
        d_idle, d_boot = effective_charge(np.array([d_idle, d_boot]), tb, p.exponent, p.rated_current_ma)
    block = np.zeros(B_SIZE)
    if bat.restart_soc is not None:
        block[B_RESTART] = bat.restart_soc * full
        block[B_BOOT_TICKS] = math.ceil(bat.boot_ms / tb - 1e-9) if bat.boot_ms > 0 else 0
        block[B_BOOT_D] = d_boot
    if bat.kibam is not None:
        block[B_C], block[B_K] = bat.kibam.c, bat.kibam.k_per_s * tb / 1000.0
        return Storage(STORE_KIBAM, block, full, initial), d_inf, d_idle
    if bat.restart_soc is None:
        block = np.zeros(0)
    return Storage(STORE_LINEAR, block, full, initial), d_inf, float(d_idle)
