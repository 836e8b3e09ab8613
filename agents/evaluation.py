"""Running a trained agent deterministically on fixed seeds, all seeds stepped together.

Sub-env ``i`` of the batched env is reset with seed ``seeds[i]``, which gives exactly the episode of
``TinySimEnv.reset(seed=seeds[i])`` and of ``tinysim simulate --seed seeds[i]``, so the agent's figures sit
next to the baselines' on the same arrival streams.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinysim_gym.errors import TinySimError


def policy_fn(model: Any, normalizer: Any = None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``act(obs, masks) -> actions``: the model's deterministic actions (masks used by MaskablePPO).

    Plain MLP policies (the configs' ``MlpPolicy``) run as a NumPy copy of the network (:class:`NumpyActor`,
    several times faster than ``model.predict`` for small batches); anything else runs through
    ``model.predict``.
    """
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
    def build(cls, model: Any) -> NumpyActor | None:
        """A NumPy copy of ``model``'s action network, or None when the policy is not a plain MLP."""
        try:
            import torch.nn as nn

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
        except (AttributeError, TypeError, ImportError):
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
    act: Callable[[np.ndarray, np.ndarray], np.ndarray],
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
    from gymnasium.vector import AutoresetMode

    from agents.wrappers import observation_transform
    from tinysim_gym.envs.vector_env import TinySimVectorEnv

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise TinySimError("seeds: at least one seed is needed")
    venv = TinySimVectorEnv(len(seeds), dict(env_config), autoreset_mode=AutoresetMode.NEXT_STEP)
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


def _expected_steps(venv: Any) -> int:
    try:
        from tinysim_gym.optimal.lp import bound

        k = int(venv.settings.decisions_per_step)
        return int(max(bound(venv.scenario).arrivals, 1.0) / k)
    except Exception:  # noqa: BLE001 - only sizes the usage timeline
        return 1 << 14


def summary(runs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean figures of several episodes, for logging: weighted accuracy, drops, time, energy, shares."""
    out = {
        "weighted_accuracy": float(np.mean([r["weighted_accuracy"] for r in runs])),
        "dropped": float(np.mean([r["dropped"] for r in runs])),
        "operating_time_s": float(np.mean([r["operating_time_ms"] for r in runs])) / 1000.0,
        "energy_mah": float(np.mean([r["energy_mah"] for r in runs])),
        "soc_end": float(np.mean([r["soc_end"] for r in runs])),
    }
    return out


def evaluate_agent(
    agent: Any,
    scenario: Any = None,
    seeds: int | Sequence[int] = 5,
    baselines: bool = True,
    processes: int | None = None,
    progress: bool = False,
    usage_points: int = 200,
) -> Any:
    """The agent next to every baseline and the bound: :class:`tinysim_gym.experiments.compare.Rows`, bound last.

    Args:
        agent: an :class:`agents.training.Agent` or the path of a saved model.
        scenario: scenario to evaluate on (default: the agent's training scenario).
        seeds: a count (seeds ``0 .. seeds-1``, as ``tinysim compare``) or a list.
        baselines: include every baseline (False: the agent and the bound only).
        processes: worker processes for the baselines.
        progress: progress bar for the baselines.
        usage_points: points of the agent's model-usage timeline (first seed) for the plot.
    """
    from agents.training import Agent, load_agent
    from tinysim_gym.experiments.compare import Rows, compare
    from tinysim_gym.config import load_scenario

    ag = agent if isinstance(agent, Agent) else load_agent(agent)
    sc = load_scenario(scenario) if scenario is not None else load_scenario(ag.run["scenario_config"])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise TinySimError(f"seeds: expected a count >= 1, got {seeds}")
        seed_list = list(range(seeds))
    else:
        seed_list = [int(s) for s in seeds]
    if sc.randomize:
        raise TinySimError(
            f"evaluate: scenario {sc.name!r} randomises {', '.join(sorted(sc.randomize))}; evaluate on concrete "
            "scenarios (held-out combinations, e.g. --scenarios A,B), so the baselines see the same episodes"
        )
    if sc.seed_compat:
        seed_list = seed_list[:1]
    cfg = ag.env_config(sc)
    wrappers = ag.run["hyperparams"].get("vec_env_wrapper")
    _check_spaces(ag, cfg, wrappers)
    if baselines:
        rows = compare(sc, seeds=seed_list, processes=processes, progress=progress, usage_policy=None)
    else:
        from tinysim_gym.optimal.lp import bound

        rows = Rows([bound(sc).as_row()])
        rows.scenario = sc
    runs, usage = run_seeds(policy_fn(ag.model, ag.normalizer), cfg, seed_list, usage_points=usage_points,
                            vec_env_wrappers=wrappers)
    from tinysim_gym.experiments.compare import mean_row

    row = mean_row(ag.label, runs)
    rows.insert(len(rows) - 1, row)
    if usage is not None:
        rows.usage = {**getattr(rows, "usage", {}), ag.label: usage}
        rows.usage_policy = ag.label
    return rows


def _check_spaces(agent: Any, env_config: Mapping[str, Any], vec_env_wrappers: Any) -> None:
    """Raise a one-line error when the scenario gives the agent other observations or actions than it knows."""
    from agents.wrappers import observation_transform
    from tinysim_gym.envs.env import TinySimEnv

    env = TinySimEnv(dict(env_config))
    names = env.feature_names
    select = observation_transform(vec_env_wrappers or [], names)
    obs_dim = len(names) if select is None else int(select(np.zeros((1, len(names)), np.float32)).shape[1])
    n_actions = int(env.action_space.n)
    env.close()
    obs_space, act_space = agent.model.observation_space, agent.model.action_space
    want_obs = int(np.prod(obs_space.shape)) if obs_space.shape else None
    want_act = int(getattr(act_space, "n", n_actions))
    name = getattr(env_config.get("scenario"), "name", env_config.get("scenario"))
    if want_obs is not None and want_obs != obs_dim:
        raise TinySimError(
            f"evaluate: on scenario {name!r} the observation has {obs_dim} features ({', '.join(names)}) but the agent "
            f"was trained on {want_obs} (a horizon adds horizon_elapsed: train and evaluate on the same kind)"
        )
    if want_act != n_actions:
        raise TinySimError(f"evaluate: scenario {name!r} has {n_actions} models but the agent chooses among {want_act}")


@functools.lru_cache(maxsize=8)
def _cached_agent(path: str) -> Any:
    from agents.training import load_agent

    return load_agent(path)


def run_agent(path: str | os.PathLike[str], scenario: Any, seed: int, deterministic: bool = True) -> dict[str, Any]:
    """One episode of a saved agent: its ``engine.metrics()`` (what ``tinysim simulate --json`` prints).

    The entry point sweeps use for ``agent:`` policies; the loaded model is cached per process.

    Args:
        path: a model saved by ``tinysim train``.
        scenario: a scenario config, name or path.
        seed: the episode seed.
        deterministic: must be True: agents act greedily (the most probable model), as in evaluation.
    """
    if not deterministic:
        raise TinySimError("deterministic: saved agents run greedily here; stochastic play is not supported")
    ag = _cached_agent(str(Path(path).resolve()))
    runs, _ = run_seeds(policy_fn(ag.model, ag.normalizer), ag.env_config(scenario), [int(seed)],
                        vec_env_wrappers=ag.run["hyperparams"].get("vec_env_wrapper"))
    return runs[0]
