"""The harvester of a scenario as the kernels' flat parameter block (times in ticks, currents in mA).

The kernels read the block with :func:`tinysim_gym.core.kernels.harvest_between`; its layouts are
described there.
"""

from __future__ import annotations

import numpy as np

from tinysim_gym.config import ScenarioConfig, read_csv_columns
from tinysim_gym.core import kernels as K
from tinysim_gym.errors import TinySimError


def harvest_block(scenario: ScenarioConfig) -> np.ndarray | None:
    """The harvest block of ``scenario`` (None without a harvester).

    Raises:
        TinySimError: a harvester trace with a negative current.
    """
    h = scenario.harvester
    if h is None:
        return None
    tb = scenario.workload.timebase_ms
    if h.kind == "constant":
        return np.array([K.H_CONSTANT, h.current_ma])
    if h.kind == "solar":
        period = h.period_ms / tb
        return np.array([K.H_SOLAR, h.peak_current_ma, period, h.day_fraction * period, h.phase_ms / tb])
    assert h.trace is not None
    times, currents = read_csv_columns(h.trace, "harvester.trace", 2)
    if min(currents) < 0:
        raise TinySimError("harvester.trace: currents must be >= 0 mA")
    return np.concatenate(([K.H_TRACE, len(times)], np.array(times) / tb, currents))
