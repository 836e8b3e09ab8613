"""A small deterministic MLP for the export tests, and the short scenario they run on.

The network is a "pace ladder" written by hand: three tanh units measure how far the state of charge
is ahead of the time left (``soc + horizon_elapsed - 1``) against three thresholds, and the output layer
turns the number of thresholds passed into one of four models, cheapest to most accurate (the logit
of rung ``k`` minus that of rung ``k - 1`` is twice the ``k``-th unit). Its decisions follow the state
smoothly, as a trained energy-pacing agent's do, so quantisation and distillation have a real policy to
match rather than noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: the training scenario scaled down ten times in charge and in time: the same pacing problem, short episodes
SHORT_ENV: dict[str, Any] = {
    "scenario": "usps-l476-async-horizon",
    "horizon_ms": 5000,
    "battery": {"capacity_mah": 0.01},
}
RUNGS = (1, 3, 6, 0)  # usps_tova models from the fastest to the most accurate (and slowest: it drops samples)
THRESHOLDS = (-0.1, -0.05, 0.0)
#: a switch as sharp as a trained agent's (the agent tests: int8 and distillation follow its decisions)
SHARP = 1000.0
#: a gentler one for comparing float32 arithmetic on the host: a unit 1000 times steeper than its inputs'
#: rounding turns the last bit of a sum (whose order NumPy's BLAS chooses) into a different action
GENTLE = 25.0


def pace_ladder(n_inputs: int, soc: int, horizon: int, steepness: float,
                n_models: int = 10) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(W1 (n_inputs, 3), b1), (W2 (3, n_models), b2)]`` float32 of the pace ladder.

    Args:
        n_inputs: the network's input width.
        soc: the input index of the state of charge.
        horizon: the input index of the horizon fraction.
        steepness: the units' gain (:data:`SHARP` or :data:`GENTLE`).
        n_models: output width.
    """
    w1 = np.zeros((n_inputs, len(THRESHOLDS)), np.float32)
    w1[soc, :] = steepness
    w1[horizon, :] = steepness
    b1 = np.array([-steepness * (1.0 + t) for t in THRESHOLDS], np.float32)
    w2 = np.zeros((len(THRESHOLDS), n_models), np.float32)
    b2 = np.full(n_models, -4.0, np.float32)
    for k, model in enumerate(RUNGS):
        b2[model] = 0.0
        for i in range(len(THRESHOLDS)):
            w2[i, model] = 1.0 if i < k else -1.0
    return [(w1, b1), (w2, b2)]
