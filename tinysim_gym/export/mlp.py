"""MLP policies as C99: the input stage (feature selection, normalisation), float32 or int8 layers, argmax.

A policy here is plain numbers: the indices of the env features it reads, the ``VecNormalize`` statistics
it was trained behind, and its ``Linear`` layers with their activations (an SB3 MLP's action network or
Q-network). The C code computes what :class:`~agents.safe_agent.SafeAgent` computes: the normalisation
in double exactly as NumPy does (``(obs - mean) / sqrt(var + eps)``, clipped, rounded to float once, with
the square root done here), then float32 layers and the first largest score among the allowed actions.

The int8 form quantises every layer's weights per output channel to int8 and its input per tensor
(symmetric, scale = max |value| / qmax over the calibration states), accumulates in int32 and rescales to
float for the bias and the activation. Hidden activations are int8 (qmax 127); the observation entering
the first layer is int16 (qmax 32767): a closed-loop policy keeps its state right at its decision
boundary (a pacing agent hovers where two models trade off), so an int8 observation (steps of 1/127 of
a feature's range) would move the boundary by more than the state moves between decisions.
:class:`Int8Mlp` is its reference in NumPy, with the C code's float32 operations in the same order, so
Python can measure its agreement and its accuracy in simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinysim_gym.errors import TinySimError
from tinysim_gym.export.cformat import c_array, c_double, doubles, floats, ints

ACTIVATIONS = ("tanh", "relu", "identity")


@dataclass(frozen=True)
class InputStage:
    """The features a policy reads and how it normalises them.

    Attributes:
        indices: env feature indices, in the policy's order.
        mean: normalisation means (float64), or None without normalisation.
        std: ``sqrt(var + epsilon)`` per feature (float64).
        clip: the clip of the normalised values.
    """

    indices: np.ndarray
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    clip: float = 10.0

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """The policy's float32 input for a batch of env observations (as ``VecNormalize``)."""
        x = np.asarray(obs, dtype=np.float32)[:, self.indices]
        if self.mean is None or self.std is None:
            return np.ascontiguousarray(x)
        return np.clip((x - self.mean) / self.std, -self.clip, self.clip).astype(np.float32)

    def c_source(self) -> str:
        """``tinysim_input_(obs, x)`` in C."""
        n = len(self.indices)
        out = [c_array("int16_t", "TINYSIM_IN_IDX", ints(self.indices))]
        if self.mean is None or self.std is None:
            out.append(f"static void tinysim_input_(const float obs[TINYSIM_OBS_DIM], float x[{n}]) {{\n"
                       f"    int i;\n    for (i = 0; i < {n}; ++i) x[i] = obs[TINYSIM_IN_IDX[i]];\n}}\n")
            return "".join(out)
        out.append(c_array("double", "TINYSIM_IN_MEAN", doubles(self.mean)))
        out.append(c_array("double", "TINYSIM_IN_STD", doubles(self.std)))
        clip = c_double(self.clip)
        out.append(f"""static void tinysim_input_(const float obs[TINYSIM_OBS_DIM], float x[{n}]) {{
    int i;
    for (i = 0; i < {n}; ++i) {{
        double v = ((double)obs[TINYSIM_IN_IDX[i]] - TINYSIM_IN_MEAN[i]) / TINYSIM_IN_STD[i];
        v = v < -{clip} ? -{clip} : (v > {clip} ? {clip} : v);
        x[i] = (float)v;
    }}
}}
""")
        return "".join(out)

    @property
    def const_bytes(self) -> int:
        """Flash taken by its constants."""
        n = len(self.indices)
        return 2 * n + (16 * n if self.mean is not None else 0)


@dataclass(frozen=True)
class Layer:
    """One ``Linear`` layer and the activation after it: ``act(x @ weight + bias)``, weight ``(in, out)``."""

    weight: np.ndarray
    bias: np.ndarray
    activation: str


@dataclass(frozen=True)
class MlpPolicy:
    """An exportable MLP policy: its input stage, layers and whether it applies action masks."""

    inputs: InputStage
    layers: tuple[Layer, ...]
    masked: bool

    def __post_init__(self) -> None:
        width = len(self.inputs.indices)
        for i, layer in enumerate(self.layers):
            if layer.activation not in ACTIVATIONS:
                raise TinySimError(f"export: layer {i} has the activation {layer.activation!r}; the C export "
                                   f"knows {', '.join(ACTIVATIONS)}")
            if layer.weight.shape[0] != width or layer.bias.shape != (layer.weight.shape[1],):
                raise TinySimError(f"export: layer {i} has shape {layer.weight.shape}, expected {width} inputs")
            width = layer.weight.shape[1]

    @property
    def n_actions(self) -> int:
        """Scores of the last layer."""
        return int(self.layers[-1].weight.shape[1])

    @property
    def widest(self) -> int:
        """The widest vector between two layers (the stack buffers' size)."""
        return max([len(self.inputs.indices), *(layer.weight.shape[1] for layer in self.layers)])

    @property
    def macs(self) -> int:
        """Multiply-accumulates per decision."""
        return int(sum(layer.weight.size for layer in self.layers))

    @property
    def tanh_calls(self) -> int:
        """Calls of tanh per decision."""
        return int(sum(layer.weight.shape[1] for layer in self.layers if layer.activation == "tanh"))

    def scores(self, obs: np.ndarray) -> np.ndarray:
        """Float32 scores of a batch of env observations (as NumPy computes them)."""
        x = self.inputs(obs)
        for layer in self.layers:
            x = _activate(x @ layer.weight + layer.bias, layer.activation)
        return x

    def act(self, obs: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
        """Greedy actions (masks used only when the policy applies them)."""
        return _argmax(self.scores(obs), masks if self.masked else None)


def _activate(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "tanh":
        return np.tanh(x)
    if kind == "relu":
        return np.maximum(x, np.float32(0.0))
    return x


def _argmax(scores: np.ndarray, masks: np.ndarray | None) -> np.ndarray:
    if masks is not None:
        scores = np.where(np.asarray(masks, dtype=bool), scores, -np.inf)
    return scores.argmax(axis=1).astype(np.int64)


def _c_activation(kind: str, var: str) -> str:
    if kind == "tanh":
        return f"tanhf({var})"
    if kind == "relu":
        return f"({var} > 0.0f ? {var} : 0.0f)"
    return var


_ARGMAX = """    best = -1;
    for (j = 0; j < TINYSIM_N_ACTIONS; ++j) {
        if (mask != 0 && !mask[j]) continue;
        if (best < 0 || a[j] > a[best]) best = j;
    }
    return best < 0 ? 0 : best;
}

int tinysim_policy_act(const float obs[TINYSIM_OBS_DIM]) { return tinysim_policy_act_masked(obs, 0); }
"""


def float_source(policy: MlpPolicy) -> str:
    """The float32 policy in C (``tinysim_policy_act_masked`` and ``tinysim_policy_act``)."""
    out = [policy.inputs.c_source()]
    body = []
    for i, layer in enumerate(policy.layers):
        n_in, n_out = layer.weight.shape
        out.append(c_array("float", f"TINYSIM_W{i}", floats(layer.weight.T)))
        out.append(c_array("float", f"TINYSIM_B{i}", floats(layer.bias)))
        body.append(f"""    for (j = 0; j < {n_out}; ++j) {{{{
        float acc = 0.0f;
        for (i = 0; i < {n_in}; ++i) acc += a[i] * TINYSIM_W{i}[j * {n_in} + i];
        acc += TINYSIM_B{i}[j];
        b[j] = {_c_activation(layer.activation, "acc")};
    }}}}
    for (j = 0; j < {n_out}; ++j) a[j] = b[j];""".replace("{{", "{").replace("}}", "}"))
    out.append(f"""
int tinysim_policy_act_masked(const float obs[TINYSIM_OBS_DIM], const uint8_t *mask) {{
    float a[{policy.widest}];
    float b[{policy.widest}];
    int i, j, best;
    tinysim_input_(obs, a);
{chr(10).join(body)}
    (void)i;
{_ARGMAX}""")
    return "\n".join(out)


def float_flash_bytes(policy: MlpPolicy) -> int:
    """Flash taken by the float policy's constants."""
    return policy.inputs.const_bytes + 4 * sum(layer.weight.size + layer.bias.size for layer in policy.layers)


# ------------------------------------------------------------------------------------------------- int8


@dataclass(frozen=True)
class Int8Layer:
    """A quantised layer: int8 weights ``(out, in)``, per-channel rescale ``in_scale * w_scale``, float bias.

    Its input is quantised to ``[-qmax, qmax]`` (127: int8; 32767: int16 for the observation).
    """

    q_weight: np.ndarray
    inv_in_scale: np.float32
    qmax: int
    rescale: np.ndarray
    bias: np.ndarray
    activation: str


@dataclass(frozen=True)
class Int8Mlp:
    """The int8 form of an :class:`MlpPolicy` and its NumPy reference (the C code's operations in order)."""

    inputs: InputStage
    layers: tuple[Int8Layer, ...]
    masked: bool
    widest: int

    @classmethod
    def quantize(cls, policy: MlpPolicy, calibration: np.ndarray) -> Int8Mlp:
        """Quantise ``policy`` with per-tensor input scales measured on ``calibration`` env observations."""
        if len(calibration) == 0:
            raise TinySimError("export: int8 quantisation needs calibration states")
        x = policy.inputs(calibration)
        out = []
        for i, layer in enumerate(policy.layers):
            qmax = 32767 if i == 0 else 127
            s_in = np.float32(max(float(np.abs(x).max()), 1e-12) / qmax)
            w = layer.weight.astype(np.float32)
            s_w = np.abs(w).max(axis=0) / np.float32(127.0)
            s_w = np.where(s_w > 0, s_w, np.float32(1.0)).astype(np.float32)
            q_w = np.clip(np.rint(w / s_w), -127, 127).astype(np.int8).T.copy()
            out.append(Int8Layer(q_w, np.float32(1.0) / s_in, qmax, (s_in * s_w).astype(np.float32),
                                 layer.bias.astype(np.float32), layer.activation))
            x = _activate(x @ layer.weight + layer.bias, layer.activation)
        return cls(policy.inputs, tuple(out), policy.masked, policy.widest)

    @property
    def n_actions(self) -> int:
        """Scores of the last layer."""
        return int(self.layers[-1].q_weight.shape[0])

    def scores(self, obs: np.ndarray) -> np.ndarray:
        """Float32 scores as the int8 C code computes them."""
        x = self.inputs(obs)
        for layer in self.layers:
            t = (x * layer.inv_in_scale).astype(np.float32)
            half = np.where(t >= 0, np.float32(0.5), np.float32(-0.5)).astype(np.float32)
            q = np.clip(np.trunc((t + half).astype(np.float32)), -layer.qmax, layer.qmax).astype(np.int32)
            acc = q @ layer.q_weight.T.astype(np.int32)
            y = (acc.astype(np.float32) * layer.rescale).astype(np.float32) + layer.bias
            x = _activate(y.astype(np.float32), layer.activation)
        return x

    def act(self, obs: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
        """Greedy actions of the int8 policy."""
        return _argmax(self.scores(obs), masks if self.masked else None)

    def flash_bytes(self) -> int:
        """Flash taken by its constants."""
        return self.inputs.const_bytes + sum(
            layer.q_weight.size + 4 * (layer.rescale.size + layer.bias.size + 1) for layer in self.layers)


def int8_source(policy: Int8Mlp) -> str:
    """The int8 policy in C (``tinysim_policy_act_masked`` and ``tinysim_policy_act``)."""
    out = [policy.inputs.c_source()]
    body = []
    for i, layer in enumerate(policy.layers):
        n_out, n_in = layer.q_weight.shape
        out.append(c_array("int8_t", f"TINYSIM_Q{i}", ints(layer.q_weight), per_line=16))
        out.append(c_array("float", f"TINYSIM_S{i}", floats(layer.rescale)))
        out.append(c_array("float", f"TINYSIM_B{i}", floats(layer.bias)))
        inv = floats(np.array([layer.inv_in_scale]))[0]
        body.append(f"""    for (i = 0; i < {n_in}; ++i) q[i] = tinysim_q_(a[i] * {inv}, {layer.qmax}.0f);
    for (j = 0; j < {n_out}; ++j) {{
        int32_t acc = 0;
        float y;
        for (i = 0; i < {n_in}; ++i) acc += (int32_t)q[i] * (int32_t)TINYSIM_Q{i}[j * {n_in} + i];
        y = (float)acc * TINYSIM_S{i}[j] + TINYSIM_B{i}[j];
        a[j] = {_c_activation(layer.activation, "y")};
    }}""")
    out.append(f"""
/* round half away from zero, saturated to [-qmax, qmax] */
static int16_t tinysim_q_(float t, float qmax) {{
    float r = t + (t >= 0.0f ? 0.5f : -0.5f);
    if (r >= qmax) return (int16_t)qmax;
    if (r <= -qmax) return (int16_t)-qmax;
    return (int16_t)(int32_t)r;
}}

int tinysim_policy_act_masked(const float obs[TINYSIM_OBS_DIM], const uint8_t *mask) {{
    float a[{policy.widest}];
    int16_t q[{policy.widest}];
    int i, j, best;
    tinysim_input_(obs, a);
{chr(10).join(body)}
{_ARGMAX}""")
    return "\n".join(out)
