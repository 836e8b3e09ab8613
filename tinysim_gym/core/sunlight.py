"""Real sunlight for a ``pvlib`` harvester: clear sky from pvlib, a seeded cloud process, or indoor light.

The irradiance is evaluated once per scenario, in bulk, on a grid of ``step_min`` minutes over the
horizon, at the middle of each step, and handed to the kernels as a piecewise-constant current (the
``trace`` harvest block, :func:`tinysim_gym.core.harvest.harvest_between`, integrated exactly per run of
ticks): no evaluation per tick or per event. The midpoint rule over 5-minute steps is within 0.1 % of the
daily clear-sky integral.

* Clear sky: pvlib's Ineichen-Perez model with pvlib's monthly Linke turbidity climatology at the site
  (``Location.get_clearsky(model="ineichen")``), the global horizontal irradiance on a horizontal panel.
  It is pvlib's default, needs nothing beyond the site, and models the atmosphere's turbidity; Haurwitz
  uses the sun's zenith alone, and simplified Solis needs aerosol and water vapour inputs a scenario
  does not have.
* Clouds (``clouds``): day ``d`` has a clearness ``k_d = clip(mean + sd * z_d, 0.05, 1)``, with ``z_d`` a
  stationary Gaussian AR(1) of lag-one correlation ``day_correlation`` (cloudy spells last days); within
  the day a factor ``exp(s * x(t) - s^2 / 2)`` (lognormal, mean 1, ``s = intraday_sd``) with ``x`` a
  stationary Gaussian AR(1) on the grid of correlation time ``intraday_minutes`` (passing clouds). The
  irradiance is the clear sky's times ``min(k_d * factor, 1)``: clouds never brighten it. The process is
  drawn from ``numpy.random.default_rng(seed)``, so a seed gives the same weather whatever the policy.
* Indoor light (``indoor``): ``lux / lm_per_w`` W/m^2 from ``from_h`` to ``to_h`` local time, every day,
  nothing otherwise (no sun).

pvlib pulls pandas: both are imported here, inside the function that builds the block, and only for a
``pvlib`` harvester (``import tinysim_gym`` and the CLI's start never load them).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from tinysim_gym.config.harvester import HarvesterConfig
from tinysim_gym.errors import TinySimError


def cloud_factor(clouds_seed: int, mean: float, sd: float, day_correlation: float, intraday_sd: float,
                 intraday_minutes: float, day_of_step: np.ndarray, step_min: float) -> np.ndarray:
    """The cloud process's factor ``min(k_d * intraday, 1)`` at each grid step (see the module)."""
    rng = np.random.default_rng(clouds_seed)
    n_days = int(day_of_step.max()) + 1 if len(day_of_step) else 0
    z = np.empty(n_days)
    rho = day_correlation
    shocks = rng.standard_normal(n_days)
    for d in range(n_days):
        z[d] = shocks[d] if d == 0 else rho * z[d - 1] + math.sqrt(1.0 - rho * rho) * shocks[d]
    k_day = np.clip(mean + sd * z, 0.05, 1.0)
    phi = math.exp(-step_min / intraday_minutes)
    eps = rng.standard_normal(len(day_of_step))
    x = np.empty(len(day_of_step))
    for i in range(len(x)):
        x[i] = eps[i] if i == 0 else phi * x[i - 1] + math.sqrt(1.0 - phi * phi) * eps[i]
    s = intraday_sd
    return np.minimum(k_day[day_of_step] * np.exp(s * x - 0.5 * s * s), 1.0)


def irradiance_w_m2(h: HarvesterConfig, horizon_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """The grid's step starts (ms from the start) and the irradiance (W/m^2) over each step."""
    try:  # only here: see the module's docstring
        import pandas as pd
        import pvlib
    except ImportError:
        raise TinySimError("harvester.kind: 'pvlib' needs the pvlib package (pip install 'tinysim-gym[sun]')") from None

    assert h.latitude is not None and h.longitude is not None and h.tz is not None
    step_ms = h.step_min * 60_000.0
    n = int(math.ceil(horizon_ms / step_ms)) + 1
    starts = np.arange(n) * step_ms
    start = pd.Timestamp(h.local_start())
    mids = start + pd.to_timedelta(starts + step_ms / 2.0, unit="ms")
    if h.indoor is not None:
        hour = np.asarray(mids.hour + mids.minute / 60.0 + mids.second / 3600.0, dtype=np.float64)
        on = (hour >= h.indoor.from_h) & (hour < h.indoor.to_h)
        return starts, np.where(on, h.indoor.lux / h.indoor.lm_per_w, 0.0)
    site = pvlib.location.Location(h.latitude, h.longitude, tz=h.tz)
    ghi = np.asarray(site.get_clearsky(mids, model="ineichen")["ghi"], dtype=np.float64)
    ghi = np.maximum(np.nan_to_num(ghi), 0.0)
    if h.clouds is not None:
        c = h.clouds
        day = np.asarray((mids.normalize() - start.normalize()).days, dtype=np.int64)
        ghi = ghi * cloud_factor(c.seed, c.mean, c.sd, c.day_correlation, c.intraday_sd, c.intraday_minutes,
                                 day, h.step_min)
    return starts, ghi


@functools.lru_cache(maxsize=16)
def sunlight_steps(h: HarvesterConfig, timebase_ms: float, horizon_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """A ``pvlib`` harvester's steps: their starts (ticks) and the panel's current over each (mA)."""
    starts, g = irradiance_w_m2(h, horizon_ms)
    ticks, currents = starts / timebase_ms, g * h.panel_ma_per_w_m2()
    ticks.setflags(write=False)
    currents.setflags(write=False)
    return ticks, currents
