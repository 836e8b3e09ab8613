"""The validated, typed configuration: boards, model profiles, workloads, batteries, harvesters and scenarios.

Every config is a frozen pydantic model that rejects unknown keys, NaN and infinities, and checks the
consistency of its fields (a sync workload's period against the slowest model, memory against the board, a
run that would take hours). The original TinySimulator JSON keys (``avg_infer_energy_cons``,
``training_accuracy``, ``latency``, ``dataset``, ``description``) stay accepted as aliases. Reading files
and resolving names is :mod:`tinysim_gym.config.loading`'s job; nothing here touches a file.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from tinysim_gym.config.hardware import BoardConfig, ProfileConfig
from tinysim_gym.config.harvester import HarvesterConfig
from tinysim_gym.config.randomize import check_randomize
from tinysim_gym.config.storage import BatteryConfig, ConverterConfig, SupercapConfig
from tinysim_gym.config.strict import Strict as _Strict


class MMPPConfig(_Strict):
    """Two-state Markov-modulated Poisson process: arrival rate and rate of leaving each state (per s)."""

    rates_hz: tuple[float, float] = Field(description="arrival rate in state 0 and in state 1")
    switch_hz: tuple[float, float] = Field(description="rate of leaving state 0 and state 1")

    @field_validator("rates_hz", "switch_hz", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        if isinstance(v, list):
            v = tuple(v)
        if not isinstance(v, tuple) or len(v) != 2:
            raise ValueError("expected two numbers [state 0, state 1]")
        for x in v:
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or not 0 < x <= 1e6:
                raise ValueError(f"expected two numbers in (0, 1e6], got {list(v)}")
        return tuple(float(x) for x in v)


class WorkloadConfig(_Strict):
    """How samples arrive.

    ``sync``: one sample every eligible tick (period ``floor(min_interval/timebase) + 1`` ticks), no buffer.
    ``async``: samples wait in a buffer of ``buffer_size`` and overflow is dropped; their arrival
    ``process`` is ``bernoulli`` (the original: after ``min_interval_ms`` each tick has an arrival with
    ``arrival_probability``), ``periodic`` (period ``min_interval_ms`` with uniform ``jitter_ms``),
    ``poisson`` (``rate_hz``), ``mmpp`` (bursty, see :class:`MMPPConfig`) or ``trace`` (a CSV of arrival
    times in ms, one per line or in the first column).
    """

    mode: Literal["sync", "async"] = "async"
    process: Literal["bernoulli", "periodic", "poisson", "mmpp", "trace"] = "bernoulli"
    min_interval_ms: float | None = Field(default=None, gt=0, le=1e9)
    arrival_probability: float = Field(default=0.5, gt=0, le=1)
    jitter_ms: float = Field(default=0.0, ge=0, le=1e9)
    rate_hz: float | None = Field(default=None, gt=0, le=1e6)
    mmpp: MMPPConfig | None = None
    trace: str | None = Field(default=None, min_length=1, max_length=4096)
    buffer_size: int = Field(default=6, ge=1, le=1_000_000)
    timebase_ms: float = Field(default=0.01, gt=0, le=1e3)

    @model_validator(mode="after")
    def _process(self) -> WorkloadConfig:
        p = self.process
        if p in ("bernoulli", "periodic") and self.min_interval_ms is None:
            raise ValueError(f"min_interval_ms: required for process {p!r}")
        if p == "poisson" and self.rate_hz is None:
            raise ValueError("rate_hz: required for process 'poisson'")
        if p == "mmpp" and self.mmpp is None:
            raise ValueError("mmpp: required for process 'mmpp' (rates_hz, switch_hz)")
        if p == "trace" and self.trace is None:
            raise ValueError("trace: required for process 'trace' (a CSV of arrival times in ms)")
        if self.mode == "sync" and p != "bernoulli":
            raise ValueError(f"process: sync mode takes the original 'bernoulli' process, got {p!r}; use async")
        if p == "periodic" and self.min_interval_ms is not None and self.jitter_ms >= self.min_interval_ms / 2:
            raise ValueError("jitter_ms: must be smaller than half of min_interval_ms (the period)")
        return self

    def mean_gap_ms(self) -> float | None:
        """Mean time between arrivals in ms (``None`` for a trace, known only once read)."""
        if self.process == "bernoulli":
            assert self.min_interval_ms is not None
            ticks = math.floor(self.min_interval_ms / self.timebase_ms)
            extra = 1.0 if self.mode == "sync" else 1.0 / self.arrival_probability
            return (ticks + extra) * self.timebase_ms
        if self.process == "periodic":
            return self.min_interval_ms
        if self.process == "poisson":
            assert self.rate_hz is not None
            return 1000.0 / self.rate_hz
        if self.process == "mmpp":
            assert self.mmpp is not None
            (l0, l1), (q0, q1) = self.mmpp.rates_hz, self.mmpp.switch_hz
            return 1000.0 / ((l0 * q1 + l1 * q0) / (q0 + q1))
        return None


class ScenarioConfig(_Strict):
    """A complete, resolved scenario: board, model profile, workload, battery and episode definition.

    ``horizon_ms``: when set, the device must serve that period; samples arriving after the battery dies, and
    samples left unserved at the end, count as dropped. ``seed_compat``: follow the original TinySimulator
    exactly (tick arithmetic, stop rule, Python ``random`` seeded with 1). ``allow_skip``: the policy may
    discard the waiting sample instead of serving it (one more action after the models; it costs the
    selector's latency and charge, and the sample counts as lost, reported as ``skipped``).
    """

    name: str = Field(default="scenario", min_length=1, max_length=200)
    description: str = ""
    board: BoardConfig
    profile: ProfileConfig
    workload: WorkloadConfig
    battery: BatteryConfig = None  # type: ignore[assignment]  # derived from ``storage`` when that is given
    storage: SupercapConfig | None = None
    converter: ConverterConfig | None = None
    horizon_ms: float | None = Field(default=None, gt=0, le=1e10)
    seed_compat: bool = False
    harvester: HarvesterConfig | None = None
    deadline_ms: float | None = Field(default=None, gt=0, le=1e10)
    memory_policy: Literal["reject", "mask"] = "reject"
    allow_skip: bool = False
    randomize: dict[str, Any] = Field(default_factory=dict)
    selector: str | None = None
    selector_params: dict[str, Any] = Field(default_factory=dict)

    def fits_memory(self) -> list[bool]:
        """Whether each model fits the board's RAM and flash (a size not given always fits)."""
        b = self.board
        return [
            (m.ram_kb is None or b.ram_kb is None or m.ram_kb <= b.ram_kb)
            and (m.flash_kb is None or b.flash_kb is None or m.flash_kb <= b.flash_kb)
            for m in self.profile.models
        ]

    @model_validator(mode="after")
    def _storage(self) -> ScenarioConfig:
        """With a supercapacitor, ``battery`` is derived: the charge the board could draw from a full one."""
        if self.storage is None:
            if self.battery is None:
                raise ValueError("battery: required (or a storage)")
            if self.converter is not None:
                raise ValueError("converter: given without a storage")
            return self
        if self.battery is not None:
            raise ValueError("battery: give either battery or storage, not both")
        conv = self.converter if self.converter is not None else ConverterConfig()
        object.__setattr__(self, "converter", conv)
        usable = conv.usable_mah(self.storage, self.storage.v_max)
        object.__setattr__(self, "battery", BatteryConfig(capacity_mah=float(f"{usable:.12g}")))
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without a storage the dump is as before it existed; with one, ``battery`` (derived) is left out."""
        out: dict[str, Any] = handler(self)
        for key in ("storage", "converter") if self.storage is None else ("battery",):
            out.pop(key, None)
        return out

    @property
    def plain_battery(self) -> bool:
        """True for a linear battery and no supercapacitor: the only storage the fixed-model loops implement."""
        return self.battery.is_linear and self.storage is None and self.battery.restart_soc is None

    @model_validator(mode="after")
    def _check(self) -> ScenarioConfig:
        w = self.workload
        lats = self.profile.total_latencies_ms
        if self.seed_compat:
            extras = [
                name
                for name, on in (
                    ("allow_skip", self.allow_skip),
                    ("harvester", self.harvester is not None),
                    ("deadline_ms", self.deadline_ms is not None),
                    ("workload.process", w.process != "bernoulli"),
                    ("randomize", bool(self.randomize)),
                    ("battery.model", self.battery.model != "linear"),
                    ("battery.restart_soc", self.battery.restart_soc is not None),
                    ("storage", self.storage is not None),
                    (
                        "profile.models[].inference_current_ma/charge_per_inference_uah/energy_uj",
                        any(
                            m.inference_current_ma or m.charge_per_inference_uah or m.energy_uj
                            for m in self.profile.models
                        ),
                    ),
                )
                if on
            ]
            if extras:
                raise ValueError(
                    f"seed_compat: the original model has no {extras[0]}; set seed_compat: false to use it"
                )
        for i, m in enumerate(self.profile.models):
            if m.energy_uj is not None and self.board.supply_v is None:
                raise ValueError(
                    f"profile.models[{i}].energy_uj: converting energy to charge needs board.supply_v, "
                    f"which board {self.board.name!r} does not give"
                )
        for key, spec in self.randomize.items():
            check_randomize(key, spec)
        fits = self.fits_memory()
        if not all(fits):
            bad = fits.index(False)
            m = self.profile.models[bad]
            if self.memory_policy == "reject":
                raise ValueError(
                    f"profile.models[{bad}]: model {str(m.id)!r} needs ram_kb={m.ram_kb}, flash_kb={m.flash_kb} but "
                    f"board {self.board.name!r} has ram_kb={self.board.ram_kb}, flash_kb={self.board.flash_kb} "
                    "(memory_policy: reject; use mask to keep the model set and mask it)"
                )
            if not any(fits):
                raise ValueError(f"profile.models: no model fits board {self.board.name!r} memory")
        if w.mode == "sync" and w.min_interval_ms is None:
            raise ValueError("workload.min_interval_ms: required in sync mode")
        for i, lat in enumerate(lats):
            ticks = lat / w.timebase_ms
            if not ticks > 0.5:  # the original's round(): half a tick would be 0 ticks, a free endless inference
                raise ValueError(
                    f"profile.models[{i}].latency_ms: latency plus selector latency ({lat} ms) must be more "
                    f"than half a tick (timebase {w.timebase_ms} ms)"
                )
            if ticks > 1e12:
                raise ValueError(
                    f"profile.models[{i}].latency_ms: {lat} ms is more than 1e12 ticks of {w.timebase_ms} ms"
                )
        if w.mode == "sync" and w.min_interval_ms is not None and max(lats) > w.min_interval_ms:
            raise ValueError(
                f"workload.min_interval_ms: sync mode needs min_interval_ms >= the slowest model's latency "
                f"plus selector latency ({max(lats):g} ms), got {w.min_interval_ms:g}"
            )
        if w.min_interval_ms is not None and w.min_interval_ms / w.timebase_ms > 1e12:
            raise ValueError("workload.min_interval_ms: more than 1e12 ticks between samples")
        if self.horizon_ms is not None and self.horizon_ms / w.timebase_ms > 1e13:
            raise ValueError("horizon_ms: more than 1e13 ticks")
        # Guard against scenarios that would run for hours: estimate decisions until depletion.
        e_min = min(lats) * self.board.inference_current_ma / 3.6e6
        decisions = self.battery.capacity_mah * self.battery.initial_soc / e_min
        gap = w.mean_gap_ms()
        if self.battery.restart_soc is not None and (self.harvester is None or self.storage is not None):
            raise ValueError(
                "battery.restart_soc: needs a harvester (nothing else refills an empty battery)"
                if self.storage is None
                else "battery.restart_soc: a supercapacitor restarts at storage.v_on"
            )
        if self.harvester is not None and self.horizon_ms is None:
            raise ValueError("horizon_ms: required with a harvester (a harvested device may never run down)")
        if self.horizon_ms is not None and gap is not None:
            decisions = min(decisions, self.horizon_ms / gap)
        if decisions > 2e9:
            raise ValueError(
                f"battery.capacity_mah: about {decisions:.3g} decisions until depletion (limit 2e9); "
                "use a smaller capacity or a horizon_ms"
            )
        return self
