"""The padded, scenario-describing encoding: one observation and action layout for every model set.

With ``max_models: K`` the env's action space is ``Discrete(K)`` (``Discrete(K + 1)`` with ``allow_skip``,
the skip last) whatever the profile's model count ``n <= K``; with ``obs_model_features: true`` the
observation also describes the device, so one network can read any board, profile, battery and workload.

**Slots.** The ``n`` models fill slots ``0 .. n-1`` in a canonical order: ascending charge of one
inference, ties broken by latency, then by accuracy (highest first), then by model id. Slots ``n .. K-1``
are missing. The order depends only on the models themselves, never on how a profile lists them, so the
same model set written in any order gives the same observations and the same model for each action: the
encoding is permutation-safe without a permutation-invariant network. Slot 0 is always the cheapest model.

**Actions.** Slot ``i < n`` runs its model, the skip index runs the skip. A missing slot is masked in
:meth:`ModelSlots.mask` (MaskablePPO never picks it); plain PPO may still choose one, and the env then runs
slot 0, the cheapest model (the documented safe fallback: it never overflows the budget more than any
other choice would).

**Features** (``obs_model_features``), appended after the env's other features, all in [0, 1]; with
``q`` one inference's charge, ``cap`` the storage's capacity, ``rem`` the charge left, ``gap`` the
workload's mean arrival gap and ``left`` the arrivals expected before the horizon
(``(horizon - now) / gap``; 0 without a horizon):

=====================  =========================================================================
feature                value
=====================  =========================================================================
model_present_i        1 for a model, 0 for a missing slot (every feature of a missing slot is 0)
model_accuracy_i       accuracy / 100
model_latency_i        ``r / (1 + r)`` with ``r = latency / gap`` (0.5: the model takes one mean gap)
model_charge_i         ``(log10(q / cap) + 6) / 6`` clipped: 0 for a millionth of the capacity, 1 for all of it
model_charge_left_i    ``q / rem`` clipped to 1 (1 when nothing is left)
model_affordable_i     ``rem / (q x left)`` clipped to 1: the share of the remaining arrivals the charge left
                       pays for with this model alone (1 without a horizon: nothing to pace against)
samples_left           ``log10(1 + left) / 6`` clipped to 1 (0 without a horizon)
=====================  =========================================================================

**Pacing features** (``obs_model_features: pacing``): the same, and after each slot's six four more that
make the budget's choice a linear read-out instead of a function the network must learn per device. With
``pace = (rem - idle drain to the horizon) / (1 + left)``, the charge each remaining sample may spend:

=====================  =========================================================================
model_accuracy_rel_i   ``(acc - min) / (max - min)`` over the profile (1 when all are equal): accuracy /
                       100 squeezes a 96.6 .. 99.3 % model set into 0.03 of the input range
model_dominated_i      1 when another model is at least as accurate, no dearer and no slower (and
                       strictly better in one, or an identical model in an earlier slot)
model_pace_i           ``x / (1 + x)``, ``x = pace / q`` (0.5: the charge left pays for this model on
                       every remaining sample; 1 for a free model or without a horizon)
model_paced_i          1 for the most accurate undominated model whose ``q <= pace`` and whose latency
                       keeps up with the mean arrival gap (slot 0, the cheapest, when none is): what a
                       budget-pacing controller would run now
=====================  =========================================================================

The pace ignores the harvest to come (``harvest_now`` and ``soc`` say how much arrives): on a harvested
device it is a floor, and the policy may spend above it.

The default observation's ``soc`` (charge / capacity) and ``buffer_fill`` already normalise the energy and
the queue; these add what differs between devices: what each model costs against what is left to serve.
Every value comes from the device's configuration (profile, board, battery, workload parameters), its
charge and its clock: nothing hidden (no future arrivals, no workload state). The padded observation has
no C builder: ``tinysim export`` refuses it.
"""

from __future__ import annotations

import math

import numpy as np

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import ConfigError, TinySimError

#: per-slot features, in order (each name gets the slot's index)
SLOT_FEATURES = ("model_present", "model_accuracy", "model_latency", "model_charge", "model_charge_left",
                 "model_affordable")
#: features after the slots
GLOBAL_FEATURES = ("samples_left",)
#: per-slot features ``obs_model_features: pacing`` adds after each slot's :data:`SLOT_FEATURES`
PACING_FEATURES = ("model_accuracy_rel", "model_dominated", "model_pace", "model_paced")
#: ``obs_model_features`` values -> the feature set ("" none, "basic" the slot features, "pacing" with pacing)
MODES = {False: "", True: "basic", "pacing": "pacing"}


def slot_features(mode: str) -> tuple[str, ...]:
    """The per-slot feature names of a feature set (``"basic"`` or ``"pacing"``)."""
    return SLOT_FEATURES + PACING_FEATURES if mode == "pacing" else SLOT_FEATURES


def feature_names(max_models: int, mode: str = "basic") -> list[str]:
    """The padded features' names: slot by slot, then the global ones."""
    per = slot_features(mode)
    return [f"{f}_{i}" for i in range(max_models) for f in per] + list(GLOBAL_FEATURES)


def parse_padding(max_models: object, features: object, charge_switch: bool) -> tuple[int | None, str]:
    """Validate ``max_models`` and ``obs_model_features``; ``(K or None, feature set: "", "basic", "pacing")``.

    Raises:
        ConfigError: one line naming the field and what is allowed.
    """
    key = bool(features) if isinstance(features, bool | np.bool_) else features
    if not isinstance(key, bool | str) or key not in MODES:
        raise ConfigError(f"env.obs_model_features: expected true, false or 'pacing', got {features!r}")
    mode = MODES[key]
    if max_models is None:
        if mode:
            raise ConfigError("env.obs_model_features: needs max_models (the number of padded model slots)")
        return None, ""
    if isinstance(max_models, bool) or not isinstance(max_models, int | np.integer) or not 1 <= max_models <= 64:
        raise ConfigError(f"env.max_models: expected an integer in 1..64 (padded model slots) or None, "
                          f"got {max_models!r}")
    if charge_switch:
        raise ConfigError("env.obs_charge_per_inference: one feature per model does not pad; with max_models use "
                          "obs_model_features (model_charge_left_i is the same figure per slot)")
    return int(max_models), mode


def check_fits(max_models: int, scenario: ScenarioConfig, what: str) -> None:
    """Raise a one-line error when ``scenario``'s profile has more models than the padded slots."""
    n = len(scenario.profile.models)
    if n > max_models:
        raise TinySimError(f"{what}: profile {scenario.profile.name!r} has {n} models, more than max_models "
                           f"{max_models} (the padded action space)")


class ModelSlots:
    """The padded layout of one episode's engine: slot order, action map, masks and the features.

    Args:
        max_models: the padded slot count ``K``.
        features: the feature set :meth:`fill` writes (``"basic"`` or True, ``"pacing"``; ``""`` or False: none).
    """

    def __init__(self, max_models: int, features: bool | str) -> None:
        self.max_models = max_models
        self.mode = MODES[features] if isinstance(features, bool) else features
        self.features = bool(self.mode)
        self.width = len(slot_features(self.mode))
        self.dim = len(feature_names(max_models, self.mode)) if self.features else 0

    def refresh(self, eng: Engine) -> None:
        """Cache the episode's slot order and its static features (a new engine or scenario)."""
        n, k_max = eng.n_models, self.max_models
        if n > k_max:
            raise TinySimError(f"max_models: profile {eng.scenario.profile.name!r} has {n} models, more than "
                               f"max_models {k_max} (the padded action space)")
        q = np.asarray(eng.inference_charge_mah, dtype=np.float64)
        lat = np.asarray(eng.service_ticks, dtype=np.float64) * eng.timebase_ms
        acc = np.asarray(eng.accuracies, dtype=np.float64)
        ids = list(eng.model_ids)
        order = sorted(range(n), key=lambda i: (q[i], lat[i], -acc[i], ids[i]))
        self.n = n
        self.order = np.array(order, dtype=np.int64)
        #: padded action -> engine action (missing slots -> slot 0; the skip -> the engine's skip index)
        amap = np.full(k_max, self.order[0], dtype=np.int64)
        amap[:n] = self.order
        self.action_map = np.append(amap, n) if eng.allow_skip else amap
        self.allow_skip = bool(eng.allow_skip)
        w = eng.scenario.workload
        gap = w.mean_gap_ms() or w.min_interval_ms or 1.0
        self.gap_ms = float(gap)
        self.horizon_ms = eng.scenario.horizon_ms
        self.q = q[self.order]
        cap = float(eng.PF[K.F_CAP])
        static = np.zeros((k_max, 3), dtype=np.float64)
        static[:n, 0] = acc[self.order] / 100.0
        r = lat[self.order] / self.gap_ms
        static[:n, 1] = r / (1.0 + r)
        with np.errstate(divide="ignore"):
            static[:n, 2] = np.clip((np.log10(self.q / cap) + 6.0) / 6.0, 0.0, 1.0) if cap > 0 else 1.0
        self.static = static
        self.lat = lat[self.order]
        a = acc[self.order]
        span = float(a.max() - a.min())
        self.acc_rel = (a - a.min()) / span if span > 0 else np.ones(n)
        self.dominated = dominated(a, self.q, self.lat)
        #: the board's idle drain (mAh per ms), which the pace sets aside before the samples share the rest
        self.idle_mah_per_ms = float(eng.scenario.board.idle_current_ma) / 3.6e6

    def engine_action(self, action: int) -> int:
        """The engine's action for a padded one (a missing slot runs slot 0, the cheapest model)."""
        return int(self.action_map[action])

    def mask(self, engine_mask: np.ndarray) -> np.ndarray:
        """The padded mask from the engine's (models in profile order, then the skip): missing slots False."""
        out = np.zeros(self.max_models + int(self.allow_skip), dtype=bool)
        out[: self.n] = engine_mask[self.order]
        if self.allow_skip:
            out[-1] = engine_mask[-1]
        if not out.any():
            out[0] = True
        return out

    def fill(self, obs: np.ndarray, remaining_mah: float, time_ms: float) -> None:
        """Write the features into the last :attr:`dim` entries of ``obs`` (nothing when they are off)."""
        if not self.features:
            return
        n, k_max = self.n, self.max_models
        slots = np.zeros((k_max, self.width), dtype=np.float64)
        slots[:n, 0] = 1.0
        slots[:, 1:4] = self.static
        rem = max(float(remaining_mah), 0.0)
        q = self.q
        left = 0.0 if self.horizon_ms is None else max(self.horizon_ms - time_ms, 0.0) / self.gap_ms
        with np.errstate(divide="ignore", invalid="ignore"):  # a free model: it is affordable, costs nothing
            slots[:n, 4] = np.minimum(q / rem, 1.0) if rem > 0 else 1.0
            slots[:n, 5] = np.nan_to_num(np.minimum(rem / (q * left), 1.0), nan=1.0) if left > 0 else 1.0
        if self.mode == "pacing":
            slots[:n, 6:] = self.pacing(rem, time_ms, left)
        obs[-self.dim : -len(GLOBAL_FEATURES)] = slots.reshape(-1)
        obs[-1] = min(math.log10(1.0 + left) / 6.0, 1.0)

    def pacing(self, rem: float, time_ms: float, left: float) -> np.ndarray:
        """The four pacing features of the present slots, ``(n, 4)`` (see the module's table)."""
        n = self.n
        out = np.zeros((n, len(PACING_FEATURES)), dtype=np.float64)
        out[:, 0] = self.acc_rel
        out[:, 1] = self.dominated
        if self.horizon_ms is None:
            pace = math.inf
        else:
            idle = self.idle_mah_per_ms * max(self.horizon_ms - time_ms, 0.0)
            pace = max(rem - idle, 0.0) / (1.0 + left)
        q = self.q
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(q > 0, pace / np.where(q > 0, q, 1.0), math.inf)
        out[:, 2] = np.where(np.isinf(x), 1.0, x / (1.0 + np.where(np.isinf(x), 0.0, x)))
        ok = (q <= pace) & (self.lat <= self.gap_ms) & (self.dominated == 0)
        pick = int(np.flatnonzero(ok)[np.argmax(self.acc_rel[ok])]) if ok.any() else 0
        out[pick, 3] = 1.0
        return out


def dominated(acc: np.ndarray, q: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """1.0 for each model another one dominates, 0.0 otherwise.

    ``j`` dominates ``i`` when it is at least as accurate, no dearer and no slower, and strictly better in
    one of them (or identical and earlier in the slot order).
    """
    n = len(acc)
    out = np.zeros(n, dtype=np.float64)
    for i in range(n):
        for j in range(n):
            if j == i or acc[j] < acc[i] or q[j] > q[i] or lat[j] > lat[i]:
                continue
            if acc[j] > acc[i] or q[j] < q[i] or lat[j] < lat[i] or j < i:
                out[i] = 1.0
                break
    return out
