"""The heuristics with an on-device meaning as C99: fuzzy, ladder, budget, queue-greedy.

Each heuristic of ``baselines/`` decides through one compiled function ``pick(tick, remaining_mah, queue,
params, mem)`` over a flat float64 parameter array its ``reset`` fills for the scenario. The C code here
is that function, operation for operation in double (Python's ``min``/``max`` on ties, ``round`` half to
even), with the parameter array baked in as exact constants: ``tinysim_policy_decide(tick, remaining_mah,
queue)`` returns the same model as the Python heuristic on the same state. ``tinysim_policy_act(obs)``
reads the state back from the env's features (remaining = soc x capacity, queue = buffer_fill x buffer,
tick = horizon_elapsed x horizon), which is exact up to the float32 rounding of the features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinysim_gym.errors import TinySimError
from tinysim_gym.export.cformat import c_array, c_double, doubles
from tinysim_gym.export.observation import ObsSpec

_BODIES: dict[str, str] = {
    "ladder": """    const double *p = TINYSIM_P;
    double soc = 100.0 * r / p[0];
    int m = (int)p[1], rung = 0;
    (void)t; (void)q;
    while (rung < m && soc < p[2 + rung]) ++rung;
    return (int)p[2 + m + rung];""",
    "queue-greedy": """    const double *p = TINYSIM_P;
    int m = (int)p[3], i;
    double room = p[0] - (double)q;
    double per_tick = p[2] / p[1];
    (void)t; (void)r;
    for (i = 0; i < m; ++i)
        if (p[4 + m + i] * per_tick <= room) return (int)p[4 + i];
    return (int)p[4 + 2 * m];""",
    "budget": """    const double *p = TINYSIM_P;
    double H = p[0], gap = p[1], d_idle = p[2], W = p[3];
    int m = (int)p[4], i, j, lo = -1, hi = -1;
    double b_e, b_t, best_v = -1.0, frac = 0.0, ci, ai, cj, aj, f, v;
    if (H >= 0) {
        double tau = tinysim_max_(H - (double)t, 0.0);
        double n_rem = (double)q + 1.0 + tau / gap;
        b_e = (r - tau * d_idle) / n_rem;
        b_t = tinysim_max_(tau, 1.0) / n_rem;
    } else {
        b_e = INFINITY;
        b_t = gap;
    }
    b_t = tinysim_min_(b_t, gap * W / (W + (double)q));
    b_e = tinysim_max_(b_e, 1e-300);
    for (i = -1; i < m; ++i) {
        if (i >= 0) {
            ci = tinysim_max_(p[6 + 4 * i] / b_e, p[6 + 4 * i + 1] / b_t);
            ai = p[6 + 4 * i + 2];
            if (ci > 1.0) continue;
            if (ai > best_v) { best_v = ai; lo = i; hi = i; frac = 0.0; }
        } else {
            ci = 0.0;
            ai = 0.0;
        }
        for (j = 0; j < m; ++j) {
            cj = tinysim_max_(p[6 + 4 * j] / b_e, p[6 + 4 * j + 1] / b_t);
            aj = p[6 + 4 * j + 2];
            if (cj <= 1.0 || aj <= ai) continue;
            f = (1.0 - ci) / (cj - ci);
            v = ai + (aj - ai) * f;
            if (v > best_v) { best_v = v; lo = i; hi = j; frac = f; }
        }
    }
    if (hi < 0) return (int)p[6 + 3];
    if (lo < 0) return (int)p[6 + 4 * hi + 3];
    if (hi != lo && p[5] == 0.0) return (int)p[6 + 4 * (frac >= 0.5 ? hi : lo) + 3];
    if (hi != lo) {
        tinysim_mem_ += frac;
        if (tinysim_mem_ >= 1.0) {
            tinysim_mem_ -= 1.0;
            return (int)p[6 + 4 * hi + 3];
        }
    }
    return (int)p[6 + 4 * lo + 3];""",
    "fuzzy": """    const double *p = TINYSIM_P + 2;
    int nb = (int)p[0], nq = (int)p[1], no = (int)p[2], nr = (int)p[3], k, i;
    int ob = 4, oq = ob + 4 * nb, oo = oq + 4 * nq, orr = oo + no;
    double x = r / TINYSIM_P[1] * 100.0, y = (double)q, num = 0.0, den = 0.0, w, wb, out;
    long long idx;
    (void)t;
    for (i = 0; i < nr; ++i) {
        int ib = (int)p[orr + 3 * i], iq = (int)p[orr + 3 * i + 1], io = (int)p[orr + 3 * i + 2];
        if (iq < 0) {
            k = ob + 4 * ib;
            w = tinysim_mu_(x, p + k);
        } else {
            k = oq + 4 * iq;
            w = tinysim_mu_(y, p + k);
            if (ib >= 0) {
                k = ob + 4 * ib;
                wb = tinysim_mu_(x, p + k);
                if (wb < w) w = wb;
            }
        }
        num += w * p[oo + io];
        den += w;
    }
    out = den == 0.0 ? 0.0 : num / den;
    if ((int)TINYSIM_P[0] == 0) {
        idx = tinysim_rint_(out);
        return idx == 10 ? 0 : (int)idx;
    }
    if (out <= 3.0) return 0;
    if (out <= 5.0) return 1;
    return 2;""",
}

_FUZZY_HELPERS = """
/* simpful's trapezoid membership, clamped to [0, 1] (NaN -> 0) */
static double tinysim_mu_(double x, const double *s) {
    double a = s[0], b = s[1], c = s[2], d = s[3], mu;
    if (x < b) mu = a != b ? (x - a) * (1.0 / (b - a)) : 1.0;
    else if (x <= c) mu = 1.0;
    else mu = c != d ? 1.0 + (x - c) * (-1.0 / (d - c)) : 1.0;
    if (!(mu > 0.0)) mu = 0.0;
    if (!(mu < 1.0)) mu = 1.0;
    return mu;
}

/* round half to even, as Python's round() and NumPy's rint */
static long long tinysim_rint_(double x) {
    double f = (double)(long long)x, d;
    long long i;
    if (f > x) f -= 1.0;
    d = x - f;
    i = (long long)f;
    if (d > 0.5 || (d == 0.5 && (i & 1))) i += 1;
    return i;
}
"""

NAMES = tuple(_BODIES)


@dataclass(frozen=True)
class HeuristicPolicy:
    """A heuristic's decision function and the parameters its reset computed for the scenario."""

    kind: str
    params: np.ndarray

    def __post_init__(self) -> None:
        if self.kind not in _BODIES:
            raise TinySimError(f"export: no C form of the heuristic {self.kind!r} (known: {', '.join(NAMES)})")

    def flash_bytes(self) -> int:
        """Flash of its parameter array."""
        return 8 * int(self.params.size)


def heuristic_source(policy: HeuristicPolicy, spec: ObsSpec) -> str:
    """The heuristic in C: ``tinysim_policy_decide``, ``tinysim_policy_act`` and ``tinysim_policy_reset``."""
    names = spec.feature_names
    soc = names.index("soc")
    buf = names.index("buffer_fill")
    tick = (f"(int64_t)((double)obs[{names.index('horizon_elapsed')}] * (double)TINYSIM_OBS_HORIZON_TICKS)"
            if "horizon_elapsed" in names and spec.horizon_ticks > 0 else "0")
    helpers = _FUZZY_HELPERS if policy.kind == "fuzzy" else ""
    return f"""{c_array("double", "TINYSIM_P", doubles(policy.params), per_line=4)}
static double tinysim_mem_ = 0.0;  /* the heuristic's memory (the budget's error accumulator) */
{helpers}
void tinysim_policy_reset(void) {{ tinysim_mem_ = 0.0; }}

int tinysim_policy_decide(int64_t t, double r, int64_t q) {{
{_BODIES[policy.kind]}
}}

int tinysim_policy_act(const float obs[TINYSIM_OBS_DIM]) {{
    double r = (double)obs[{soc}] * TINYSIM_OBS_CAPACITY;
    int64_t q = (int64_t)((double)obs[{buf}] * (double)TINYSIM_OBS_BUFFER + 0.5);
    return tinysim_policy_decide({tick}, r, q);
}}

int tinysim_policy_act_masked(const float obs[TINYSIM_OBS_DIM], const uint8_t *mask) {{
    (void)mask;  /* the heuristics choose among the models the scenario allows */
    return tinysim_policy_act(obs);
}}
/* capacity {c_double(spec.capacity_mah)} mAh */
"""
