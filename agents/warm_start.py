"""A warm start by behaviour cloning: fit the policy to a teacher's actions, then let RL fine-tune it.

The ``warm_start`` hyperparameter (a task's ``train:`` block or a zoo file) turns it on::

    warm_start: {teacher: oracle, episodes: 16, epochs: 20}

(also ``batch_size``, ``learning_rate``, ``value``: fit the value head too, and ``anneal``: let the
cloning learning rate fall linearly to zero over the epochs, for a teacher whose choices switch on fine
differences of the observation, where a constant rate keeps the decision boundary jittering).

Before the first RL update, :func:`warm_start` runs the teacher (any policy :func:`baselines.make` builds:
``oracle``, ``oracle-observed``, a heuristic) inside the model's own training env, so the observations are
exactly those the policy reads (the same wrappers and feature selection), and records (observation, teacher
action, return-to-go) for every agent step. It then fits the policy network's action distribution to the
teacher's actions by cross-entropy and its value head to the teacher's returns (the shaped training
reward, discounted with the algorithm's gamma) for ``epochs`` passes in minibatches; the critic is fitted
too so that the first policy-gradient updates judge the cloned policy by its own value, not by a random one.

Seeds: episode ``j`` of the demonstrations starts from seed ``train_seed_base(seed) + 500 + j`` (the
training block of the run's seed; :data:`SEED_OFFSET`), never an evaluation (1000+) or validation (100..)
seed; afterwards the env is seeded back to the training seeds, so the RL episodes are those of a run
without a warm start. The demonstrations' steps are not
counted in ``n_timesteps``.

With action repeat (``decisions_per_step`` K > 1) the teacher answers the first decision of each step and
its choice serves all K (the agent's constraint too), so the demonstrations score what the teacher scores
inside the task's env, which :class:`WarmStartResult` reports, not the teacher's per-decision figure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tinysim_gym.errors import ConfigError

#: demonstrations start at the run's first training seed plus this (and stay below the next run's block)
SEED_OFFSET = 500
#: the settings a ``warm_start`` mapping may hold, with their defaults
DEFAULTS: dict[str, Any] = {"teacher": "oracle", "episodes": 16, "epochs": 20, "batch_size": 256,
                            "learning_rate": 1e-3, "value": True, "anneal": False}


def warm_start_settings(value: Any, where: str = "hyperparams.warm_start") -> dict[str, Any] | None:
    """The validated ``warm_start`` settings with their defaults (None: no warm start).

    Raises:
        ConfigError: not a mapping, an unknown key or a bad value (one line naming the key).
    """
    if value in (None, False, {}):
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping such as {{teacher: oracle, episodes: 16, epochs: 20}}, "
                          f"got {value!r:.60}")
    unknown = [k for k in value if k not in DEFAULTS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(DEFAULTS)})")
    out = {**DEFAULTS, **value}
    if not isinstance(out["teacher"], str) or not out["teacher"]:
        raise ConfigError(f"{where}.teacher: expected a policy name (oracle, oracle-observed, a heuristic), "
                          f"got {out['teacher']!r}")
    for key, lo, hi in (("episodes", 1, SEED_OFFSET), ("epochs", 0, 10_000), ("batch_size", 1, 1 << 20)):
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ConfigError(f"{where}.{key}: expected an integer in {lo}..{hi}, got {v!r}")
    lr = out["learning_rate"]
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0.0 < float(lr) < 1.0:
        raise ConfigError(f"{where}.learning_rate: expected a number in (0, 1), got {lr!r}")
    out["learning_rate"] = float(lr)
    for key in ("value", "anneal"):
        if not isinstance(out[key], bool):
            raise ConfigError(f"{where}.{key}: expected true or false, got {out[key]!r}")
    return out


@dataclass
class Demonstrations:
    """The teacher's agent steps: what the policy saw, what the teacher chose, the return from there."""

    observations: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    seeds: list[int]
    weighted_accuracy: list[float]


@dataclass
class WarmStartResult:
    """What a warm start did (kept in ``run.yaml`` under ``warm_start``)."""

    teacher: str
    episodes: int
    steps: int
    seeds: list[int]
    teacher_weighted_accuracy: float
    agreement: float
    collect_s: float
    fit_s: float

    def summary(self) -> dict[str, Any]:
        """Plain values for ``run.yaml`` (the seeds as their range)."""
        out = asdict(self)
        out["seeds"] = [min(self.seeds), max(self.seeds)]
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def env_action(engine_action: int, engine: Any, max_models: int | None) -> int:
    """The env's action for an engine action: itself, or its slot in the padded encoding (``max_models``)."""
    if max_models is None:
        return int(engine_action)
    from tinysim_gym.envs.model_features import ModelSlots

    slots = ModelSlots(max_models, False)
    slots.refresh(engine)
    return int(np.flatnonzero(slots.action_map == engine_action)[0])


def collect(venv: Any, teacher: str, episodes: int, first_seed: int, gamma: float, max_models: int | None = None,
            make_baseline: Callable[..., Any] | None = None) -> Demonstrations:
    """Run ``teacher`` on ``venv`` (an SB3 VecEnv over TinySim envs) for ``episodes`` episodes.

    Rounds of ``venv.num_envs`` episodes, sub-env ``i`` of round ``r`` seeded with
    ``first_seed + r * num_envs + i``; the steps a sub-env takes after its episode ended are dropped.
    With ``max_models`` the teacher's engine actions become padded slots, and, when an env wrapper shows the
    slots in another order (one with ``action_of_slot``, such as ``ShuffleSlots``), the action showing that
    slot, so each recorded action runs the model the teacher chose.
    """
    from baselines.policy import engines_of

    if make_baseline is None:
        from baselines import make as make_baseline
    n = venv.num_envs
    obs_all: list[np.ndarray] = []
    act_all: list[np.ndarray] = []
    ret_all: list[np.ndarray] = []
    seeds: list[int] = []
    accuracy: list[float] = []
    policy = None
    reordered = max_models is not None and venv.has_attr("action_of_slot")  # a slot-shuffling env wrapper
    for start in range(0, episodes, n):
        k = min(n, episodes - start)
        round_seeds = [first_seed + start + i for i in range(n)]
        venv.seed(first_seed + start)  # sub-env i: first_seed + start + i (SB3's convention)
        obs = venv.reset()
        if policy is None:
            policy = make_baseline(teacher, venv)
        starts = np.ones(n, dtype=bool)
        live = np.zeros(n, dtype=bool)
        live[:k] = True
        steps: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        while live.any():
            engine_actions, _ = policy.predict(obs, episode_start=starts)
            engines = engines_of(venv)
            actions = np.array([env_action(int(a), engines[i], max_models) for i, a in enumerate(engine_actions)],
                               dtype=np.int64)
            if reordered:  # the agent's action i runs the wrapper's slot perm[i], not slot i
                actions = np.array([venv.env_method("action_of_slot", int(a), indices=i)[0]
                                    for i, a in enumerate(actions)], dtype=np.int64)
            new_obs, rewards, dones, infos = venv.step(actions)
            steps.append((obs, actions, np.asarray(rewards, dtype=np.float64), live.copy()))
            for i in np.flatnonzero(dones & live):
                accuracy.append(float(infos[i]["episode_metrics"]["weighted_accuracy"]))
                seeds.append(round_seeds[i])
            live &= ~dones
            starts = dones
            obs = new_obs
        ret = np.zeros(n)
        for o, a, r, alive in reversed(steps):  # return-to-go of each sub-env's one episode
            ret = np.where(alive, r + gamma * ret, 0.0)
            obs_all.append(o[alive])
            act_all.append(a[alive])
            ret_all.append(ret[alive])
    return Demonstrations(np.concatenate(obs_all).astype(np.float32), np.concatenate(act_all),
                          np.concatenate(ret_all).astype(np.float32), seeds, accuracy)


def clone(model: Any, demos: Demonstrations, settings: Mapping[str, Any], seed: int = 0) -> float:
    """Fit ``model.policy`` to the demonstrations; returns the share of them its greedy action matches."""
    import torch

    policy = model.policy
    obs = torch.as_tensor(demos.observations)
    act = torch.as_tensor(demos.actions)
    ret = torch.as_tensor(demos.returns)
    lr0 = float(settings["learning_rate"])
    opt = torch.optim.Adam(policy.parameters(), lr=lr0)
    gen = torch.Generator().manual_seed(int(seed))
    policy.set_training_mode(True)
    epochs = int(settings["epochs"])
    for epoch in range(epochs):
        if settings.get("anneal"):  # linear decay to zero: the last epochs settle the fit instead of jittering it
            for group in opt.param_groups:
                group["lr"] = lr0 * (1.0 - epoch / epochs)
        for idx in torch.randperm(len(act), generator=gen).split(int(settings["batch_size"])):
            loss = -policy.get_distribution(obs[idx]).log_prob(act[idx]).mean()
            if settings["value"]:
                loss = loss + 0.5 * torch.nn.functional.mse_loss(policy.predict_values(obs[idx]).flatten(), ret[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
            opt.step()
    policy.set_training_mode(False)
    return agreement(model, demos.observations, demos.actions)


def agreement(model: Any, observations: np.ndarray, actions: np.ndarray) -> float:
    """The share of ``observations`` on which the policy's most probable action is ``actions``."""
    import torch

    with torch.no_grad():
        probs = model.policy.get_distribution(torch.as_tensor(observations, dtype=torch.float32)).distribution.probs
    return float((probs.argmax(dim=1).numpy() == np.asarray(actions)).mean())


def warm_start(model: Any, settings: Mapping[str, Any], seed_base: int, max_models: int | None = None,
               report: Callable[[str], None] | None = None) -> WarmStartResult:
    """Clone the teacher into ``model`` on its own training env, then seed the env back to ``seed_base``.

    Args:
        model: a fresh on-policy SB3 model (PPO, A2C, MaskablePPO) with its training env.
        settings: :func:`warm_start_settings`.
        seed_base: the run's first training seed (:func:`agents.training.train_seed_base`).
        max_models: the env's padded slot count, if any (teacher actions are engine indices).
        report: receives one line when done.
    """
    venv = model.get_env()
    t0 = time.perf_counter()
    demos = collect(venv, str(settings["teacher"]), int(settings["episodes"]), seed_base + SEED_OFFSET,
                    float(model.gamma), max_models)
    t1 = time.perf_counter()
    fit = clone(model, demos, settings, seed_base)
    venv.seed(seed_base)  # the RL episodes start where they would without a warm start (learn() resets)
    res = WarmStartResult(str(settings["teacher"]), len(demos.seeds), len(demos.actions), demos.seeds,
                          float(np.mean(demos.weighted_accuracy)), fit, t1 - t0, time.perf_counter() - t1)
    if report is not None:
        report(f"warm start: {res.episodes} {res.teacher} episodes ({res.steps} steps, "
               f"{res.teacher_weighted_accuracy:.3f} %) in {res.collect_s:.1f} s; the cloned policy agrees "
               f"on {100 * res.agreement:.1f} % of them (fit {res.fit_s:.1f} s)")
    if not math.isfinite(res.teacher_weighted_accuracy):
        raise ConfigError("warm_start: the teacher finished no episode")
    return res
