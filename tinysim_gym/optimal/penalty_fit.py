"""Choosing the information-relaxation penalty, and the penalised hindsight bound as a sample mean.

Every table ``h`` gives a valid bound in the mean (:mod:`tinysim_gym.optimal.dual_penalty`), so ``h`` may be
chosen by any means, as long as it is chosen without the seeds the bound is then measured on: a table
fitted to the measured seeds would make the sample mean biased low. :func:`fit_penalty` searches the table
coordinate by coordinate on fitting seeds; :func:`penalised_bound` measures it on others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import TinySimError
from tinysim_gym.optimal.hindsight import hindsight_seed
from tinysim_gym.optimal.offline_fifo import MAX_STATES


def penalty_shape(scenario: ScenarioConfig) -> tuple[int, int]:
    """``(actions, buffer_size + 1)``: the available models, and the skip where the scenario has one."""
    eng = Engine(scenario, chunk=1)
    return int(np.count_nonzero(eng.available)) + (1 if eng.skip_ticks > 0 else 0), int(eng.buffer_size) + 1


def _numbers_only(value: object) -> bool:
    """Whether ``value`` is a (nested) list of JSON numbers: no strings, booleans or nulls turned into numbers."""
    if isinstance(value, list):
        return all(_numbers_only(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_penalty_file(path: str, scenario: ScenarioConfig) -> tuple[np.ndarray, list[int] | None]:
    """A penalty table and the seeds it was fitted on, from a JSON file.

    The file holds either the bare table (nested lists of numbers) or an object ``{"penalty": table,
    "fit_seeds": [...]}``, the shape in which ``benchmarks/optimal_dual.py`` reports each scenario; only the
    object form lets a reader refuse to measure the table on the seeds it was chosen on.

    Raises:
        TinySimError: the file cannot be read, is not a numeric array, has the wrong shape, or its
            ``fit_seeds`` are not a list of non-negative integers.
    """
    import json

    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError, RecursionError) as exc:
        raise TinySimError(f"--penalty: {path}: expected a JSON array of numbers ({type(exc).__name__})") from None
    fit_seeds: list[int] | None = None
    if isinstance(doc, dict):
        seeds = doc.get("fit_seeds")
        if seeds is not None and not (isinstance(seeds, list) and all(
                isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in seeds)):
            raise TinySimError(f"--penalty: {path}: fit_seeds must be a list of non-negative integers")
        fit_seeds = seeds
        doc = doc.get("penalty")
    try:
        ok = _numbers_only(doc)
    except RecursionError:
        ok = False
    if not ok or not isinstance(doc, list):
        raise TinySimError(f"--penalty: {path}: expected a JSON array of numbers (or an object whose 'penalty' is one)")
    h = np.asarray(doc, dtype=np.float64) if doc else np.zeros(0)
    shape = penalty_shape(scenario)
    allowed = [shape] + ([(2, *shape)] if scenario.workload.process == "mmpp" else [])
    if h.shape not in allowed or not np.isfinite(h).all():
        raise TinySimError(f"--penalty: {path}: table shape {h.shape}, allowed "
                           f"{' or '.join(map(str, allowed))} of finite numbers ((MMPP end state,) action, occupancy)")
    return h, fit_seeds


def read_penalty(path: str, scenario: ScenarioConfig) -> np.ndarray:
    """A penalty table from a JSON file, checked against the scenario's shape (see :func:`read_penalty_file`).

    Raises:
        TinySimError: as :func:`read_penalty_file`.
    """
    return read_penalty_file(path, scenario)[0]


def shortened(scenario: ScenarioConfig, factor: float) -> ScenarioConfig:
    """A copy of a horizon scenario with its horizon and battery capacity scaled by ``factor``: a cheaper fit.

    The table may be chosen by any means, so fitting it on a shorter copy keeps the bound valid; the charge
    per second the copy may spend is the original's.

    Raises:
        TinySimError: no horizon, no battery, or ``factor`` not in ``(0, 1]``.
    """
    if not 0.0 < factor <= 1.0:
        raise TinySimError(f"penalty fit: the scale must be in (0, 1], not {factor}")
    if scenario.horizon_ms is None or scenario.battery is None:
        raise TinySimError("penalty fit: a shortened copy needs horizon_ms and a battery")
    battery = scenario.battery.model_copy(update={"capacity_mah": scenario.battery.capacity_mah * factor})
    return scenario.model_copy(update={"horizon_ms": scenario.horizon_ms * factor, "battery": battery})


def fit_penalty(scenario: ScenarioConfig, seeds: Sequence[int], step: float = 8.0, min_step: float = 0.25,
                budget_s: float = float("inf"), shared: bool = False, max_states: int = MAX_STATES,
                by_state: bool = False, max_sweeps: int | None = None) -> np.ndarray:
    """A penalty table that lowers the mean penalised bound over ``seeds``, by coordinate search from zero.

    Args:
        scenario: a Poisson scenario on a battery.
        seeds: the fitting seeds (not the ones the bound is reported on).
        step: the first step (accuracy points); halved whenever no coordinate move helps.
        min_step: stop below this step.
        budget_s: stop after this many seconds (the table found so far is as valid as any; the default runs
            to ``min_step``, so the table does not depend on the machine's load).
        shared: one row for every action (fewer coordinates where there are many models).
        max_states: as :func:`~tinysim_gym.optimal.hindsight.hindsight_seed`.
        by_state: one table per MMPP state at the service window's end (an MMPP workload only).
        max_sweeps: stop after this many passes over the coordinates (on few seeds the fitting mean is no
            bound and may fall without end; the default stops only on the step or the budget).

    Returns:
        The table ``h``, shape :func:`penalty_shape`, with the two MMPP states first when ``by_state``.
    """
    n_act, width = penalty_shape(scenario)
    n_ctx = 2 if by_state else 1
    shape = (n_ctx, n_act, width)

    def mean(h: np.ndarray) -> float:
        full = np.broadcast_to(h, shape)[0] if n_ctx == 1 else np.broadcast_to(h, shape)
        return float(np.mean([hindsight_seed(scenario, s, penalty=full, max_states=max_states) for s in seeds]))

    h = np.zeros((n_ctx, 1 if shared else n_act, width))
    # h[0, k, 0] = 0: a constant per action cancels in the penalty (a constant per end state does not)
    coords = [c for c in np.ndindex(h.shape) if c[0] > 0 or c[2] > 0]
    best, t0, sweeps = mean(h), time.perf_counter(), 0
    while step >= min_step and time.perf_counter() - t0 < budget_s and sweeps != max_sweeps:
        moved, sweeps = False, sweeps + 1
        for c in coords:
            for sign in (1.0, -1.0):
                trial = h.copy()
                trial[c] += sign * step
                v = mean(trial)
                if v < best - 1e-9:
                    best, h, moved = v, trial, True
        if not moved:
            step /= 2
    full = np.array(np.broadcast_to(h, shape))
    return full if by_state else full[0]


@dataclass(frozen=True)
class SampleBound:
    """A bound that holds in the mean: its sample mean over seeds and the standard error of that mean.

    Attributes:
        mean: mean over the seeds (weighted accuracy %).
        stderr: sample standard deviation over the seeds divided by the square root of their number.
        per_seed: the per-seed values (not each a bound under a penalty).
    """

    mean: float
    stderr: float
    per_seed: tuple[float, ...]


def sample_bound(values: Sequence[float]) -> SampleBound:
    """The mean and its standard error of per-seed values."""
    v = np.asarray(values, dtype=np.float64)
    se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
    return SampleBound(float(v.mean()), se, tuple(float(x) for x in v))


def penalised_bound(scenario: ScenarioConfig, seeds: Sequence[int], h: np.ndarray | None,
                    max_states: int = MAX_STATES, on_seed: Callable[[int, float], None] | None = None) -> SampleBound:
    """The (penalised, with ``h``) hindsight bound over ``seeds``: an upper bound on every causal policy's mean.

    ``on_seed(seed, value)`` is called as each seed is solved (long runs report as they go).
    """
    vals = []
    for s in seeds:
        vals.append(hindsight_seed(scenario, s, penalty=h, max_states=max_states))
        if on_seed is not None and vals[-1] is not None:
            on_seed(s, float(vals[-1]))
    if any(v is None for v in vals):
        raise TinySimError("hindsight penalty: the scenario runs until depletion (no horizon): no hindsight bound")
    return sample_bound([float(v) for v in vals if v is not None])
