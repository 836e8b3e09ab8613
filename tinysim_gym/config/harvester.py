"""The harvester's config: a constant current, a half-sine sun, a trace, or real sunlight from pvlib.

The physics of ``pvlib`` sunlight (clear sky, clouds, indoor light) lives in
:mod:`tinysim_gym.core.sunlight`; nothing here imports pvlib or pandas.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from tinysim_gym.config.strict import Strict as _Strict


class CloudsConfig(_Strict):
    """A seeded cloud process scaling the clear-sky irradiance (see :mod:`tinysim_gym.core.sunlight`).

    Each day draws a clearness ``k_d = clip(mean + sd * z_d, 0.05, 1)``, ``z_d`` a stationary AR(1) with
    lag-one correlation ``day_correlation``; within the day a lognormal factor of mean 1 and log-sd
    ``intraday_sd``, an AR(1) with correlation time ``intraday_minutes``, moves it; the irradiance is the
    clear sky's times ``min(k_d * factor, 1)``.
    """

    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    mean: float = Field(default=0.6, gt=0, le=1)
    sd: float = Field(default=0.2, ge=0, le=1)
    day_correlation: float = Field(default=0.5, ge=0, lt=1)
    intraday_sd: float = Field(default=0.3, ge=0, le=3)
    intraday_minutes: float = Field(default=30.0, gt=0, le=1440)


class IndoorLightConfig(_Strict):
    """Artificial light instead of the sun: ``lux`` from ``from_h`` to ``to_h`` (local time) every day.

    ``lm_per_w``: the luminous efficacy of the light's radiation, turning illuminance into irradiance
    (W/m^2 = lux / lm_per_w); it depends on the lamp's spectrum, so it is the user's to give.
    """

    lux: float = Field(gt=0, le=2e5)
    from_h: float = Field(ge=0, lt=24)
    to_h: float = Field(gt=0, le=24)
    lm_per_w: float = Field(gt=0, le=683)

    @model_validator(mode="after")
    def _hours(self) -> IndoorLightConfig:
        if not self.from_h < self.to_h:
            raise ValueError(f"from_h < to_h is needed, got {self.from_h} and {self.to_h}")
        return self


_PV_FIELDS = ("latitude", "longitude", "start", "tz", "clouds", "indoor", "step_min")
_PANEL_FIELDS = ("panel_area_cm2", "efficiency", "charge_v")


class HarvesterConfig(_Strict):
    """An energy harvester charging the storage (a battery is capped at its capacity).

    ``constant``: ``current_ma``. ``solar``: a half sine of ``peak_current_ma`` during the day
    (``day_fraction`` of each ``period_ms``, starting at ``phase_ms``), nothing at night. ``trace``: a CSV of
    ``time_ms, value`` rows, the value holding until the next row: a current in mA, or with
    ``trace_units: irradiance_w_m2`` an irradiance on the panel. ``pvlib``: sunlight at ``latitude``,
    ``longitude`` from ``start`` (local time in ``tz``), clear sky from pvlib, optionally ``clouds`` or,
    instead of the sun, ``indoor`` light, evaluated every ``step_min`` minutes.

    A panel (``pvlib``, irradiance traces) of ``panel_area_cm2`` converting with ``efficiency`` delivers
    ``irradiance * area * efficiency`` watts, as a current at ``charge_v`` volts (the charger's output).
    """

    kind: Literal["constant", "solar", "trace", "pvlib"]
    current_ma: float | None = Field(default=None, ge=0, le=1e5)
    peak_current_ma: float | None = Field(default=None, ge=0, le=1e5)
    period_ms: float = Field(default=86_400_000.0, gt=0, le=1e12)
    day_fraction: float = Field(default=0.5, gt=0, le=1)
    phase_ms: float = Field(default=0.0, ge=-1e12, le=1e12)
    trace: str | None = Field(default=None, min_length=1, max_length=4096)
    trace_units: Literal["current_ma", "irradiance_w_m2"] = "current_ma"
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    start: str | None = Field(default=None, min_length=10, max_length=40)
    tz: str | None = Field(default=None, min_length=1, max_length=64)
    panel_area_cm2: float | None = Field(default=None, gt=0, le=1e6)
    efficiency: float | None = Field(default=None, gt=0, le=1)
    charge_v: float | None = Field(default=None, gt=0, le=100)
    step_min: float = Field(default=5.0, gt=0, le=60)
    clouds: CloudsConfig | None = None
    indoor: IndoorLightConfig | None = None

    @model_validator(mode="after")
    def _kind(self) -> HarvesterConfig:
        need = {"constant": "current_ma", "solar": "peak_current_ma", "trace": "trace", "pvlib": "latitude"}
        if getattr(self, need[self.kind]) is None:
            raise ValueError(f"{need[self.kind]}: required for a {self.kind!r} harvester")
        panel = self.kind == "pvlib" or self.trace_units == "irradiance_w_m2"
        for name in _PANEL_FIELDS if panel else ():
            if getattr(self, name) is None:
                raise ValueError(f"{name}: required for a harvester with a panel (pvlib, or an irradiance trace)")
        if self.trace_units != "current_ma" and self.kind != "trace":
            raise ValueError("trace_units: only for a 'trace' harvester")
        if self.kind != "pvlib":
            given = [n for n in _PV_FIELDS if n != "step_min" and getattr(self, n) is not None]
            given += [n for n in _PANEL_FIELDS if not panel and getattr(self, n) is not None]
            if given:
                raise ValueError(f"{given[0]}: only for a 'pvlib' harvester (or a panel's irradiance trace)")
            return self
        for name in ("longitude", "start", "tz"):
            if getattr(self, name) is None:
                raise ValueError(f"{name}: required for a 'pvlib' harvester")
        if self.clouds is not None and self.indoor is not None:
            raise ValueError("indoor: indoor light has no clouds; give either clouds or indoor")
        self.local_start()
        return self

    def local_start(self) -> dt.datetime:
        """``start`` as an aware datetime in ``tz`` (ISO 8601, local time unless it carries an offset)."""
        assert self.start is not None and self.tz is not None
        try:
            zone = zoneinfo.ZoneInfo(self.tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"tz: unknown time zone {self.tz!r} (an IANA name such as 'Europe/Berlin')") from None
        try:
            when = dt.datetime.fromisoformat(self.start)
        except ValueError:
            raise ValueError(f"start: expected an ISO 8601 date and time, got {self.start!r}") from None
        return when.replace(tzinfo=zone) if when.tzinfo is None else when.astimezone(zone)

    def panel_ma_per_w_m2(self) -> float:
        """The current (mA) the panel delivers per W/m^2 of irradiance."""
        assert self.panel_area_cm2 is not None and self.efficiency is not None and self.charge_v is not None
        return self.panel_area_cm2 * 1e-4 * self.efficiency / self.charge_v * 1000.0

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Fields for panels and sunlight are dumped only when used (older dumps, and their hashes, hold)."""
        out: dict[str, Any] = handler(self)
        defaults: dict[str, Any] = {n: None for n in (*_PV_FIELDS, *_PANEL_FIELDS)}
        defaults |= {"trace_units": "current_ma", "step_min": 5.0}
        for key, default in defaults.items():
            if out.get(key, default) == default and not (self.kind == "pvlib" and key == "step_min"):
                out.pop(key, None)
        return out
