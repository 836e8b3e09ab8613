"""Budget tracking: follow the optimal-policy bound's model mixture by pacing charge and busy time.

At every decision the policy re-solves, for what is left of the episode, the same linear program as
:mod:`tinysim_gym.optimal.lp`: with ``R`` mAh left, ``tau`` ticks to the horizon and ``n`` samples still to come
(the one waiting, those buffered, and ``tau / gap`` expected arrivals), each sample may spend a net charge of
``b_E = (R - tau * d_idle) / n`` and ``b_T = tau / n`` busy ticks. Until depletion the charge only sets how
long the episode lasts, so only the busy time counts (``b_T`` = the mean gap). A backlog shrinks the time
budget, ``b_T <= gap * W / (W + q)``, so the buffer drains over about ``W`` arrivals instead of overflowing.

With each model's cost relative to the budget, ``c_k = max(e'_k / b_E, L_k / b_T)``, the per-sample LP
``max sum f_k acc_k  s.t.  sum f_k c_k <= 1, sum f_k <= 1`` is solved in closed form: its optimum mixes at
most two models (or one model and dropping). The mixture is realised by error diffusion (a sigma-delta
accumulator), so the realised usage follows the LP's fractions and any drift in charge or backlog feeds
back into the next budget. With ``mix=False`` the accumulator is off: the policy serves the cheaper model of
the pair (the most accurate one within budget) and lets the feedback do the mixing, since a dearer model
comes within budget as soon as the cheaper one has saved enough charge. Its choice is then a function of
the time, the charge and the queue alone (no hidden accumulator), which a policy network can copy exactly;
with a stationary workload only the models' shares matter, so it reaches the same mixture. When every model
draws the same current (all built-in boards) ``e'_k`` is proportional to ``L_k`` and the per-sample LP is
exactly the bound's LP restricted to the remaining episode.
"""

from __future__ import annotations

import math

import numpy as np

from baselines.base import Facts, check_number
from baselines.fast import CompiledForm, compiled_loop
from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core.jit import njit
from tinysim_gym.core.view import DecisionView
from tinysim_gym.errors import TinySimError
from tinysim_gym.optimal.lp import BoundResult, bound

_HEAD = 6  # params: horizon, gap, idle charge, window, m, mix (0/1); then per model: net charge, ticks, accuracy, index


@njit(cache=True)
def _pick(t, r, q, params, mem):
    """Closed-form per-sample LP and one sigma-delta step; mem[0] is the accumulator."""
    H = params[0]
    gap = params[1]
    d_idle = params[2]
    W = params[3]
    m = int(params[4])
    if H >= 0:
        tau = max(H - t, 0.0)
        n_rem = q + 1.0 + tau / gap
        b_e = (r - tau * d_idle) / n_rem
        b_t = max(tau, 1.0) / n_rem
    else:
        b_e = math.inf
        b_t = gap
    b_t = min(b_t, gap * W / (W + q))
    b_e = max(b_e, 1e-300)
    best_v = -1.0
    lo = -1
    hi = -1
    frac = 0.0
    # single models within budget, and pairs (lo within budget, hi over it); lo = -1 means "drop"
    for i in range(-1, m):
        if i >= 0:
            ci = max(params[_HEAD + 4 * i] / b_e, params[_HEAD + 4 * i + 1] / b_t)
            ai = params[_HEAD + 4 * i + 2]
            if ci > 1.0:
                continue
            if ai > best_v:
                best_v, lo, hi, frac = ai, i, i, 0.0
        else:
            ci = 0.0
            ai = 0.0
        for j in range(m):
            cj = max(params[_HEAD + 4 * j] / b_e, params[_HEAD + 4 * j + 1] / b_t)
            aj = params[_HEAD + 4 * j + 2]
            if cj <= 1.0 or aj <= ai:
                continue
            f = (1.0 - ci) / (cj - ci)
            v = ai + (aj - ai) * f
            if v > best_v:
                best_v, lo, hi, frac = v, i, j, f
    if hi < 0:  # nothing is worth anything (all accuracies 0 and over budget): the first allowed model
        return int(params[_HEAD + 3])
    if lo < 0:  # the rest is dropped: serve with the model, the budget will shorten the episode
        return int(params[_HEAD + 4 * hi + 3])
    if hi != lo and params[5] > 0.0:
        mem[0] += frac
        if mem[0] >= 1.0:
            mem[0] -= 1.0
            return int(params[_HEAD + 4 * hi + 3])
    return int(params[_HEAD + 4 * lo + 3])


class BudgetTracker:
    """Pace charge and busy time so that realised model usage follows the bound's optimal mixture.

    Args:
        window: arrivals over which a backlog should drain (1..1e6, default 4); smaller is more careful
            with the buffer, larger follows the mixture more tightly.
        mix: realise the two-model mixture by error diffusion (default); False: serve the most accurate
            model within budget and let the budget's feedback mix (a function of time, charge and queue).
    """

    name = "budget"

    def __init__(self, window: float = 4.0, mix: bool = True) -> None:
        self.window = check_number("window", window, 1.0, 1e6)
        if not isinstance(mix, bool):
            raise TinySimError(f"mix: expected true or false, got {mix!r}")
        self.mix = mix
        self._params = np.zeros(0)
        self._mem = np.zeros(1)
        self._scenario: ScenarioConfig | None = None

    def reset(self, view: DecisionView) -> None:
        """Read the per-model costs and the arrival rate; clear the accumulator."""
        f = Facts.of(view)
        gap = f.gap if math.isfinite(f.gap) else f.min_gap
        ok = f.allowed()
        rows = np.column_stack([f.net_charge[ok], f.ticks[ok], f.accuracy[ok], ok]).ravel()
        head = [float(f.horizon), gap, f.idle_charge, self.window, float(len(ok)), float(self.mix)]
        self._params = np.concatenate([head, rows]).astype(np.float64)
        self._mem = np.zeros(1)
        self._scenario = view.scenario

    def select(self, view: DecisionView) -> int:
        """One step of the paced mixture."""
        return int(_pick(view.tick, view.remaining_mah, view.queue, self._params, self._mem))

    def loop(self, view: DecisionView) -> CompiledForm:
        """Compiled form for ``Engine.run``."""
        return compiled_loop(_pick), self._params, self._mem

    @property
    def plan(self) -> BoundResult:
        """The bound (and its optimal mixture) of the scenario of the last reset."""
        if self._scenario is None:
            raise AttributeError("plan: call reset(view) first")
        return bound(self._scenario)
