"""Reward shaping for the long-horizon credit problem, as an SB3 ``VecEnvWrapper``.

The env's reward is the accuracy / 100 of each served sample; the weighted accuracy divides the sum by
every sample that counts (served + dropped). :class:`ObjectiveReward` rewrites the reward so that the
episode return is an affine function of the weighted accuracy, and hands the agent an immediate price for
the energy it spends:

    r' = scale * ( accuracy - sample_value * (newly served, dropped or skipped)   (centred objective)
                   + gamma * Phi(s') - Phi(s) )                                   (battery potential)
    Phi(s) = battery_potential * state_of_charge(s),   Phi(terminal) = 0

*Centred objective.* Summed over an episode the first line is ``N * (WA / 100 - sample_value)`` with ``N``
the samples that count. With a deployment horizon ``N`` is the number of arrivals, which no policy changes,
so maximising the return is maximising the weighted accuracy, exactly. Samples that arrive after the battery
died are charged ``-sample_value`` each at the final step: dying early is a large, immediate penalty
instead of a missing tail of rewards far beyond the discount's reach, and the per-decision rewards are
close to zero, so the small differences between models are not drowned by a large mean. Until depletion,
``N`` depends on the policy; with ``sample_value`` near the best attainable accuracy this is Dinkelbach's
transform of the ratio objective (a dropped sample costs what a served one is worth), and a discount
horizon far shorter than an episode removes the remaining dependence on the episode's length.

*Battery potential.* Potential-based shaping (Ng, Harada and Russell, 1999) leaves the optimal policy
unchanged; with the battery as potential every decision pays, at once, ``battery_potential`` per unit of
state of charge it spends, so the cost of energy is felt when it is spent rather than tens of thousands of
decisions later when the battery runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from agents.vec_env import TinySimVecEnv
from tinysim_gym.core import kernels as K
from tinysim_gym.errors import ConfigError


def _number(value: Any, name: str, lo: float = 0.0, hi: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or not lo <= value <= hi:
        raise ConfigError(f"ObjectiveReward.{name}: expected a number in {lo:g}..{hi:g}, got {value!r}")
    return float(value)


def _left(figures: dict[str, Any]) -> float:
    """Samples that count in the weighted accuracy: served, dropped or skipped (a skip is a lost sample)."""
    return float(figures.get("inferences", 0)) + float(figures.get("dropped", 0)) + float(figures.get("skipped", 0))


class ObjectiveReward(VecEnvWrapper):
    """Centred weighted-accuracy reward plus battery-potential shaping (see the module docstring).

    Args:
        venv: a TinySim vector env (the batched ``TinySimVecEnv`` or a ``DummyVecEnv`` of ``TinySimEnv``),
            unnormalised (put ``VecNormalize`` outside).
        sample_value: what a sample that counts is worth (subtracted once per served or dropped sample).
        battery_potential: potential per unit state of charge (0: no shaping).
        gamma: the algorithm's discount (``tinysim train`` fills it in for ``gamma: auto``).
        scale: multiplies the shaped reward.
    """

    def __init__(self, venv: VecEnv, sample_value: float = 0.9, battery_potential: float = 0.0,
                 gamma: float = 0.99, scale: float = 1.0) -> None:
        super().__init__(venv)
        self.sample_value = _number(sample_value, "sample_value", 0.0, 1.0)
        self.battery_potential = _number(battery_potential, "battery_potential", 0.0, 1e9)
        self.gamma = _number(gamma, "gamma", 0.0, 1.0)
        self.scale = _number(scale, "scale", 1e-9, 1e9)
        if self.battery_potential and venv.observation_space.shape != (len(feature_names(venv)),):
            raise ConfigError("ObjectiveReward: wrap the env's own observations (put it before SelectFeatures)")
        inner = getattr(venv, "unwrapped", venv)
        self._batched = inner if isinstance(inner, TinySimVecEnv) else None
        n = self.num_envs
        self._counted = np.zeros(n, dtype=np.float64)
        self._phi = np.zeros(n, dtype=np.float64)

    def _counts_now(self, infos: list[dict[str, Any]] | None) -> np.ndarray:
        """Samples that count so far (served + dropped + skipped) in each sub-env's current episode."""
        if self._batched is not None:
            st = self._batched.venv.ST
            lost = st[:, K.S_DROP_OVF] + st[:, K.S_DROP_AFTER] + st[:, K.S_SKIPPED]
            return (st[:, K.S_INF] + lost).astype(np.float64)
        if infos is None:
            return np.zeros(self.num_envs)
        return np.array([_left(i) for i in infos])

    def reset(self) -> np.ndarray:
        """Reset every sub-env and start the counts and potentials afresh."""
        obs = self.venv.reset()
        infos = getattr(self.venv, "reset_infos", None)
        self._counted = self._counts_now(infos if infos and all(infos) else None)
        self._phi = self.battery_potential * np.asarray(obs, dtype=np.float64)[:, 0]
        return obs

    def step_wait(self):
        """Step and rewrite the rewards (see the class docstring)."""
        obs, rew, dones, infos = self.venv.step_wait()
        now = self._counts_now(infos)
        phi_next = self.battery_potential * np.asarray(obs, dtype=np.float64)[:, 0]
        counted = now.copy()
        for i in np.flatnonzero(dones):
            m = infos[i].get("episode_metrics")
            if m is not None:  # the batched env has already started the next episode: use the final figures
                counted[i] = _left(m)
            if self._batched is None:
                now[i] = 0.0  # the next episode starts from nothing
        phi_target = np.where(dones, 0.0, phi_next)
        shaped = (np.asarray(rew, dtype=np.float64) - self.sample_value * (counted - self._counted)
                  + self.gamma * phi_target - self._phi)
        self._counted = now
        self._phi = phi_next  # for ended sub-envs: the potential of the new episode's first state
        return obs, (self.scale * shaped).astype(np.float32), dones, infos


def feature_names(venv: VecEnv) -> tuple[str, ...]:
    """The observation feature names of a TinySim vector env (batched or DummyVecEnv of ``TinySimEnv``)."""
    try:
        return tuple(venv.get_attr("settings", indices=[0])[0].feature_names)
    except (AttributeError, IndexError):
        raise ConfigError("SelectFeatures: the env does not name its observation features") from None


class SelectFeatures(VecEnvWrapper):
    """Keep only the named observation features, in the given order (apply after :class:`ObjectiveReward`).

    Args:
        venv: the vector env.
        names: features to keep (``soc``, ``buffer_fill``, ``recent_drops``, ``horizon_elapsed``,
            ``last_action``, ``arrival_rate``; the optional ones must be switched on in ``env_kwargs``).
    """

    def __init__(self, venv: VecEnv, names: list[str]) -> None:
        from gymnasium import spaces

        have = feature_names(venv)
        if not isinstance(names, list | tuple) or not names:
            raise ConfigError(f"SelectFeatures.names: expected a non-empty list of features ({', '.join(have)})")
        missing = [n for n in names if n not in have]
        if missing:
            raise ConfigError(f"SelectFeatures.names: {missing[0]!r} is not observed (available: {', '.join(have)})")
        if venv.observation_space.shape != (len(have),):
            raise ConfigError("SelectFeatures: must wrap the env's own observations (put it after other selections)")
        self.names = list(names)
        self.indices = np.array([have.index(n) for n in names], dtype=np.int64)
        low = venv.observation_space.low[self.indices]
        high = venv.observation_space.high[self.indices]
        super().__init__(venv, observation_space=spaces.Box(low, high, dtype=np.float32))

    def transform(self, obs: np.ndarray) -> np.ndarray:
        """The kept features of a batch of env observations."""
        return np.ascontiguousarray(np.asarray(obs)[:, self.indices])

    def reset(self) -> np.ndarray:
        """Reset and select."""
        return self.transform(self.venv.reset())

    def step_wait(self):
        """Step and select (``terminal_observation`` infos too)."""
        obs, rew, dones, infos = self.venv.step_wait()
        for i in np.flatnonzero(dones):
            t = infos[i].get("terminal_observation")
            if t is not None:
                infos[i]["terminal_observation"] = np.asarray(t)[self.indices]
        return self.transform(obs), rew, dones, infos


def _selection(vec_env_wrappers: list[Any], names: Sequence[str]) -> np.ndarray | None:
    """The indices of the features a run's ``vec_env_wrapper`` list keeps (None: all of them)."""
    idx = None
    for item in vec_env_wrappers or []:
        name, kwargs = (item, {}) if isinstance(item, str) else next(iter(item.items()))
        if str(name).rsplit(".", 1)[-1] == "SelectFeatures":
            keep = list((kwargs or {}).get("names", []))
            idx = np.array([list(names).index(n) for n in keep], dtype=np.int64)
    return idx


def observation_transform(vec_env_wrappers: list[Any], names: tuple[str, ...]) -> Any:
    """The observation selection a run's ``vec_env_wrapper`` list applies (None: observations unchanged)."""
    idx = _selection(vec_env_wrappers, names)
    if idx is None:
        return None
    return lambda obs: np.ascontiguousarray(np.asarray(obs)[:, idx])


def selected_features(vec_env_wrappers: list[Any], names: Sequence[str]) -> list[str]:
    """The names of the observation entries the policy reads, after the run's feature selection."""
    idx = _selection(vec_env_wrappers, names)
    return list(names) if idx is None else [names[int(i)] for i in idx]
