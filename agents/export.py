"""A trained agent as an exportable policy, and its quantised and distilled forms with their figures.

:func:`mlp_of` reads a loaded agent (safe pair or trusted zip) into :class:`~tinysim_gym.export.mlp.MlpPolicy`:
the layers of its action network (the NumPy copy :class:`~agents.rollout.NumpyActor` makes), the feature
selection of its run, its ``VecNormalize`` statistics and whether it applies masks (MaskablePPO).
:func:`export_agent` checks that copy against ``agent.model.predict`` on the states the agent visits,
quantises or distils it, and reports each form's agreement with the agent and its weighted accuracy in
simulation on the evaluation seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.loading import Agent
from agents.rollout import NumpyActor
from agents.wrappers import selected_features
from tinysim_gym.envs.settings import EnvSettings, split_kwargs
from tinysim_gym.errors import TinySimError
from tinysim_gym.export import bundle
from tinysim_gym.export.distill import TablePolicy, TreePolicy, fit_table, fit_tree
from tinysim_gym.export.mlp import InputStage, Int8Mlp, Layer, MlpPolicy
from tinysim_gym.export.observation import ObsSpec
from tinysim_gym.export.states import visit

QUANTIZE = ("none", "int8")
DISTILL = ("none", "tree", "table")
#: seeds of the episodes whose states fit the distilled policies and calibrate int8 (never evaluated on)
FIT_SEEDS = tuple(range(1000, 1016))


@dataclass(frozen=True)
class AgentExport:
    """An agent's export and what was measured on it."""

    export: bundle.Export
    policy: bundle.Exportable
    report: dict[str, float]


def mlp_of(agent: Agent) -> MlpPolicy:
    """The agent's policy as plain arrays: env feature selection, normalisation, layers, masks.

    Raises:
        TinySimError: a policy that is not a plain MLP over a flat observation.
    """
    actor = NumpyActor.build(agent.model)
    if actor is None:
        raise TinySimError(f"export: {str(agent.path)!r} is not an MLP policy over a flat observation")
    names = EnvSettings(split_kwargs(agent.env_config(), {})).feature_names
    keep = selected_features(agent.run.get("hyperparams", {}).get("vec_env_wrapper") or [], names)
    indices = np.array([names.index(k) for k in keep], dtype=np.int64)
    act_names = {id(fn): name.lower() for name, fn in NumpyActor.ACTIVATIONS.items()}
    layers: list[Layer] = []
    for kind, a, b in actor.layers:
        if kind == "linear":
            bias = b if b is not None else np.zeros(a.shape[1], np.float32)
            layers.append(Layer(a, bias, "identity"))
        else:
            last = layers[-1]
            layers[-1] = Layer(last.weight, last.bias, act_names[id(a)])
    mean = std = None
    clip = 10.0
    norm = agent.normalizer
    if norm is not None and getattr(norm, "norm_obs", True):
        rms = norm.obs_rms
        mean = np.asarray(rms.mean, np.float64)
        std = np.sqrt(np.asarray(rms.var, np.float64) + float(norm.epsilon))
        clip = float(norm.clip_obs)
    return MlpPolicy(InputStage(indices, mean, std, clip), tuple(layers), masked=agent.algo == "maskable_ppo")


def agent_actions(agent: Agent, policy: MlpPolicy, obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``agent.model.predict(obs, deterministic=True)`` on env observations (selected as in training)."""
    x = np.asarray(obs, dtype=np.float32)[:, policy.inputs.indices]
    model = agent.model
    if agent.normalizer is not None and not hasattr(model, "normalize_obs"):
        x = agent.normalizer.normalize_obs(x)  # a trusted SB3 model: its VecNormalize, as in evaluation
    kwargs = {"action_masks": masks} if policy.masked else {}
    actions, _ = model.predict(x, deterministic=True, **kwargs)
    return np.asarray(actions, dtype=np.int64).reshape(-1)


def export_agent(agent: Agent, quantize: str = "none", distill: str = "none", seeds: Sequence[int] = range(5),
                 scenario: Any = None, source: Mapping[str, object] | None = None,
                 fit_seeds: Sequence[int] = FIT_SEEDS) -> AgentExport:
    """Export an agent: float32, int8 (``quantize``) or distilled (``distill``), with its figures.

    The report holds ``agreement`` (share of the evaluation episodes' states where the export picks the
    agent's action), ``weighted_accuracy`` (the export's own episodes, %), ``agent_weighted_accuracy``
    and their difference ``accuracy_loss_points``. Int8 calibration and distillation use the states of
    other episodes (``fit_seeds``).

    Raises:
        TinySimError: an unknown form, both forms at once, or an export that differs from the agent.
    """
    if quantize not in QUANTIZE:
        raise TinySimError(f"--quantize: expected one of {', '.join(QUANTIZE)}, got {quantize!r}")
    if distill not in DISTILL:
        raise TinySimError(f"--distill: expected one of {', '.join(DISTILL)}, got {distill!r}")
    if quantize != "none" and distill != "none":
        raise TinySimError("--quantize and --distill: choose one (a distilled policy has no weights to quantise)")
    cfg = agent.env_config(scenario)
    settings = EnvSettings(split_kwargs(cfg, {}))
    spec = ObsSpec.of(settings)
    mlp = mlp_of(agent)
    if mlp.n_actions != settings.n_models:
        raise TinySimError(f"export: the agent chooses among {mlp.n_actions} models, the scenario has "
                           f"{settings.n_models}")
    seeds = [int(s) for s in seeds]
    ref = visit(mlp.act, cfg, seeds)
    same = agent_actions(agent, mlp, ref.obs, ref.masks) == ref.actions
    if not same.all():
        raise TinySimError(f"export: the exported network differs from the agent on {int((~same).sum())} of "
                           f"{len(same)} states")
    policy: bundle.Exportable = mlp
    if quantize == "int8" or distill != "none":
        fit = visit(mlp.act, cfg, fit_seeds)
        if quantize == "int8":
            policy = Int8Mlp.quantize(mlp, fit.obs)
        else:
            policy = distilled(distill, fit.obs, fit.actions)
    mine = ref if policy is mlp else visit(policy.act, cfg, seeds)
    report = {
        "agreement": float(np.mean(policy.act(ref.obs, ref.masks) == ref.actions)),
        "states": int(len(ref.obs)),
        "weighted_accuracy": mine.weighted_accuracy,
        "agent_weighted_accuracy": ref.weighted_accuracy,
        "accuracy_loss_points": ref.weighted_accuracy - mine.weighted_accuracy,
        "seeds": len(seeds),
    }
    src = {"agent": str(agent.path), "algo": agent.algo, **(source or {})}
    return AgentExport(bundle.build(policy, spec, settings.n_models, src, report), policy, report)


def distilled(kind: str, obs: np.ndarray, actions: np.ndarray) -> TreePolicy | TablePolicy:
    """A tree or table fitted to ``(obs, actions)``; the table reads the features the tree splits on most."""
    tree = fit_tree(obs, actions)
    if kind == "tree":
        return tree
    used = tree.feature[tree.feature >= 0]
    if len(used) == 0:
        used = np.array([0])
    order = np.argsort(-np.bincount(used, minlength=obs.shape[1]), kind="stable")
    feats = np.sort(order[: min(3, int((np.bincount(used) > 0).sum()))])
    return fit_table(obs, actions, feats)
