"""Episodes of any policy (the DP oracle, a baseline, a saved agent) written as a Minari dataset.

`Minari <https://minari.farama.org>`_ is the Farama standard for offline RL datasets: a dataset holds
episodes of ``observations``, ``actions``, ``rewards``, ``terminations``, ``truncations`` and ``infos``, and
``minari.load_dataset(id)`` reads it from the directory ``MINARI_DATASETS_PATH`` names. :func:`write_dataset`
runs the env of a registered id (or the generic id on a scenario) with the policy for N episodes on the
seeds ``seed .. seed + N - 1`` and writes the dataset ``<out>/<dataset id>``.

The infos are the env's per-step infos (``rewards`` components, ``time_ms``, ``soc``, ``queue``,
``inferences``, ``dropped``, ``arrivals``, running ``weighted_accuracy`` and ``action_mask``); the last step's
``episode_metrics`` is left out because Minari needs one info layout for every step. With a horizon and no
drop penalty an episode's rewards sum to its ``arrivals`` times its weighted accuracy / 100, and the last
info holds both. The dataset appears complete or not at all: Minari writes into a temporary directory
under ``out``, which is renamed into place at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from tinysim_gym.envs.registration import ENV_IDS, NAMESPACE
from tinysim_gym.errors import TinySimError

#: the id whose env runs a ``--scenario`` (the generic env: 16 decisions per step)
GENERIC_ID = f"{NAMESPACE}/TinySim-v0"
#: the suffixes of a saved agent (anything else that is not a directory is a policy name)
AGENT_SUFFIXES = (".zip", ".json", ".safetensors")
#: info keys of the last step only (Minari needs the same layout at every step)
END_ONLY_INFO = ("episode_metrics",)


@dataclass
class DatasetResult:
    """What :func:`write_dataset` wrote: where, under which id, and the episodes' figures."""

    path: Path
    dataset_id: str
    episodes: int
    steps: int
    weighted_accuracy: list[float]


def is_agent_ref(policy: str) -> bool:
    """Whether ``policy`` names a saved agent (a run directory or a model file) rather than a policy name."""
    return Path(policy).is_dir() or policy.endswith(AGENT_SUFFIXES) or os.sep in policy


def default_dataset_id(env_name: str, policy: str) -> str:
    """``tinysim-<scenario or id>-<policy>-v0`` with every character Minari's ids refuse replaced by ``_``."""
    stem = Path(policy.rstrip("/")).stem.removesuffix(".agent") if is_agent_ref(policy) else policy
    name = re.sub(r"[^\w.-]", "_", f"tinysim-{env_name}-{stem}".replace("/", "-"))
    return f"{name}-v0"


class _Episode:
    """One episode's arrays as Minari stores them: N + 1 observations and infos, N of everything else."""

    def __init__(self, obs: np.ndarray, info: Mapping[str, Any]) -> None:
        self.observations = [np.asarray(obs)]
        self.actions: list[int] = []
        self.rewards: list[float] = []
        self.terminations: list[bool] = []
        self.truncations: list[bool] = []
        self.infos = [_per_step(info)]

    def add(self, obs: np.ndarray, action: int, reward: float, terminated: bool, truncated: bool,
            info: Mapping[str, Any]) -> None:
        """Append one step."""
        self.observations.append(np.asarray(obs))
        self.actions.append(action)
        self.rewards.append(reward)
        self.terminations.append(terminated)
        self.truncations.append(truncated)
        self.infos.append(_per_step(info))

    def buffer(self, cls: type, episode_id: int, seed: int) -> Any:
        """The episode as Minari's ``EpisodeBuffer``."""
        return cls(id=episode_id, seed=seed, observations=np.stack(self.observations),
                   actions=np.asarray(self.actions, dtype=np.int64), rewards=np.asarray(self.rewards),
                   terminations=np.asarray(self.terminations), truncations=np.asarray(self.truncations),
                   infos=_stack(self.infos))


def _per_step(info: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k not in END_ONLY_INFO}


def _stack(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """A list of (nested) info dicts as one dict of arrays, one entry per step."""
    out: dict[str, Any] = {}
    for key, first in infos[0].items():
        values = [i[key] for i in infos]
        out[key] = _stack(values) if isinstance(first, Mapping) else np.asarray(values)
    return out


def _env_and_policy(policy: str, scenario: str | None, env_id: str | None, trust_pickle: bool,
                    make_baseline: Callable[[str, Any], Any]) -> tuple[gym.Env, Callable[[np.ndarray, Any], int], str]:
    """The env to record and ``act(obs, info) -> action`` for the policy; the env's name for the id."""
    if env_id is not None and env_id not in ENV_IDS:
        raise TinySimError(f"--env: unknown id {env_id!r} (allowed: {', '.join(ENV_IDS)})")
    if is_agent_ref(policy):
        from agents.loading import load_agent
        from agents.rollout import policy_fn
        from agents.wrappers import observation_transform

        if env_id is not None:
            raise TinySimError("--env: an agent runs on the env it was trained with; pass --scenario to change "
                               "its scenario")
        agent = load_agent(policy, trust_pickle=trust_pickle)
        cfg = agent.env_config(scenario)
        if not isinstance(cfg["scenario"], str):
            cfg["scenario"] = dict(cfg["scenario"]) if isinstance(cfg["scenario"], Mapping) else \
                cfg["scenario"].model_dump(mode="json")
        cfg.setdefault("max_steps", None)  # the agent's own episodes, not the registered step limit
        env = gym.make(GENERIC_ID, **cfg)
        act_batch = policy_fn(agent.model, agent.normalizer)
        select = observation_transform(agent.run["hyperparams"].get("vec_env_wrapper") or [],
                                       env.unwrapped.feature_names)

        def act_agent(obs: np.ndarray, info: Mapping[str, Any]) -> int:
            batch = obs[None] if select is None else select(obs[None])
            return int(act_batch(batch, np.asarray(info["action_mask"], dtype=bool)[None])[0])

        name = scenario or str(agent.run.get("scenario", "agent"))
        return env, act_agent, Path(name).stem

    env = gym.make(env_id or GENERIC_ID, **({"scenario": scenario} if scenario is not None else {}))
    baseline = make_baseline(policy, env.unwrapped)

    def act_baseline(obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return int(baseline.predict(obs, deterministic=True)[0])

    name = Path(scenario).stem if scenario is not None else (env_id or GENERIC_ID).removeprefix(f"{NAMESPACE}/")
    return env, act_baseline, name


def write_dataset(
    policy: str,
    out: str | os.PathLike[str],
    episodes: int,
    scenario: str | None = None,
    env_id: str | None = None,
    seed: int = 0,
    dataset_id: str | None = None,
    make_baseline: Callable[[str, Any], Any] | None = None,
    trust_pickle: bool = False,
    progress: Callable[[float], None] | None = None,
) -> DatasetResult:
    """Record ``episodes`` episodes of ``policy`` and write them as the Minari dataset ``out/<dataset_id>``.

    Args:
        policy: ``oracle``, a baseline name (:func:`baselines.names`) or a saved agent (run directory,
            ``.zip`` with its safe pair, ``.agent.json``).
        out: the datasets directory (what ``MINARI_DATASETS_PATH`` should name to load it).
        episodes: how many episodes (>= 1), on seeds ``seed, seed + 1, ...``.
        scenario: a scenario name or file for the generic id (or for the agent's env).
        env_id: a registered id instead (its registered settings); not with an agent.
        seed: the first episode's seed.
        dataset_id: the Minari id (default :func:`default_dataset_id`).
        make_baseline: ``make(name, env)`` of the heuristics (default :func:`baselines.make`).
        trust_pickle: let an agent load from a raw SB3 zip (runs code when unpickled).
        progress: called with the fraction of episodes done.

    Raises:
        TinySimError: a bad argument, an unknown policy, an existing dataset, or Minari missing (one line).
    """
    try:
        import h5py  # noqa: F401 - Minari's default storage; checked here for a one-line error
        from minari import create_dataset_from_buffers
        from minari.data_collector import EpisodeBuffer
    except ImportError:
        raise TinySimError("dataset: needs minari with h5py (pip install 'tinysim-gym[dataset]')") from None
    if isinstance(episodes, bool) or not isinstance(episodes, int) or not 1 <= episodes <= 100_000:
        raise TinySimError(f"--episodes: expected an integer in 1..100000, got {episodes!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31 - episodes:
        raise TinySimError(f"--seed: expected a non-negative integer, got {seed!r}")
    if scenario is not None and env_id is not None:
        raise TinySimError("dataset: pass --scenario or --env, not both")
    if make_baseline is None:
        from baselines import make as make_baseline
    env, act, env_name = _env_and_policy(policy, scenario, env_id, trust_pickle, make_baseline)
    buffers, steps, accuracy = [], 0, []
    try:
        dataset_id = dataset_id or default_dataset_id(env_name, policy)
        if not re.fullmatch(r"[\w.-]+-v\d+", dataset_id):
            raise TinySimError(f"--dataset-id: expected NAME-vN (letters, digits, '_', '.', '-'), got {dataset_id!r}")
        root = Path(out)
        target = root / dataset_id
        if target.exists():
            raise TinySimError(f"dataset: {str(target)!r} exists (choose another --dataset-id or --out)")
        for i in range(episodes):
            obs, info = env.reset(seed=seed + i)
            record = _Episode(obs, info)
            done = False
            while not done:
                action = act(obs, info)
                obs, reward, terminated, truncated, info = env.step(action)
                record.add(obs, action, float(reward), bool(terminated), bool(truncated), info)
                done = terminated or truncated
            steps += len(record.rewards)
            accuracy.append(float(info["episode_metrics"]["weighted_accuracy"]))
            buffers.append(record.buffer(EpisodeBuffer, i, seed + i))
            if progress is not None:
                progress((i + 1) / episodes)
    finally:
        env.close()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".dataset-", dir=root))
    previous = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(tmp)  # where Minari writes; the finished dataset moves to root
    try:
        with warnings.catch_warnings():
            # Minari asks for an author, e-mail and code link it cannot know here; the spec is the eval env
            warnings.filterwarnings("ignore", message=r".*is set to None", category=UserWarning)
            create_dataset_from_buffers(
                dataset_id=dataset_id, buffer=buffers, env=env.spec, eval_env=env.spec,
                action_space=env.action_space,
                observation_space=env.observation_space,
                algorithm_name=f"agent:{policy}" if is_agent_ref(policy) else policy,
                description=f"{episodes} episodes of {policy} on {env_name}, seeds {seed}..{seed + episodes - 1}",
            )
        os.replace(tmp / dataset_id, target)
    finally:
        if previous is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous
        shutil.rmtree(tmp, ignore_errors=True)
    return DatasetResult(target, dataset_id, episodes, steps, accuracy)
