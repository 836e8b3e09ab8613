"""Running a policy deterministically on fixed seeds, all seeds stepped together, and the figures it logs.

Sub-env ``i`` of the batched env is reset with seed ``seeds[i]``, which gives exactly the episode of
``TinySimEnv.reset(seed=seeds[i])`` and of ``tinysim simulate --seed seeds[i]``, so an agent's figures sit
next to the baselines' on the same arrival streams.

This room knows nothing of training or callbacks: the callbacks (held-out evaluation during training)
and the evaluation of a saved agent both build on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch.nn as nn
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecNormalize

from agents.safe_agent import ObsNormalizer, SafeAgent
from agents.wrappers import observation_transform
from tinysim_gym.envs.padded_vector import PaddedVectorEnv, make_vector_env
from tinysim_gym.envs.vector_env import TinySimVectorEnv
from tinysim_gym.errors import TinySimError
from tinysim_gym.optimal.lp import bound

#: A batched deterministic policy: ``act(observations, action_masks) -> actions``.
Act = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: The logged figures of an episode: name -> (metrics key, divisor). One table for the per-episode
#: TensorBoard scalars and for the mean over held-out episodes, so both name and scale them alike.
SCALARS: dict[str, tuple[str, float]] = {
    "weighted_accuracy": ("weighted_accuracy", 1.0),
    "dropped": ("dropped", 1.0),
    "operating_time_s": ("operating_time_ms", 1000.0),
    "energy_mah": ("energy_mah", 1.0),
    "soc_end": ("soc_end", 1.0),
}


def policy_fn(model: BaseAlgorithm | SafeAgent, normalizer: VecNormalize | ObsNormalizer | None = None) -> Act:
    """``act(obs, masks) -> actions``: the model's deterministic actions (masks used by MaskablePPO).

    Plain MLP policies (the configs' ``MlpPolicy``) run as a NumPy copy of the network (:class:`NumpyActor`,
    several times faster than ``model.predict`` for small batches); anything else runs through
    ``model.predict``. A :class:`~agents.safe_agent.SafeAgent` (a loaded safe pair) normalises with its own
    saved statistics (``normalizer`` is then unused) and uses masks only when it is a MaskablePPO policy.
    """
    if isinstance(model, SafeAgent):
        return _safe_policy_fn(model)
    masked = type(model).__name__ == "MaskablePPO"
    fast = NumpyActor.build(model)

    def act(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        if normalizer is not None:
            obs = normalizer.normalize_obs(obs)
        if fast is not None:
            return fast(obs, masks if masked else None)
        if masked:
            actions, _ = model.predict(obs, deterministic=True, action_masks=masks)
        else:
            actions, _ = model.predict(obs, deterministic=True)
        return np.asarray(actions, dtype=np.int64).reshape(-1)

    return act


def _safe_policy_fn(agent: SafeAgent) -> Act:
    fast = NumpyActor.build(agent)
    if fast is None:
        return agent.act  # SB3's predict on the rebuilt policy (it normalises inside)

    def act(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        return fast(agent.normalize_obs(obs), masks if agent.masked else None)

    return act


class NumpyActor:
    """The deterministic action of an SB3 MLP policy, computed with NumPy (float32, as torch).

    Covers ``ActorCriticPolicy`` (PPO, A2C, MaskablePPO: argmax of the action logits, masked actions
    excluded) and DQN's ``QNetwork`` (argmax of the Q-values) built from ``Linear`` layers and element-wise
    activations on a flattened observation. :meth:`build` returns None for anything else.
    """

    ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "Tanh": np.tanh,
        "ReLU": lambda x: np.maximum(x, np.float32(0.0)),
        "Identity": lambda x: x,
    }

    def __init__(self, layers: list[Any]) -> None:
        self.layers = layers

    @classmethod
    def build(cls, model: BaseAlgorithm | SafeAgent) -> NumpyActor | None:
        """A NumPy copy of ``model``'s action network, or None when the policy is not a plain MLP."""
        try:
            policy = model.policy
            if hasattr(policy, "q_net"):  # DQN
                extractor = policy.q_net.features_extractor
                modules = list(policy.q_net.q_net)
            else:
                if getattr(policy, "share_features_extractor", True) is False:
                    extractor = policy.pi_features_extractor
                else:
                    extractor = policy.features_extractor
                modules = [*policy.mlp_extractor.policy_net, policy.action_net]
            if type(extractor).__name__ != "FlattenExtractor":
                return None
            layers: list[Any] = []
            for mod in modules:
                if isinstance(mod, nn.Linear):
                    w = mod.weight.detach().cpu().numpy().astype(np.float32).T.copy()
                    b = mod.bias.detach().cpu().numpy().astype(np.float32) if mod.bias is not None else None
                    layers.append(("linear", w, b))
                elif type(mod).__name__ in cls.ACTIVATIONS:
                    layers.append(("act", cls.ACTIVATIONS[type(mod).__name__], None))
                else:
                    return None
            return cls(layers)
        except (AttributeError, TypeError):
            return None

    def scores(self, obs: np.ndarray) -> np.ndarray:
        """Action logits (or Q-values) for a batch of observations."""
        x = np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)
        for kind, a, b in self.layers:
            if kind == "linear":
                x = x @ a
                if b is not None:
                    x = x + b
            else:
                x = a(x)
        return x

    def __call__(self, obs: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
        """Deterministic actions for a batch (``masks``: allowed actions, True = allowed)."""
        s = self.scores(obs)
        if masks is not None:
            s = np.where(np.asarray(masks, dtype=bool), s, -np.inf)
        return s.argmax(axis=1).astype(np.int64)


def run_seeds(
    act: Act,
    env_config: Mapping[str, Any],
    seeds: Sequence[int],
    usage_points: int = 0,
    max_steps: int | None = None,
    vec_env_wrappers: list[Any] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One episode per seed; returns the episodes' metrics (in seed order) and the first seed's usage.

    Args:
        act: ``act(obs_batch, mask_batch) -> action_batch``.
        env_config: the env config (with ``scenario``).
        seeds: one episode per seed.
        usage_points: record about this many points of the first seed's cumulative model counts over time
            (0: none), for the usage plot of :func:`tinysim_gym.experiments.compare.write_plots`.
        max_steps: safety limit on steps (None: none).
        vec_env_wrappers: the run's ``vec_env_wrapper`` list: a feature selection in it is applied to the
            observations before ``act`` sees them, as in training.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise TinySimError("seeds: at least one seed is needed")
    venv = make_vector_env(len(seeds), env_config, autoreset_mode=AutoresetMode.NEXT_STEP)
    select = observation_transform(vec_env_wrappers or [], venv.settings.feature_names)
    if select is not None:
        inner_act = act

        def act(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
            return inner_act(select(obs), masks)

    obs, _ = venv.reset(seed=seeds)
    n = len(seeds)
    done = np.zeros(n, dtype=bool)
    results: list[dict[str, Any] | None] = [None] * n
    usage: dict[str, Any] | None = None
    every = 1
    if usage_points > 0:
        eng = venv.engine(0)
        usage = {"time_ms": [0.0], "counts": [[0] * eng.n_models], "model_ids": list(eng.model_ids)}
        expected = _expected_steps(venv)
        every = max(1, expected // usage_points)
    steps = 0
    while not done.all():
        actions = act(obs, venv.action_masks())
        actions = np.where(done, 0, actions)
        obs, _, term, trunc, _ = venv.step(actions)
        steps += 1
        ended = (term | trunc) & ~done
        if ended.any():
            for i in np.flatnonzero(ended):  # the engine is reset only at the next step (NEXT_STEP autoreset)
                results[i] = venv.engine(int(i)).metrics()
            done |= ended
        if usage is not None and not done[0] and steps % every == 0:
            eng = venv.engine(0)
            usage["time_ms"].append(eng.time_ms)
            usage["counts"].append([int(c) for c in eng.model_counts])
        if max_steps is not None and steps >= max_steps:
            raise TinySimError(f"evaluation: episodes still running after {max_steps} steps")
    if usage is not None and results[0] is not None:
        m = results[0]
        usage["time_ms"].append(float(m["operating_time_ms"]))
        usage["counts"].append([int(c) for c in m["model_counts"].values()])
    venv.close()
    return [r for r in results if r is not None], usage


def _expected_steps(venv: TinySimVectorEnv | PaddedVectorEnv) -> int:
    try:
        k = int(venv.settings.decisions_per_step)
        return int(max(bound(venv.scenario).arrivals, 1.0) / k)
    except Exception:  # any failure only costs the usage timeline its spacing
        return 1 << 14


def episode_scalars(m: Mapping[str, Any]) -> dict[str, float]:
    """The ``tinysim/`` scalars of one episode's metrics: :data:`SCALARS` and each model's share."""
    out = {name: float(m[key]) / scale for name, (key, scale) in SCALARS.items()}
    counts = m.get("model_counts") or {}
    total = sum(counts.values())
    for mid, c in counts.items():
        out[f"share/model_{mid}"] = float(c) / total if total else 0.0
    return out


def summary(runs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean figures of several episodes, for logging: :data:`SCALARS`, each the mean over ``runs``."""
    return {name: float(np.mean([r[key] for r in runs])) / scale for name, (key, scale) in SCALARS.items()}
