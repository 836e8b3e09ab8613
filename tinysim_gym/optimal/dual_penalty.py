"""An information-relaxation penalty for the hindsight bound (Brown, Smith and Sun 2010).

The hindsight bound lets a schedule see the future arrivals; a penalty charges it for what it learns. At
a decision at tick ``t`` with action ``k`` and ``q`` samples left waiting, let ``N`` be the arrivals in the
ticks ``(t, t + L_k]`` (the service window; the penalty is zero when the window reaches the horizon) and
take away::

    z = h[k, min(q + N, B)] - E[h[k, min(q + N, B)] | t, q, k]

from the schedule's reward, for any table ``h``. Under Poisson arrivals floored to ticks the counts in
disjoint tick windows are independent Poisson variables with mean ``rate * ticks * timebase``, so ``N`` is
independent of everything a causal policy knows at ``t`` and the expectation is the closed form of
:func:`expected_h`. Then ``E[z | past] = 0`` at every decision of every causal policy (the decision, ``q``
and ``k`` being known at ``t``), the penalties of its run sum to zero in the mean, and the mean over the
seeds of the penalised offline optimum is still an upper bound on every causal policy. Unlike the plain
hindsight bound it holds in the mean only, not seed by seed: it is a sample mean, reported with its
standard error. ``h = 0`` is the plain hindsight bound; a good ``h`` (the value of the occupancy a service
window leaves behind) takes back the worth of knowing whether a clump follows.

Valid only where the conditional mean is exact: Poisson arrivals (the MMPP's count depends on its hidden
state) and a battery (a supercapacitor's brownouts stop decisions in ways the schedule does not follow).
"""

from __future__ import annotations

import math

import numpy as np

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.errors import TinySimError


def expected_h(h: np.ndarray, mean_counts: np.ndarray) -> np.ndarray:
    """``E[h[k, min(q + N, B)]]`` for ``N ~ Poisson(mean_counts[k])``, per action ``k`` and occupancy ``q``.

    Args:
        h: the penalty table, shape ``(actions, B + 1)``.
        mean_counts: the mean arrivals per action's service window.

    Returns:
        The expectations, shape ``(actions, B + 1)``.
    """
    n_act, width = h.shape
    B = width - 1
    out = np.empty_like(h, dtype=np.float64)
    for k in range(n_act):
        mu = float(mean_counts[k])
        pmf = np.array([math.exp(-mu + n * math.log(mu) - math.lgamma(n + 1)) if mu > 0 else float(n == 0)
                        for n in range(width)])
        for q in range(width):
            head = pmf[: B - q]  # N < B - q lands below the cap; the rest of the mass lands on B
            out[k, q] = float(head @ h[k, q:B]) + max(0.0, 1.0 - float(head.sum())) * h[k, B]
    return out


def penalty_tables(scenario: ScenarioConfig, h: np.ndarray, service_ticks: np.ndarray) -> tuple[np.ndarray,
                                                                                                np.ndarray]:
    """``(h, E[h])`` for the scenario's actions, refused where the conditional mean is not exact.

    Args:
        scenario: the scenario (Poisson arrivals on a battery).
        h: the penalty table, shape ``(actions, buffer_size + 1)`` (the actions as the bound orders them:
            the available models, then the skip if the scenario has one).
        service_ticks: ticks per action, in the same order.

    Raises:
        TinySimError: another workload, a supercapacitor, or a table of the wrong shape.
    """
    w = scenario.workload
    if w.process != "poisson" or w.mode != "async":
        raise TinySimError(f"hindsight penalty: workload.process must be poisson (async), not {w.process!r}: "
                           "the count's conditional mean is exact only there")
    if scenario.storage is not None:
        raise TinySimError("hindsight penalty: storage must be a battery (a supercapacitor's brownouts are not "
                           "followed by the schedule)")
    h = np.asarray(h, dtype=np.float64)
    if h.shape != (len(service_ticks), w.buffer_size + 1):
        raise TinySimError(f"hindsight penalty: table shape {h.shape}, allowed "
                           f"{(len(service_ticks), w.buffer_size + 1)} (actions, buffer_size + 1)")
    per_tick = float(w.rate_hz) * float(w.timebase_ms) / 1000.0
    return h, expected_h(h, per_tick * np.asarray(service_ticks, dtype=np.float64))
