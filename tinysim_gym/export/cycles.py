"""An operation count of one decision, converted to Cortex-M4F cycles.

The costs per operation are the Cortex-M4 Technical Reference Manual's single-cycle integer ALU and
multiply-accumulate, 1-cycle FPU arithmetic on float (VADD/VMUL, 3 for VFMA chains), 2-cycle loads, plus
a loop overhead, rounded up; double arithmetic has no hardware on the M4 and runs in the compiler's
soft-float routines (tens of cycles each); ``tanhf`` is newlib's (an ``expf`` and a division). It is an
estimate to size the selector's cost, not a measurement; the real one needs the board or an instruction
counting emulator.
"""

from __future__ import annotations

from tinysim_gym.export.distill import TablePolicy, TreePolicy
from tinysim_gym.export.heuristics import HeuristicPolicy
from tinysim_gym.export.mlp import Int8Mlp, MlpPolicy
from tinysim_gym.export.observation import ObsSpec

FLOAT_MAC = 5  # two loads, multiply, add, loop step
INT8_MAC = 4  # two byte loads, MLA, loop step
TANHF = 120
SOFT_DOUBLE = 60  # one soft-float double operation (add, multiply, divide or compare, averaged)
TREE_LEVEL = 10  # load feature index, threshold and child, compare, branch
TABLE_FEATURE = 12  # multiply, convert, clamp, index arithmetic
ARGMAX_STEP = 4

#: soft-float double operations per decision of each heuristic's decision function (counted in its C code)
HEURISTIC_DOUBLE_OPS = {"ladder": 8, "queue-greedy": 12, "fuzzy": 16 * 14 + 8, "budget": 20 + 7 * 8 * 8}


def estimate(policy: object, spec: ObsSpec) -> int:
    """Cycles of one ``tinysim_policy_act`` call (the observation builder not included)."""
    if isinstance(policy, MlpPolicy | Int8Mlp):
        n_in = len(policy.inputs.indices)
        norm = 6 * SOFT_DOUBLE * n_in if policy.inputs.mean is not None else 0
        layers = policy.layers
        if isinstance(policy, MlpPolicy):
            macs = sum(layer.weight.size for layer in layers)
            outs = sum(layer.weight.shape[1] for layer in layers)
            tanh = sum(layer.weight.shape[1] for layer in layers if layer.activation == "tanh")
            return int(norm + FLOAT_MAC * macs + 6 * outs + TANHF * tanh + ARGMAX_STEP * policy.n_actions)
        macs = sum(layer.q_weight.size for layer in layers)
        outs = sum(layer.q_weight.shape[0] for layer in layers)
        ins = sum(layer.q_weight.shape[1] for layer in layers)
        tanh = sum(layer.q_weight.shape[0] for layer in layers if layer.activation == "tanh")
        return int(norm + INT8_MAC * macs + 10 * outs + 8 * ins + TANHF * tanh + ARGMAX_STEP * policy.n_actions)
    if isinstance(policy, TreePolicy):
        return int(TREE_LEVEL * policy.depth + 10)
    if isinstance(policy, TablePolicy):
        return int(TABLE_FEATURE * len(policy.features) + 10)
    if isinstance(policy, HeuristicPolicy):
        n = max(int(policy.params.size), 1)
        return int(SOFT_DOUBLE * HEURISTIC_DOUBLE_OPS.get(policy.kind, n) + 3 * SOFT_DOUBLE)
    return 0


def microseconds(cycles: int, clock_mhz: float) -> float:
    """Time of ``cycles`` at ``clock_mhz``."""
    return cycles / clock_mhz


def micro_amp_hours(cycles: int, clock_mhz: float, current_ma: float) -> float:
    """Charge of ``cycles`` at ``clock_mhz`` drawing ``current_ma``, in uAh."""
    return current_ma * 1000.0 * (cycles / clock_mhz) * 1e-6 / 3600.0
