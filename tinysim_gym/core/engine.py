"""The simulation engine: one decision at a time (``reset``, ``step``), or a whole run with a selector.

The engine turns a :class:`~tinysim_gym.config.ScenarioConfig` into the flat arrays of
:mod:`tinysim_gym.core.kernels` and feeds them arrival ticks in chunks. It is also the *decision view*
handed to selectors (:class:`tinysim_gym.core.view.DecisionView`): at a decision point its properties
(``soc``, ``queue``, ``tick``, ``dropped``, ...) describe the device, and ``step(model)`` serves the waiting
sample and jumps to the next decision.

Modes:
    seed-compatible (``scenario.seed_compat``): the original TinySimulator's arithmetic exactly (tick
    rounding, floating-point discharge, stop rule, Python ``random`` seeded with 1; sync mode's lump
    charge). Every run of the same scenario gives the same figures, whatever ``seed`` says.
    default: arrivals from :class:`numpy.random.Generator`, latencies rounded up to whole ticks, sync
    samples served like async ones (busy for the latency, idle for the rest of the period), and a tick
    runs only if the battery holds its whole charge (the charge drawn never exceeds the capacity).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinysim_gym.config import ScenarioConfig, load_scenario, read_csv_columns
from tinysim_gym.core import kernels as K
from tinysim_gym.core.arrivals import ArrivalStream, checked_trace_times, make_stream
from tinysim_gym.core.costs import ModelCosts, model_costs
from tinysim_gym.core.harvest import harvest_block
from tinysim_gym.core.metrics import episode_metrics
from tinysim_gym.core.storage import storage_of
from tinysim_gym.core.view import Selector
from tinysim_gym.errors import TinySimError


def discharge_mah(time_ms: float, current_ma: float) -> float:
    """Charge drawn by ``current_ma`` over ``time_ms``, in mAh, with the original's operand order."""
    return time_ms / 3600 / 1000 * current_ma


class Engine:
    """Event-driven simulation of one device under one scenario.

    Args:
        scenario: a validated scenario.
        chunk: arrival ticks generated per refill (memory stays bounded whatever the episode length).
    """

    def __init__(self, scenario: ScenarioConfig, chunk: int = 4096) -> None:
        self.scenario = scenario
        w, board, prof = scenario.workload, scenario.board, scenario.profile
        tb = w.timebase_ms
        self.timebase_ms = tb
        self.n_models = n = len(prof.models)
        self.model_ids = [str(m.id) for m in prof.models]
        self.accuracies = np.array(prof.accuracies, dtype=np.float64)
        lats = prof.total_latencies_ms
        self.min_interval_ticks = (w.min_interval_ms or 0.0) / tb
        self.seed_compat = scenario.seed_compat
        self.kind = K.KIND_LUMP if (self.seed_compat and w.mode == "sync") else K.KIND_QUEUE
        if self.seed_compat:
            svc = [math.ceil(x / tb) if w.mode == "sync" else round(x / tb) for x in lats]
        else:
            svc = [max(1, math.ceil(x / tb - 1e-9)) for x in lats]
        self.service_ticks = np.array(svc, dtype=np.int64)
        self.horizon_ticks = -1 if scenario.horizon_ms is None else round(scenario.horizon_ms / tb)
        self.period_ticks = math.floor(self.min_interval_ticks) + 1
        d_inf = np.empty(n)
        for i, m in enumerate(prof.models):  # per-tick inference charge: the model's own figure, or the board's
            q_uah = m.charge_uah(board.supply_v)
            if q_uah is not None:
                d_inf[i] = q_uah / 1000.0 / svc[i]
            else:
                d_inf[i] = discharge_mah(tb, m.inference_current_ma or board.inference_current_ma)
        self.available = np.array(scenario.fits_memory(), dtype=bool)
        self.deadline_ticks = -1 if scenario.deadline_ms is None else round(scenario.deadline_ms / tb)
        # the skip action (index n): the selector runs (its latency, at the board's inference current), no model
        self.allow_skip = bool(scenario.allow_skip)
        self.n_actions = n + int(self.allow_skip)
        sel_ms = prof.selector_latency_ms
        self.skip_ticks = max(0, math.ceil(sel_ms / tb - 1e-9)) if self.allow_skip else -1
        self.storage, d_inf, d_idle = storage_of(scenario, d_inf, discharge_mah(tb, board.idle_current_ma))
        self.capacity_mah, self.initial_mah = self.storage.capacity_mah, self.storage.initial_mah
        harvest = harvest_block(scenario)
        lump = np.array([discharge_mah(math.ceil(x / tb) * tb, board.inference_current_ma) for x in lats])

        self.PI = np.zeros(K.I_SVC + 2 * n, dtype=np.int64)
        self.PI[K.I_KIND] = self.kind
        self.PI[K.I_SEED] = int(self.seed_compat)
        self.PI[K.I_BUF] = w.buffer_size
        self.PI[K.I_H] = self.horizon_ticks
        self.PI[K.I_PERIOD] = self.period_ticks
        self.PI[K.I_N] = n
        self.PI[K.I_SVC : K.I_SVC + n] = self.service_ticks
        fallback = max(np.flatnonzero(self.available), key=lambda i: (self.accuracies[i], -i))
        self.PI[K.I_SVC + n :] = [i if self.available[i] else fallback for i in range(n)]
        self.PI[K.I_DEADLINE] = self.deadline_ticks
        self.PI[K.I_SKIP] = self.skip_ticks
        self.PI[K.I_HOFF] = 0 if harvest is None else K.F_ACC + 3 * n
        store_off = K.F_ACC + 3 * n + (0 if harvest is None else len(harvest))
        self.PF = np.zeros(store_off + len(self.storage.block), dtype=np.float64)
        self.storage.place(self.PF, store_off)
        self.PF[K.F_TB] = tb
        if harvest is not None:
            self.PF[K.F_ACC + 3 * n : store_off] = harvest
        self.PF[K.F_D_IDLE] = d_idle
        self.PF[K.F_D_SKIP] = discharge_mah(tb, board.inference_current_ma) if sel_ms > 0 else 0.0
        self.PF[K.F_LUMP_IDLE] = discharge_mah((w.min_interval_ms or 0.0) * tb, board.idle_current_ma)
        self.PF[K.F_MIN_DINF] = d_inf.min()
        self.PF[K.F_R0] = self.initial_mah
        self.PF[K.F_CAP] = self.capacity_mah
        self.PF[K.F_ACC : K.F_ACC + n] = self.accuracies
        self.PF[K.F_ACC + n : K.F_ACC + 2 * n] = d_inf
        self.PF[K.F_ACC + 2 * n : K.F_ACC + 3 * n] = lump
        self.inference_charge_mah = d_inf * self.service_ticks  # charge of one inference, per model
        self.skip_charge_mah = self.PF[K.F_D_SKIP] * max(self.skip_ticks, 0)  # charge of one skip

        self.arr = np.zeros(chunk, dtype=np.int64)
        self.ST, self.FS = K.empty_state(n, w.buffer_size)
        self._trace = None
        if w.process == "trace":
            assert w.trace is not None
            self._trace = checked_trace_times(read_csv_columns(w.trace, "workload.trace", 1)[0], tb)
        self.stream: ArrivalStream | None = None
        self.seed: int | None = None
        self._status = K.DONE

    # ------------------------------------------------------------------ lifecycle

    def reset(self, seed: int | None = None, rng: np.random.Generator | None = None) -> bool:
        """Start a new episode and advance to the first decision.

        Args:
            seed: seeds the default-mode arrival generator (ignored in seed-compatible mode, which always
                uses the original's stream).
            rng: use this generator instead (the Gymnasium env passes its ``np_random``).

        Returns:
            True when a decision is pending (False only for an episode that ends before any sample).
        """
        self.seed = seed
        w = self.scenario.workload
        self.stream = None if self.kind == K.KIND_LUMP else make_stream(self.scenario, self._trace, seed, rng)
        self.ST, self.FS = K.empty_state(self.n_models, w.buffer_size)
        self.FS[K.G_R] = self.initial_mah
        self.storage.start(self.FS)
        if self.stream is not None:
            self.refill_arrivals()
        self._status = self._drive(K.advance(self.ST, self.FS, self.PI, self.PF, self.arr))
        return self._status == K.DECISION

    def refill_arrivals(self) -> None:
        """Load the next chunk of arrival ticks into ``arr``, after a kernel returned ``NEED_ARRIVALS``.

        The envs drive the arrays with their own kernels and call this when those run out of arrivals.
        """
        assert self.stream is not None
        self.ST[K.S_AN] = self.stream.fill(self.arr)
        self.ST[K.S_AI] = 0

    def set_status(self, status: int) -> None:
        """Record the status (``DECISION`` or ``DONE``) an outside kernel returned after moving the arrays.

        The decision view (``decision_pending``, ``done``, ``tick``, ``step``) reads it; the single env
        calls this after each of its kernel calls.
        """
        self._status = status

    def sync_status(self) -> int:
        """Read the status from the state arrays after outside kernels moved them, and return it.

        ``DECISION`` when a sample waits, else ``DONE`` (only valid between kernel calls, not after one
        that returned ``NEED_ARRIVALS``). The batched env calls this before it hands out an engine.
        """
        self._status = K.DECISION if self.ST[K.S_PHASE] == K.P_DECIDE else K.DONE
        return self._status

    def _drive(self, status: int) -> int:
        while status == K.NEED_ARRIVALS:
            self.refill_arrivals()
            status = K.advance(self.ST, self.FS, self.PI, self.PF, self.arr)
        return status

    def step(self, model: int) -> bool:
        """Serve the waiting sample with ``model`` (or skip it: ``model == n_models`` with ``allow_skip``).

        Returns:
            True when another decision is pending, False when the episode has ended.

        Raises:
            TinySimError: no decision is pending, or ``model`` is not a valid index.
        """
        if self._status != K.DECISION:
            raise TinySimError("step: no decision is pending (call reset() first; the episode may have ended)")
        if not 0 <= model < self.n_actions:
            skip = f" ({self.n_models}: skip)" if self.allow_skip else ""
            raise TinySimError(f"action: model index {model} out of range 0..{self.n_actions - 1}{skip}")
        self._status = self._drive(K.step(self.ST, self.FS, self.PI, self.PF, self.arr, int(model)))
        return self._status == K.DECISION

    def run(
        self, selector: Selector, seed: int | None = None, progress: Callable[[float], None] | None = None
    ) -> dict[str, Any]:
        """Run one whole episode with ``selector`` and return the metrics.

        The fastest form a selector offers is used:

        * ``loop(engine) -> (fn, params, mem)``: a compiled loop ``fn(ST, FS, PI, PF, arr, params, mem)`` that
          calls the kernels and its own decision function; it returns ``NEED_ARRIVALS``, ``NEED_MORE`` (then
          ``selector.more(params, mem)`` refills its own data) or ``DONE``;
        * ``select(engine) -> int``: called once per decision.

        Args:
            selector: the policy (its ``reset(engine)`` is called first, if it has one).
            seed: episode seed (default mode).
            progress: optional callable ``progress(fraction_of_battery_used)`` called between chunks.
        """
        if hasattr(selector, "reset"):
            selector.reset(self)
        self.reset(seed)
        if hasattr(selector, "loop"):
            fn, params, mem = selector.loop(self)
            status = self._status
            while status != K.DONE:
                status = fn(self.ST, self.FS, self.PI, self.PF, self.arr, params, mem)
                if status == K.NEED_ARRIVALS:
                    self.refill_arrivals()
                    if progress is not None:
                        progress(self.used_fraction)
                elif status == K.NEED_MORE:
                    selector.more(params, mem)
            self._status = K.DONE
        else:
            n = 0
            while self._status == K.DECISION:
                self.step(selector.select(self))
                n += 1
                if progress is not None and n % 65536 == 0:
                    progress(self.used_fraction)
        if progress is not None:
            progress(1.0)
        return self.metrics()

    # ------------------------------------------------------------------ decision view

    @property
    def decision_pending(self) -> bool:
        """True while a sample waits for a model choice."""
        return self._status == K.DECISION

    @property
    def done(self) -> bool:
        """True once the episode has ended."""
        return self._status == K.DONE

    @property
    def remaining_mah(self) -> float:
        """Charge left in the battery (the seed mode's last tick may leave it slightly negative)."""
        return float(self.FS[K.G_R])

    @property
    def soc(self) -> float:
        """State of charge as a fraction of the capacity, clipped to [0, 1]."""
        return min(max(self.FS[K.G_R] / self.capacity_mah, 0.0), 1.0)

    @property
    def soc_pct(self) -> float:
        """State of charge in percent, as the original's selectors see it (not clipped)."""
        return self.FS[K.G_R] / self.capacity_mah * 100.0  # the original's operand order

    @property
    def queue(self) -> int:
        """Samples waiting in the buffer (not counting the one being decided on)."""
        return int(self.ST[K.S_Q])

    @property
    def buffer_size(self) -> int:
        """Capacity of the buffer."""
        return int(self.PI[K.I_BUF])

    @property
    def tick(self) -> int:
        """Tick of the pending decision (or of the end)."""
        return int(self.ST[K.S_T] if self._status == K.DECISION else self.end_tick)

    @property
    def time_ms(self) -> float:
        """Time of the pending decision in ms."""
        return self.tick * self.timebase_ms

    @property
    def end_tick(self) -> int:
        """First tick that did not run (the operating time in ticks), or -1 while running."""
        return int(self.ST[K.S_END])

    @property
    def inferences(self) -> int:
        """Inferences started so far."""
        return int(self.ST[K.S_INF])

    @property
    def dropped(self) -> int:
        """Samples lost so far (buffer overflow, plus, with a horizon, those arriving after the end)."""
        return int(self.ST[K.S_DROP_OVF] + self.ST[K.S_DROP_AFTER])

    @property
    def skipped(self) -> int:
        """Samples discarded by the skip action so far (not counted in ``dropped``)."""
        return int(self.ST[K.S_SKIPPED])

    @property
    def head_arrival_tick(self) -> int:
        """Arrival tick of the sample being decided on (its age is ``tick - head_arrival_tick``)."""
        return int(self.ST[K.S_DEC_ARR])

    @property
    def waiting_arrival_ticks(self) -> np.ndarray:
        """Arrival ticks of the buffered samples, oldest first (not the one being decided on)."""
        ring = self.ST[K.S_COUNTS + 2 * self.n_models :]
        q, head = int(self.ST[K.S_Q]), int(self.ST[K.S_QHEAD])
        return ring[(head + np.arange(q)) % max(len(ring), 1)].copy()

    @property
    def arrivals(self) -> int:
        """Samples that have arrived so far (including the one being decided on)."""
        return int(self.ST[K.S_ARR])

    @property
    def last_action(self) -> int:
        """The previous decision's model index (-1 before the first)."""
        return int(self.ST[K.S_LAST_ACTION])

    @property
    def model_counts(self) -> np.ndarray:
        """Inferences per model so far."""
        return self.ST[K.S_COUNTS : K.S_COUNTS + self.n_models].copy()

    def model_costs(self) -> ModelCosts:
        """Per-model costs of one served sample under this engine's arithmetic."""
        return model_costs(self)

    @property
    def used_fraction(self) -> float:
        """Fraction of the initial charge drawn so far (for progress bars)."""
        if self.initial_mah <= 0.0:  # a supercapacitor starting empty
            return 0.0
        return min(max(1.0 - self.FS[K.G_R] / self.initial_mah, 0.0), 1.0)

    # ------------------------------------------------------------------ metrics

    def metrics(self) -> dict[str, Any]:
        """The figures of the episode so far, as ``tinysim simulate --json`` prints them."""
        return episode_metrics(
            self.scenario, self.ST, self.FS, self.model_ids, self.accuracies, self.initial_mah, self.soc,
            None if self.seed_compat else self.seed,
        )


def run(
    target: Engine | ScenarioConfig | str,
    selector: Selector,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Run one whole episode with ``selector`` on the fastest path it supports; return the metrics.

    Args:
        target: an engine, a scenario, or a scenario name / path (a new engine with large arrival chunks).
        selector: the policy (see :meth:`Engine.run`).
        seed: episode seed (default mode).
        progress: optional ``progress(fraction_of_battery_used)``, called between arrival chunks.

    Returns:
        ``engine.metrics()`` of the finished episode.
    """
    if isinstance(target, Engine):
        engine = target
    else:
        engine = Engine(target if isinstance(target, ScenarioConfig) else load_scenario(target), chunk=1 << 16)
    return engine.run(selector, seed=seed, progress=progress)
