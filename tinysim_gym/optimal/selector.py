"""The oracle as a selector: ``select(view) -> int``, one greedy step on the solved tables per decision.

:class:`OracleSelector` reads the engine it is handed (tick, charge, queue, the arrival buffer for the
phase, the waiting sample's arrival tick), so it runs in ``Engine.run`` like any heuristic. For an MMPP
workload the full-information oracle replays the modulating state from the episode's seed with a twin of
the engine's generator (:class:`MMPPReplay`); without a seed, or with ``observed=True``, it averages over
the hidden state instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine
from tinysim_gym.optimal.greedy import pick_action, pick_policy
from tinysim_gym.optimal.oracle import OracleSolution, solve


class MMPPReplay:
    """The modulating state of :class:`~tinysim_gym.core.arrivals.MMPPStream` for a seed, replayed.

    Draws the same numbers in the same order as the engine's stream (a generator seeded alike, the initial
    state, then blocks of exponentials and uniforms), so the state it reports at a time is the state the
    engine's arrivals were drawn in.
    """

    def __init__(self, rates_hz: tuple[float, float], switch_hz: tuple[float, float], seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.rates = np.asarray(rates_hz, dtype=np.float64) / 1000.0
        self.switch = np.asarray(switch_hz, dtype=np.float64) / 1000.0
        pi1 = self.switch[0] / (self.switch[0] + self.switch[1])
        self.state = int(self.rng.random() < pi1)
        self.e = self.u = np.empty(0)
        self.pos = 0
        self.now = 0.0
        self._next: tuple[float, bool] | None = None

    def _peek(self) -> tuple[float, bool]:
        if self._next is None:
            if self.pos >= len(self.e):
                self.e = self.rng.exponential(1.0, size=4096)
                self.u = self.rng.random(size=4096)
                self.pos = 0
            s = self.state
            total = self.rates[s] + self.switch[s]
            self._next = (self.now + self.e[self.pos] / total, bool(self.u[self.pos] * total >= self.rates[s]))
        return self._next

    def state_before(self, t_ms: float) -> int:
        """The modulating state after every event before ``t_ms`` (times only move forward)."""
        while True:
            when, is_switch = self._peek()
            if when >= t_ms:
                return self.state
            self.now = when
            if is_switch:
                self.state = 1 - self.state
            self.pos += 1
            self._next = None


class OracleSelector:
    """Greedy on the oracle's solution.

    Args:
        observed: restrict the oracle to the agent's observation (charge, time, queue): values are averaged
            over the hidden state (phase, MMPP state, sample age).
        solution: a solved oracle (default: solved, or read from the cache, at ``reset``).
    """

    name = "oracle"

    def __init__(self, observed: bool = False, solution: OracleSolution | None = None) -> None:
        self.observed = observed
        self.solution = solution
        self._last_arrival = 0
        self._replay: MMPPReplay | None = None
        self._tb = 1.0
        self._zero = 0
        self._seed_pending = True

    def reset(self, view: Engine) -> None:
        """Solve (or load) the scenario and prepare the hidden-state replay."""
        if self.solution is None:
            self.solution = solve(view.scenario)
        self._last_arrival = 0
        self._tb = view.timebase_ms
        self._zero = int(np.argmin(self.solution.prices))
        self._replay = None
        self._seed_pending = True

    def _phase(self, view: Engine) -> int:
        sol = self.solution
        assert sol is not None
        if sol.phase_kind == "gap":
            ai = int(view.ST[K.S_AI])
            if ai > 0:
                self._last_arrival = int(view.arr[ai - 1])
            return min(view.tick - self._last_arrival, sol.phase_cap)
        if sol.phase_kind == "mmpp":
            if self._seed_pending:
                self._seed_pending = False
                w = view.scenario.workload
                if view.seed is not None and w.mmpp is not None:
                    self._replay = MMPPReplay(w.mmpp.rates_hz, w.mmpp.switch_hz, view.seed)
            if self._replay is None:
                return -1
            return self._replay.state_before((view.tick + 1) * self._tb)
        return 0

    def policy_index(self, view: Engine) -> int:
        """Which priced policy the pacing table follows at this decision."""
        sol = self.solution
        assert sol is not None
        if sol.pace is None:
            return self._zero
        pace = sol.pace
        return int(pick_policy(view.tick, view.remaining_mah, pace.value, pace.bounds, sol.capacity, sol.acc_rate,
                               sol.charge_rate, view.PF, int(view.PI[K.I_HOFF])))

    def select(self, view: Engine) -> int:
        """The model with the best value at this decision."""
        sol = self.solution
        assert sol is not None
        i = self.policy_index(view)
        q = min(view.queue, sol.buffer)
        phase = self._phase(view)
        if self.observed or phase < 0:
            value = sol.observed_q[i, q]
            credit = sol.accuracy
        else:
            age = float(view.tick - int(view.ST[K.S_DEC_ARR]))
            x = sol.state(q, phase, age)
            credit = sol.accuracy if sol.deadline < 0 else np.where(age + sol.ticks <= sol.deadline, sol.accuracy, 0.0)
            value = credit + sol.cont[i, x]
        k = pick_action(value, credit, view.tick, view.remaining_mah, view.queue, sol.horizon, sol.ticks, sol.charge,
                        sol.reserve_bounds, sol.reserve, view.PF, int(view.PI[K.I_HOFF]), sol.capacity)
        return int(sol.actions[k])


def run_oracle(scenario: ScenarioConfig | str, seed: int | None = None, observed: bool = False) -> dict[str, Any]:
    """One episode of ``scenario`` under the oracle; the engine's metrics."""
    sc = scenario if isinstance(scenario, ScenarioConfig) else load_scenario(scenario)
    return Engine(sc, chunk=1 << 16).run(OracleSelector(observed=observed), seed=seed)
