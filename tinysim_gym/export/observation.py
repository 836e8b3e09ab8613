"""The env's observation as C: a state the device updates on its own events, and the feature vector.

The generated ``tinysim_obs_*`` functions keep the counters the env's kernel reads (remaining charge,
queue, arrivals, drops, last model, and the ring of the last ``drop_window + 1`` decisions) and fill the
feature vector with the operations of :func:`tinysim_gym.envs.kernels.fill_obs` in the same order: int64
counts become doubles before each division, every feature is computed in double and rounded to float once,
``min``/``max`` keep Python's choice on ties. The result equals the env's float32 observation bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinysim_gym.core import kernels as K
from tinysim_gym.core.engine import Engine
from tinysim_gym.envs.kernels import FLAG_ARRIVAL_RATE, FLAG_HORIZON, FLAG_LAST_ACTION
from tinysim_gym.envs.settings import EnvSettings
from tinysim_gym.errors import TinySimError
from tinysim_gym.export.cformat import c_double


@dataclass(frozen=True)
class ObsSpec:
    """What the observation builder needs: the env's features and the scenario's constants.

    Attributes:
        feature_names: the env's observation features, in order.
        capacity_mah: the storage capacity the state of charge divides by.
        buffer_size: the sample buffer's size.
        horizon_ticks: the horizon in engine ticks (-1: none).
        period_ticks: the fastest arrival spacing, in ticks (the arrival rate's scale).
        n_models: the number of models (the last action's scale).
        window: ring slots (the drop window in decisions + 1).
        flags: the env's optional-feature flags.
        timebase_ms: one engine tick in ms.
    """

    feature_names: tuple[str, ...]
    capacity_mah: float
    buffer_size: int
    horizon_ticks: int
    period_ticks: int
    n_models: int
    window: int
    flags: int
    timebase_ms: float

    @property
    def obs_dim(self) -> int:
        """Features in the vector."""
        return len(self.feature_names)

    @classmethod
    def of(cls, settings: EnvSettings) -> ObsSpec:
        """The spec of an env's settings on its scenario."""
        if settings.max_models is not None:
            raise TinySimError("export: the padded encoding (max_models, obs_model_features) has no C observation "
                               "builder; export an agent trained on the default observation")
        eng = Engine(settings.scenario)
        return cls(tuple(settings.feature_names), float(eng.PF[K.F_CAP]), int(eng.PI[K.I_BUF]),
                   int(eng.PI[K.I_H]), int(eng.PI[K.I_PERIOD]), int(eng.PI[K.I_N]),
                   settings.drop_window + 1, int(settings.flags), float(eng.timebase_ms))


def header(spec: ObsSpec) -> str:
    """The builder's declarations for ``tinysim_policy.h``."""
    return f"""
/* ---- observation builder: the env's float32 observation, bit for bit ---------------------------- */
#define TINYSIM_OBS_BUFFER {spec.buffer_size}
#define TINYSIM_OBS_WINDOW {spec.window}        /* ring slots: drop window + 1 decisions */
#define TINYSIM_OBS_HORIZON_TICKS {spec.horizon_ticks}LL  /* -1: no horizon; 1 tick = {spec.timebase_ms!r} ms */

typedef struct {{
    double remaining_mah;                  /* charge left (fuel gauge, or the running account) */
    int64_t queue;                         /* samples waiting in the buffer */
    int64_t arrivals;                      /* samples arrived since the reset */
    int64_t dropped;                       /* samples lost since the reset */
    int64_t last_action;                   /* model of the last decision, -1 before the first */
    int64_t ring[3 * TINYSIM_OBS_WINDOW];  /* (tick, arrivals, dropped) per recent decision */
    int32_t pos;                           /* next ring slot = the window's oldest entry */
}} tinysim_obs_state;

void tinysim_obs_reset(tinysim_obs_state *s, double remaining_mah);
/* A sample arrives: it waits in the buffer (returns 1) or, the buffer being full, is dropped (0). */
int tinysim_obs_arrival(tinysim_obs_state *s);
/* n waiting samples are lost (a deadline, a flush): they leave the buffer and count as dropped. */
void tinysim_obs_drop(tinysim_obs_state *s, int64_t n);
/* Charge gained from the harvester, charge drawn, or a fuel-gauge reading, in mAh. */
void tinysim_obs_harvest(tinysim_obs_state *s, double mah);
void tinysim_obs_spend(tinysim_obs_state *s, double mah);
void tinysim_obs_charge(tinysim_obs_state *s, double remaining_mah);
/* A decision at `tick` (engine ticks): the sample to serve left the buffer (`from_buffer`) or came
   straight in; records the window entry and fills `obs`. */
void tinysim_obs_decision(tinysim_obs_state *s, int64_t tick, int from_buffer, float obs[TINYSIM_OBS_DIM]);
/* The model chosen at the decision (the last-action feature). */
void tinysim_obs_action(tinysim_obs_state *s, int model);
/* Fill `obs` from the state at `tick` without recording a decision. */
void tinysim_obs_fill(const tinysim_obs_state *s, int64_t tick, float obs[TINYSIM_OBS_DIM]);
"""


def source(spec: ObsSpec) -> str:
    """The builder's definitions for ``tinysim_policy.c``."""
    parts = [
        "    obs[j++] = (float)tinysim_min_(tinysim_max_(s->remaining_mah / TINYSIM_OBS_CAPACITY, 0.0), 1.0);",
        "    obs[j++] = (float)tinysim_min_((double)s->queue / (double)TINYSIM_OBS_BUFFER, 1.0);",
        "    obs[j++] = (float)(da > 0 ? tinysim_min_(tinysim_max_((double)(s->dropped - s->ring[base + 2])"
        " / (double)da, 0.0), 1.0) : 0.0);",
    ]
    if spec.flags & FLAG_HORIZON:
        parts.append("    obs[j++] = (float)(TINYSIM_OBS_HORIZON_TICKS > 0 ? tinysim_min_((double)tick / "
                     "(double)TINYSIM_OBS_HORIZON_TICKS, 1.0) : 0.0);")
    if spec.flags & FLAG_LAST_ACTION:
        parts.append(f"    obs[j++] = (float)((double)(s->last_action + 1) / (double){spec.n_models});")
    if spec.flags & FLAG_ARRIVAL_RATE:
        parts.append(f"    obs[j++] = (float)(dt > 0 && da > 0 ? tinysim_min_((double)(da * {spec.period_ticks}LL)"
                     " / (double)dt, 1.0) : 0.0);")
    fill = "\n".join(parts)
    return f"""
/* ---- observation builder --------------------------------------------------------------------- */
#define TINYSIM_OBS_CAPACITY {c_double(spec.capacity_mah)}  /* mAh */

/* Python's min and max: the first argument unless the second is strictly smaller (larger). */
static double tinysim_min_(double a, double b) {{ return b < a ? b : a; }}
static double tinysim_max_(double a, double b) {{ return b > a ? b : a; }}

void tinysim_obs_reset(tinysim_obs_state *s, double remaining_mah) {{
    int i;
    s->remaining_mah = remaining_mah;
    s->queue = 0;
    s->arrivals = 0;
    s->dropped = 0;
    s->last_action = -1;
    for (i = 0; i < 3 * TINYSIM_OBS_WINDOW; ++i) s->ring[i] = 0;
    s->pos = 0;
}}

int tinysim_obs_arrival(tinysim_obs_state *s) {{
    s->arrivals += 1;
    if (s->queue < TINYSIM_OBS_BUFFER) {{
        s->queue += 1;
        return 1;
    }}
    s->dropped += 1;
    return 0;
}}

void tinysim_obs_drop(tinysim_obs_state *s, int64_t n) {{
    if (n > s->queue) n = s->queue;
    if (n <= 0) return;
    s->queue -= n;
    s->dropped += n;
}}

void tinysim_obs_harvest(tinysim_obs_state *s, double mah) {{ s->remaining_mah = s->remaining_mah + mah; }}
void tinysim_obs_spend(tinysim_obs_state *s, double mah) {{ s->remaining_mah = s->remaining_mah - mah; }}
void tinysim_obs_charge(tinysim_obs_state *s, double remaining_mah) {{ s->remaining_mah = remaining_mah; }}
void tinysim_obs_action(tinysim_obs_state *s, int model) {{ s->last_action = model; }}

void tinysim_obs_fill(const tinysim_obs_state *s, int64_t tick, float obs[TINYSIM_OBS_DIM]) {{
    int j = 0;
    int32_t base = 3 * s->pos;
    int64_t da = s->arrivals - s->ring[base + 1];
    int64_t dt = tick - s->ring[base];
    (void)dt;
{fill}
    (void)j;
}}

void tinysim_obs_decision(tinysim_obs_state *s, int64_t tick, int from_buffer, float obs[TINYSIM_OBS_DIM]) {{
    int32_t base = 3 * s->pos;
    if (from_buffer && s->queue > 0) s->queue -= 1;
    s->ring[base] = tick;
    s->ring[base + 1] = s->arrivals;
    s->ring[base + 2] = s->dropped;
    s->pos = s->pos + 1 >= TINYSIM_OBS_WINDOW ? 0 : s->pos + 1;
    tinysim_obs_fill(s, tick, obs);
}}
"""
