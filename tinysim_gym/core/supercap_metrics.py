"""The figures of an episode on a supercapacitor, or on a battery that restarts, from the kernels' state.

``energy_mah`` is the board's charge (inference, idle and boot); the capacitor's energy balance is in mJ:
``stored_mj_end - stored_mj_start == harvested_mj - load_mj - converter_loss_mj - quiescent_mj -
leakage_mj`` (``spilled_mj`` is harvest refused by a full capacitor, not part of ``harvested_mj``).
Samples lost while the device was off or booting are ``dropped_off`` (part of ``dropped``, apart from
``dropped_after_end``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core import layout as K
from tinysim_gym.core.supercap import (
    X_BOOT_CHARGE,
    X_BOOT_TICKS,
    X_E_CONV,
    X_E_IN,
    X_E_LEAK,
    X_E_LOAD,
    X_E_QUIESCENT,
    X_E_SPILL,
    X_OFF_TICKS,
    X_V,
)


def restart_metrics(scenario: ScenarioConfig, st: np.ndarray, fs: np.ndarray) -> dict[str, Any]:
    """A battery that restarts: its off, boot and brown-out figures, merged over the engine's metrics."""
    tb = scenario.workload.timebase_ms
    return {
        "dropped_after_end": int(st[K.S_DROP_AFTER] - st[K.S_DROP_OFF]),
        "dropped_off": int(st[K.S_DROP_OFF]),
        "brownouts": int(st[K.S_BROWNOUTS]),
        "off_time_ms": float(fs[K.G_SUPERCAP + X_OFF_TICKS]) * tb,
        "boot_time_ms": float(fs[K.G_SUPERCAP + X_BOOT_TICKS]) * tb,
        "boot_charge_mah": float(fs[K.G_SUPERCAP + X_BOOT_CHARGE]),
    }


def supercap_metrics(scenario: ScenarioConfig, st: np.ndarray, fs: np.ndarray) -> dict[str, Any]:
    """The supercapacitor's figures, merged over the engine's metrics."""
    cap = scenario.storage
    assert cap is not None
    tb = scenario.workload.timebase_ms
    kappa = 1000.0 * cap.capacitance_f
    v_end = float(fs[K.G_SUPERCAP + X_V])
    return {
        "dropped_after_end": int(st[K.S_DROP_AFTER] - st[K.S_DROP_OFF]),
        "energy_mah": float(fs[K.G_DRAWN_INF] + fs[K.G_DRAWN_IDLE] + fs[K.G_SUPERCAP + X_BOOT_CHARGE]),
        "dropped_off": int(st[K.S_DROP_OFF]),
        "brownouts": int(st[K.S_BROWNOUTS]),
        "off_time_ms": float(fs[K.G_SUPERCAP + X_OFF_TICKS]) * tb,
        "boot_time_ms": float(fs[K.G_SUPERCAP + X_BOOT_TICKS]) * tb,
        "boot_charge_mah": float(fs[K.G_SUPERCAP + X_BOOT_CHARGE]),
        "storage_v_end": v_end,
        "stored_mj_start": 0.5 * kappa * cap.initial_v * cap.initial_v,
        "stored_mj_end": 0.5 * kappa * v_end * v_end,
        "harvested_mj": float(fs[K.G_SUPERCAP + X_E_IN]),
        "spilled_mj": float(fs[K.G_SUPERCAP + X_E_SPILL]),
        "load_mj": float(fs[K.G_SUPERCAP + X_E_LOAD]),
        "converter_loss_mj": float(fs[K.G_SUPERCAP + X_E_CONV]),
        "quiescent_mj": float(fs[K.G_SUPERCAP + X_E_QUIESCENT]),
        "leakage_mj": float(fs[K.G_SUPERCAP + X_E_LEAK]),
    }
