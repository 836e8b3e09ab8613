"""Building the training environment and the algorithm from validated hyperparameters."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agents.hyperparams import algo_class, canonical_algo, import_wrapper, resolve_policy_kwargs, schedule
from tinysim_gym.errors import ConfigError, TinySimError


def algo_gamma(algo: str, hp: Mapping[str, Any]) -> float:
    """The discount the algorithm will use (the file's ``gamma`` or the class default)."""
    if "gamma" in hp:
        return float(hp["gamma"])
    return float(inspect.signature(algo_class(algo).__init__).parameters["gamma"].default)


def env_config(scenario: Any, hp: Mapping[str, Any]) -> dict[str, Any]:
    """The env config: ``env_kwargs`` plus the scenario (a name, path, mapping or ScenarioConfig)."""
    return {**dict(hp.get("env_kwargs", {})), "scenario": scenario}


def _wrap_kwargs(kwargs: Mapping[str, Any], gamma: float) -> dict[str, Any]:
    return {k: (gamma if (k == "gamma" and v == "auto") else v) for k, v in kwargs.items()}


def make_vec_env(algo: str, hp: Mapping[str, Any], scenario: Any, n_envs: int, seed: int | None,
                 normalize_stats: str | Path | None = None, training: bool = True) -> Any:
    """The vector env the algorithm trains on: batched env (or DummyVecEnv), monitor, wrappers, VecNormalize.

    Args:
        algo: algorithm name (for ``gamma: auto``).
        hp: validated hyperparameters.
        scenario: scenario reference.
        n_envs: number of copies.
        seed: sub-env ``i`` is seeded with ``seed + i`` at the first reset (None: random).
        normalize_stats: a saved ``VecNormalize`` to restore (resume).
        training: whether ``VecNormalize`` keeps updating its statistics.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor, VecNormalize

    from agents.vec_env import TinySimVecEnv
    from tinysim_gym.envs.env import TinySimEnv

    cfg = env_config(scenario, hp)
    gamma = algo_gamma(algo, hp)
    try:
        wrappers = [(import_wrapper(n, "env_wrapper", "env_wrapper"), kw)
                    for n, kw in _wrapper_items(hp.get("env_wrapper"))]
        if wrappers:

            def make_one() -> Any:
                env: Any = TinySimEnv(cfg)
                for cls, kw in wrappers:
                    env = cls(env, **_wrap_kwargs(kw, gamma))
                return env

            venv: Any = DummyVecEnv([make_one for _ in range(n_envs)])
        elif cfg.get("max_models") is not None:  # the padded encoding runs profiles of several sizes: one env each
            venv = DummyVecEnv([lambda: TinySimEnv(cfg) for _ in range(n_envs)])
        else:
            venv = TinySimVecEnv(n_envs, cfg)
        if seed is not None:
            venv.seed(seed)
        venv = VecMonitor(venv)
        for name, kw in _wrapper_items(hp.get("vec_env_wrapper")):
            cls = import_wrapper(name, "vec_env_wrapper", "vec_env_wrapper")
            venv = cls(venv, **_wrap_kwargs(kw, gamma))
    except TypeError as exc:
        raise ConfigError(f"hyperparams: a wrapper rejected its arguments: {exc}") from None
    norm = hp.get("normalize", False)
    if normalize_stats is not None:
        venv = VecNormalize.load(str(normalize_stats), venv)
        venv.training = training
        if not training:
            venv.norm_reward = False
    elif norm:
        kwargs = dict(norm) if isinstance(norm, Mapping) else {}
        kwargs.setdefault("gamma", gamma)
        venv = VecNormalize(venv, training=training, **kwargs)
    return venv


def _wrapper_items(value: Any) -> list[tuple[str, dict[str, Any]]]:
    if value in (None, [], {}):
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append((item, {}))
        else:
            name, kw = next(iter(item.items()))
            out.append((name, dict(kw or {})))
    return out


def algo_kwargs(algo: str, hp: Mapping[str, Any]) -> dict[str, Any]:
    """The algorithm's constructor arguments from the hyperparameters (schedules resolved)."""
    from agents.hyperparams import SCHEDULE_KEYS, SPECIAL_KEYS

    kw = {k: v for k, v in hp.items() if k not in SPECIAL_KEYS}
    for key in SCHEDULE_KEYS:
        if key in kw:
            kw[key] = schedule(kw[key], key)
    if isinstance(kw.get("train_freq"), list):
        kw["train_freq"] = tuple(kw["train_freq"])
    if hp.get("policy_kwargs"):
        kw["policy_kwargs"] = resolve_policy_kwargs(hp["policy_kwargs"])
    return kw


def make_model(algo: str, hp: Mapping[str, Any], venv: Any, seed: int | None) -> Any:
    """A fresh algorithm instance on ``venv``."""
    algo = canonical_algo(algo)
    cls = algo_class(algo)
    try:
        return cls(hp["policy"], venv, seed=seed, verbose=0, device="cpu", **algo_kwargs(algo, hp))
    except (ValueError, TypeError, KeyError, AssertionError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise TinySimError(f"hyperparams: {algo} rejected the settings: {msg}") from None
