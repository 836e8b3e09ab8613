"""The JSON half of the safe agent format: what a policy is, in plain values that validate strictly.

A description names the algorithm, the policy class and its architecture (from allow-lists, never an
import path), the observation and action spaces, the observation features, the ``VecNormalize``
statistics and the name, shape and dtype of every weight tensor, plus the SHA-256 of the weights file so a
description never pairs with weights it was not written with. Nothing in it can name code to run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents.hyperparams import ACTIVATIONS, ALGOS

FORMAT = "tinysim-agent"
FORMAT_VERSION = 1

#: algorithm -> the policy class its ``MlpPolicy`` is (the only classes the format rebuilds)
POLICY_CLASSES: dict[str, str] = {
    "ppo": "ActorCriticPolicy",
    "a2c": "ActorCriticPolicy",
    "dqn": "DQNPolicy",
    "maskable_ppo": "MaskableActorCriticPolicy",
}
ACTOR_CRITIC = ("ActorCriticPolicy", "MaskableActorCriticPolicy")
#: torch dtypes a weight tensor may have
TENSOR_DTYPES = ("float32", "float64", "float16", "bfloat16")
MAX_ELEMENTS = 1 << 24  # per space or tensor: far above any MLP here, far below a memory problem

Layers = list[int]


def _layers_ok(layers: Layers, where: str) -> Layers:
    if len(layers) > 16 or not all(1 <= n <= 8192 for n in layers):
        raise ValueError(f"{where}: expected at most 16 layer sizes, each 1..8192")
    return layers


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PiVfArch(_Strict):
    """Separate layer sizes for the policy and the value network."""

    pi: Layers
    vf: Layers

    @model_validator(mode="after")
    def _sizes(self) -> PiVfArch:
        _layers_ok(self.pi, "pi")
        _layers_ok(self.vf, "vf")
        return self


class PolicyDescription(_Strict):
    """What rebuilds the policy object: its class and constructor arguments, all from allow-lists."""

    class_name: Literal["ActorCriticPolicy", "MaskableActorCriticPolicy", "DQNPolicy"]
    net_arch: Layers | PiVfArch
    activation_fn: Literal[ACTIVATIONS]  # type: ignore[valid-type]
    features_extractor: Literal["FlattenExtractor"] = "FlattenExtractor"
    normalize_images: bool = True
    ortho_init: bool = True
    share_features_extractor: bool = True

    @model_validator(mode="after")
    def _arch(self) -> PolicyDescription:
        if isinstance(self.net_arch, list):
            _layers_ok(self.net_arch, "net_arch")
        elif self.class_name == "DQNPolicy":
            raise ValueError("net_arch: DQNPolicy takes one list of layer sizes")
        return self

    def constructor_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the policy class beside the spaces and the learning-rate schedule."""
        from agents.hyperparams import activation_classes

        arch: Any = self.net_arch if isinstance(self.net_arch, list) else self.net_arch.model_dump()
        kw: dict[str, Any] = {"net_arch": arch, "activation_fn": activation_classes()[self.activation_fn],
                              "normalize_images": self.normalize_images}
        if self.class_name in ACTOR_CRITIC:
            kw.update(ortho_init=self.ortho_init, share_features_extractor=self.share_features_extractor)
        return kw


def _bound(x: float | str) -> float:
    v = float(x)  # "inf" / "-inf": JSON has no infinities
    if math.isnan(v):
        raise ValueError("expected a number or 'inf' / '-inf', got NaN")
    return v


class BoxDescription(_Strict):
    """A ``gymnasium.spaces.Box``: bounds flattened in C order."""

    type: Literal["Box"]
    shape: list[int] = Field(min_length=1, max_length=4)
    dtype: Literal["float32", "float64"]
    low: list[float | str]
    high: list[float | str]

    @model_validator(mode="after")
    def _consistent(self) -> BoxDescription:
        if not all(1 <= d for d in self.shape) or math.prod(self.shape) > MAX_ELEMENTS:
            raise ValueError(f"shape: expected positive sizes with at most {MAX_ELEMENTS} elements")
        n = math.prod(self.shape)
        if len(self.low) != n or len(self.high) != n:
            raise ValueError(f"low, high: expected {n} values each (the product of shape)")
        lo, hi = [_bound(x) for x in self.low], [_bound(x) for x in self.high]
        if any(a > b for a, b in zip(lo, hi, strict=True)):
            raise ValueError("low, high: expected low <= high everywhere")
        return self

    def bounds(self) -> tuple[list[float], list[float]]:
        """``low`` and ``high`` as floats."""
        return [_bound(x) for x in self.low], [_bound(x) for x in self.high]


class DiscreteDescription(_Strict):
    """A ``gymnasium.spaces.Discrete``."""

    type: Literal["Discrete"]
    n: int = Field(ge=1, le=1 << 16)
    start: Literal[0] = 0  # SB3's categorical policies act in 0 .. n-1


class RunningStats(_Strict):
    """A ``RunningMeanStd``: mean and variance (lists, or one number for the returns) and the count."""

    mean: list[float] | float
    var: list[float] | float
    count: float = Field(ge=0)

    @field_validator("mean", "var")
    @classmethod
    def _finite(cls, v: list[float] | float) -> list[float] | float:
        if not all(math.isfinite(x) for x in (v if isinstance(v, list) else [v])):
            raise ValueError("expected finite numbers")
        return v


class NormalizationDescription(_Strict):
    """The ``VecNormalize`` settings and statistics; evaluation normalises observations only."""

    norm_obs: bool
    norm_reward: bool
    clip_obs: float = Field(gt=0)
    clip_reward: float = Field(gt=0)
    epsilon: float = Field(gt=0)
    gamma: float = Field(ge=0, le=1)
    obs_rms: RunningStats
    ret_rms: RunningStats


class TensorDescription(_Strict):
    """One weight tensor: its shape and dtype."""

    shape: list[int] = Field(max_length=8)
    dtype: Literal[TENSOR_DTYPES]  # type: ignore[valid-type]

    @field_validator("shape")
    @classmethod
    def _size(cls, v: list[int]) -> list[int]:
        if any(d < 0 for d in v) or math.prod(v) > MAX_ELEMENTS:
            raise ValueError(f"expected non-negative sizes with at most {MAX_ELEMENTS} elements")
        return v


class AgentDescription(_Strict):
    """The whole JSON file of a safe-format agent."""

    format: Literal["tinysim-agent"]
    format_version: Literal[1]
    algorithm: Literal[tuple(ALGOS)]  # type: ignore[valid-type]
    policy: PolicyDescription
    observation_space: BoxDescription
    action_space: DiscreteDescription
    observation_features: list[str] | None = None
    normalization: NormalizationDescription | None = None
    tensors: dict[str, TensorDescription] = Field(min_length=1, max_length=4096)
    weights_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> AgentDescription:
        want = POLICY_CLASSES[self.algorithm]
        if self.policy.class_name != want:
            raise ValueError(f"policy.class_name: {self.algorithm} uses {want}")
        n_obs = math.prod(self.observation_space.shape)
        if self.observation_features is not None and len(self.observation_features) != n_obs:
            raise ValueError(f"observation_features: expected {n_obs} names (the observation's size)")
        if self.normalization is not None:
            for key in ("mean", "var"):
                v = getattr(self.normalization.obs_rms, key)
                if not isinstance(v, list) or len(v) != n_obs:
                    raise ValueError(f"normalization.obs_rms.{key}: expected {n_obs} numbers")
        return self


def plain_json(x: Any, where: str) -> Any:
    """``x`` as plain JSON values (tuples as lists, paths and other scalars by value); refuses the rest.

    Raises:
        ValueError: a value JSON cannot hold (an object, NaN or an infinity), naming where it sits.
    """
    if isinstance(x, Mapping):
        return {str(k): plain_json(v, f"{where}.{k}") for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [plain_json(v, f"{where}[{i}]") for i, v in enumerate(x)]
    if hasattr(x, "item") and callable(x.item) and not isinstance(x, str | bytes):
        x = x.item()  # numpy scalars
    if isinstance(x, float) and not math.isfinite(x):
        raise ValueError(f"{where}: JSON cannot hold {x!r}")
    if x is None or isinstance(x, bool | int | float | str):
        return x
    if hasattr(x, "__fspath__"):
        return str(x)
    raise ValueError(f"{where}: expected plain JSON values, got {type(x).__name__}")
