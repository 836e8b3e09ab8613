"""Boards and the model profiles measured on them.

A board gives its currents in mA, or its measured power in mW with the supply voltage it was measured at
(``current = power / supply_v``), as MLPerf Tiny publishes it. A model gives its latency and, optionally,
its own cost of one inference: a current, a charge (uAh) or an energy (uJ, converted to charge with the
board's ``supply_v``: ``uJ / V = uC``, ``uC / 3600 = uAh``). ``source`` names where each figure comes from.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from tinysim_gym.config.strict import Strict as _Strict

_SOURCE = Field(default="", max_length=2000)


def _drop_defaults(out: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Leave fields out of a dump while they hold their default.

    Dumps, and the keys hashed from them, stay as they were before the fields existed.
    """
    for key, default in defaults.items():
        if key in out and out[key] == default:
            del out[key]
    return out


class BoardConfig(_Strict):
    """A microcontroller board: average currents in mA (or powers in mW at ``supply_v``), optional memory sizes."""

    name: str = Field(default="board", min_length=1, max_length=200)
    inference_current_ma: float = Field(  # type: ignore[assignment]  # derived from active_power_mw when given
        default=None, gt=0, le=1e5, validation_alias=AliasChoices("inference_current_ma", "avg_infer_energy_cons")
    )
    idle_current_ma: float = Field(  # type: ignore[assignment]  # derived from idle_power_mw when given
        default=None, ge=0, le=1e5, validation_alias=AliasChoices("idle_current_ma", "avg_idle_energy_cons")
    )
    supply_v: float | None = Field(default=None, gt=0, le=100)
    active_power_mw: float | None = Field(default=None, gt=0, le=1e6)
    idle_power_mw: float | None = Field(default=None, ge=0, le=1e6)
    ram_kb: float | None = Field(default=None, gt=0, le=1e9)
    flash_kb: float | None = Field(default=None, gt=0, le=1e9)
    description: str = ""
    source: str = _SOURCE

    @model_validator(mode="after")
    def _currents(self) -> BoardConfig:
        for current, power, original in (
            ("inference_current_ma", "active_power_mw", "avg_infer_energy_cons"),
            ("idle_current_ma", "idle_power_mw", "avg_idle_energy_cons"),
        ):
            c, p = getattr(self, current), getattr(self, power)
            if c is not None and p is not None:
                raise ValueError(f"{power}: give either {current} or {power}, not both")
            if c is None and p is None:
                raise ValueError(
                    f"{current}: required (in the original JSON format: {original}; or {power} with supply_v)"
                )
            if p is not None:
                if self.supply_v is None:
                    raise ValueError(f"supply_v: required with {power} (the current is power / supply_v)")
                object.__setattr__(self, current, p / self.supply_v)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Currents derived from powers are left out (the powers are the data); new fields only when set."""
        out: dict[str, Any] = handler(self)
        if self.active_power_mw is not None:
            out.pop("inference_current_ma", None)
        if self.idle_power_mw is not None:
            out.pop("idle_current_ma", None)
        return _drop_defaults(out, {"supply_v": None, "active_power_mw": None, "idle_power_mw": None, "source": ""})


class ModelConfig(_Strict):
    """One pre-profiled model: accuracy in %, latency in ms (the set's selector latency is added).

    Its cost of one inference is, at most one of: ``inference_current_ma`` (over its latency),
    ``charge_per_inference_uah``, or ``energy_uj`` (converted with the board's ``supply_v``); with none, the
    board's inference current over the latency.
    """

    id: str | int
    accuracy: float = Field(ge=0, le=100, validation_alias=AliasChoices("accuracy", "training_accuracy"))
    latency_ms: float = Field(gt=0, le=1e7, validation_alias=AliasChoices("latency_ms", "latency"))
    ram_kb: float | None = Field(default=None, gt=0, le=1e9)
    flash_kb: float | None = Field(default=None, gt=0, le=1e9)
    inference_current_ma: float | None = Field(default=None, gt=0, le=1e5)
    charge_per_inference_uah: float | None = Field(default=None, gt=0, le=1e9)
    energy_uj: float | None = Field(default=None, gt=0, le=1e12)
    source: str = _SOURCE

    @model_validator(mode="after")
    def _one_energy(self) -> ModelConfig:
        given = [k for k in ("inference_current_ma", "charge_per_inference_uah", "energy_uj") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(
                f"give at most one of inference_current_ma, charge_per_inference_uah, energy_uj; got {given}"
            )
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_defaults(handler(self), {"energy_uj": None, "source": ""})

    def charge_uah(self, supply_v: float | None) -> float | None:
        """The charge (uAh) of one inference when the model gives its own, else ``None``.

        Args:
            supply_v: the board's supply voltage, converting ``energy_uj`` (``uJ / V / 3600 = uAh``).
        """
        if self.charge_per_inference_uah is not None:
            return self.charge_per_inference_uah
        if self.energy_uj is not None:
            if supply_v is None:
                raise ValueError("energy_uj needs the board's supply_v to convert energy to charge")
            return self.energy_uj / supply_v / 3600.0
        return None


class ProfileConfig(_Strict):
    """A model set measured on one board."""

    name: str = Field(default="profile", min_length=1, max_length=200)
    dataset: str = ""
    description: str = ""
    selector_latency_ms: float = Field(
        default=0.0, ge=0, le=1e7, validation_alias=AliasChoices("selector_latency_ms", "selector_latency")
    )
    fuzzy_variant: Literal["tova", "stream"] | None = None
    models: list[ModelConfig] = Field(min_length=1, max_length=1000)
    board: str = Field(default="", max_length=200, description="the built-in board it was measured on")
    source: str = _SOURCE

    @field_validator("models")
    @classmethod
    def _unique_ids(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        seen: set[str] = set()
        for m in models:
            key = str(m.id)
            if key in seen:
                raise ValueError(f"duplicate model id {key!r}; ids must be unique")
            seen.add(key)
        return models

    @model_validator(mode="after")
    def _variant(self) -> ProfileConfig:
        if self.fuzzy_variant is None:
            guess = "stream" if ("stream" in self.name or len(self.models) == 4) else "tova"
            object.__setattr__(self, "fuzzy_variant", guess)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_defaults(handler(self), {"board": "", "source": ""})

    @property
    def accuracies(self) -> list[float]:
        """Accuracy (%) of each model, in order."""
        return [m.accuracy for m in self.models]

    @property
    def total_latencies_ms(self) -> list[float]:
        """Latency of each model plus the selector latency, in ms."""
        return [m.latency_ms + self.selector_latency_ms for m in self.models]
