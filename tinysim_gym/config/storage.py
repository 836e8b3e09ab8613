"""Energy storage configs: the battery and its discharge models, a supercapacitor and its converter.

The physics lives in :mod:`tinysim_gym.core` (``kibam``, ``peukert``, ``supercap``); these models only
validate the parameters.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from tinysim_gym.config.strict import Strict as _Strict


class KiBaMConfig(_Strict):
    """Kinetic battery model parameters.

    ``c``: the available well's share of the capacity; ``k_per_s``: the rate constant (1/s) of the flow
    between the wells.
    """

    c: float = Field(gt=0, lt=1)
    k_per_s: float = Field(gt=0, le=1e6)


class PeukertConfig(_Strict):
    """Peukert's law: the exponent (1 is an ideal battery) and the current (mA) at which the capacity is rated."""

    exponent: float = Field(ge=1, le=3)
    rated_current_ma: float = Field(gt=0, le=1e5)


class BatteryConfig(_Strict):
    """Battery capacity (mAh), initial state of charge (fraction, 0 < soc <= 1) and discharge model.

    ``model``: ``linear`` (an ideal coulomb counter, the default), ``kibam`` (two wells, see
    :mod:`tinysim_gym.core.kibam`; needs ``kibam``; the wells start at rest, at the same level, both full
    when ``initial_soc`` is 1) or ``peukert`` (rate-dependent capacity, see :mod:`tinysim_gym.core.peukert`;
    needs ``peukert``).

    ``restart_soc`` (needs a harvester): a device that ran the battery empty turns off (samples arriving
    count as ``dropped_off``) until the harvester has refilled it to ``restart_soc`` of its capacity, then
    boots (``boot_ms`` at ``boot_current_ma``, samples lost meanwhile) and runs again. Without it, an empty
    battery ends the episode's service for good.
    """

    capacity_mah: float = Field(gt=0, le=1e5)
    initial_soc: float = Field(default=1.0, gt=0, le=1)
    model: Literal["linear", "kibam", "peukert"] = "linear"
    kibam: KiBaMConfig | None = None
    peukert: PeukertConfig | None = None
    restart_soc: float | None = Field(default=None, gt=0, le=1)
    boot_ms: float = Field(default=0.0, ge=0, le=1e7)
    boot_current_ma: float = Field(default=0.0, ge=0, le=1e5)

    @model_validator(mode="after")
    def _model_parameters(self) -> BatteryConfig:
        if self.restart_soc is None and (self.boot_ms or self.boot_current_ma):
            raise ValueError("boot_ms: a boot cost is given without restart_soc (a battery device that never "
                             "restarts never boots)")
        for name in ("kibam", "peukert"):
            given = getattr(self, name) is not None
            if self.model == name and not given:
                raise ValueError(f"{name}: required for battery model {name!r}")
            if self.model != name and given:
                raise ValueError(f"{name}: given, but the battery model is {self.model!r}")
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The linear battery dumps as before the models existed (sweep cell keys hash the dump)."""
        out: dict[str, Any] = handler(self)
        if self.model == "linear":
            for key in ("model", "kibam", "peukert"):
                out.pop(key, None)
        if self.restart_soc is None:
            for key in ("restart_soc", "boot_ms", "boot_current_ma"):
                out.pop(key, None)
        return out

    @property
    def is_linear(self) -> bool:
        """True for the ideal coulomb counter (the only model the fixed-model fast loops implement)."""
        return self.model == "linear"


class SupercapConfig(_Strict):
    """A supercapacitor storing ``1/2 C V^2``, with the device's brown-out and restart thresholds.

    The device runs while the capacitor stays at or above ``v_off``; below it the device is off (samples
    arriving count as ``dropped_off``) until a harvester charges the capacitor back to ``v_on``, when it
    boots (``boot_ms`` at ``boot_current_ma``, samples lost meanwhile) and runs again. ``leakage_ua`` is a
    constant self-discharge current, drawn while the capacitor holds charge.
    """

    kind: Literal["supercap"]
    capacitance_f: float = Field(gt=0, le=1e4)
    v_max: float = Field(gt=0, le=100)
    v_on: float = Field(gt=0, le=100)
    v_off: float = Field(gt=0, le=100)
    leakage_ua: float = Field(default=0.0, ge=0, le=1e6)
    initial_v: float = Field(ge=0, le=100)
    boot_ms: float = Field(default=0.0, ge=0, le=1e7)
    boot_current_ma: float = Field(default=0.0, ge=0, le=1e5)

    @model_validator(mode="after")
    def _thresholds(self) -> SupercapConfig:
        if not self.v_off < self.v_on <= self.v_max:
            raise ValueError(f"v_off < v_on <= v_max is needed, got {self.v_off}, {self.v_on}, {self.v_max}")
        if self.initial_v > self.v_max:
            raise ValueError(f"initial_v: {self.initial_v} V is above v_max ({self.v_max} V)")
        return self


class ConverterConfig(_Strict):
    """The converter between the storage and the board.

    It delivers the board's power at ``output_v`` (the board's currents are at that voltage) with
    ``efficiency``, and draws ``quiescent_ua`` from the storage while the device is on.
    """

    efficiency: float = Field(default=1.0, gt=0, le=1)
    quiescent_ua: float = Field(default=0.0, ge=0, le=1e6)
    output_v: float = Field(default=3.3, gt=0, le=100)

    def usable_mah(self, cap: SupercapConfig, volts: float) -> float:
        """Charge (mAh) the board could draw from a capacitor at ``volts`` before it browns out.

        ``1/2 C (V^2 - v_off^2) efficiency / output_v``, ignoring the quiescent and leakage currents.
        """
        joules = 0.5 * cap.capacitance_f * max(volts * volts - cap.v_off * cap.v_off, 0.0)
        return joules * self.efficiency / self.output_v / 3.6
