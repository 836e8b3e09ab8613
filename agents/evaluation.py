"""A saved agent next to the baselines and the bound, and one episode of a saved agent for sweeps.

The episodes themselves run in :mod:`agents.rollout` (all seeds stepped together, on the very arrival
streams ``tinysim simulate --seed`` and the baselines see).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.loading import Agent, load_agent
from agents.pretrained import is_pretrained
from agents.rollout import policy_fn, run_seeds
from agents.wrappers import observation_transform
from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.compare import Rows, compare, mean_row
from tinysim_gym.optimal.lp import bound

#: the most evaluation episodes of one call (all run at once as rows of one batched env), as ``compare``
MAX_SEEDS = 10_000


def evaluate_agent(
    agent: Agent | str | os.PathLike[str],
    scenario: ScenarioConfig | str | None = None,
    seeds: int | Sequence[int] = 5,
    baselines: bool = True,
    processes: int | None = None,
    progress: bool = False,
    usage_points: int = 200,
    oracle: bool = False,
) -> Rows:
    """The agent next to every baseline and the bound: :class:`tinysim_gym.experiments.compare.Rows`, bound last.

    Args:
        agent: an :class:`agents.loading.Agent` or the path of a saved model.
        scenario: scenario to evaluate on (default: the agent's training scenario).
        seeds: a count (seeds ``0 .. seeds-1``, as ``tinysim compare``) or a list.
        baselines: include every baseline (False: the agent and the bound only).
        processes: worker processes for the baselines.
        progress: progress bar for the baselines.
        usage_points: points of the agent's model-usage timeline (first seed) for the plot.
        oracle: also the DP oracle's row and its certified gap (see
            :func:`~tinysim_gym.experiments.compare.compare`).
    """
    ag = agent if isinstance(agent, Agent) else load_agent(agent)
    sc = load_scenario(scenario) if scenario is not None else load_scenario(ag.run["scenario_config"])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= MAX_SEEDS:
            raise TinySimError(f"seeds: expected a count in 1..{MAX_SEEDS}, got {seeds}")
        seed_list = list(range(seeds))
    else:
        seed_list = [int(s) for s in seeds]
        if not 1 <= len(seed_list) <= MAX_SEEDS:
            raise TinySimError(f"seeds: expected 1..{MAX_SEEDS} seeds, got {len(seed_list)}")
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
    if baselines or oracle:
        rows = compare(sc, policies=None if baselines else ["oracle"], seeds=seed_list, processes=processes,
                       progress=progress, usage_policy=None, oracle=oracle)
    else:
        rows = Rows([bound(sc).as_row()])
        rows.scenario = sc
    runs, usage = run_seeds(policy_fn(ag.model, ag.normalizer), cfg, seed_list, usage_points=usage_points,
                            vec_env_wrappers=wrappers)
    row = mean_row(ag.label, runs)
    rows.insert(len(rows) - 1, row)
    if usage is not None:
        rows.usage = {**getattr(rows, "usage", {}), ag.label: usage}
        rows.usage_policy = ag.label
    return rows


def _check_spaces(agent: Agent, env_config: Mapping[str, Any], vec_env_wrappers: list[Any] | None) -> None:
    """Raise a one-line error when the scenario gives the agent other observations or actions than it knows."""
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
def _cached_agent(path: str) -> Agent:
    return load_agent(path, trust_pickle=False)


def run_agent(
    path: str | os.PathLike[str], scenario: ScenarioConfig | str, seed: int, deterministic: bool = True
) -> dict[str, Any]:
    """One episode of a saved agent: its ``engine.metrics()`` (what ``tinysim simulate --json`` prints).

    The entry point sweeps use for ``agent:`` policies; the loaded model is cached per process. It loads
    the safe pair only (never unpickles a zip: a sweep file may name a model from anywhere).

    Args:
        path: a model saved by ``tinysim train`` (its run directory, ``.zip`` with the safe pair beside it,
            ``.agent.json`` or ``.safetensors``).
        scenario: a scenario config, name or path.
        seed: the episode seed.
        deterministic: must be True: agents act greedily (the most probable model), as in evaluation.
    """
    if not deterministic:
        raise TinySimError("deterministic: saved agents run greedily here; stochastic play is not supported")
    ag = _cached_agent(str(path) if is_pretrained(path) else str(Path(path).resolve()))
    runs, _ = run_seeds(policy_fn(ag.model, ag.normalizer), ag.env_config(scenario), [int(seed)],
                        vec_env_wrappers=ag.run["hyperparams"].get("vec_env_wrapper"))
    return runs[0]
