"""Hyperparameters of ``tinysim train``, from the rl-baselines3-zoo files ``configs/zoo/<algo>.yml``.

The zoo and ``tinysim train`` read the same file (:mod:`agents.zoo_format`): a run's settings are the zoo
entry of the scenario's id with the scenario's section of the file's ``tinysim-train`` block merged over it
(itself ``default`` merged with the scenario's own section, one level deep for the mapping-valued keys
``env_kwargs``, ``policy_kwargs``, ``normalize``). Keys, once merged:

=================  ======================================================================================
key                meaning
=================  ======================================================================================
policy             SB3 policy name (``MlpPolicy``)
n_envs             parallel environments (the batched :class:`~agents.vec_env.TinySimVecEnv`)
n_timesteps        training steps (agent steps: one step serves ``decisions_per_step`` decisions); YAML
                   floats such as ``!!float 1e6`` or ``"1e6"`` are accepted
env_kwargs         the env config (:meth:`tinysim_gym.envs.env.TinySimEnv.default_config`): ``decisions_per_step``,
                   ``drop_penalty``, ``drop_window``, ``obs_*`` switches; the scenario comes from the command
env_wrapper        gymnasium wrappers, as in the zoo: a list of ``module.Class`` or ``{module.Class: kwargs}``
                   (forces one in-process ``TinySimEnv`` per copy instead of the batched env); only the
                   names in :data:`ALLOWED_WRAPPERS` (a file never names other code)
vec_env_wrapper    SB3 ``VecEnvWrapper`` s, same syntax, applied innermost first (before ``normalize``); a
                   ``gamma: auto`` argument receives the algorithm's discount; :data:`ALLOWED_WRAPPERS` only
normalize          ``true``/``false`` or ``VecNormalize`` keyword arguments (``norm_obs``, ``norm_reward`` ..)
policy_kwargs      the zoo's ``"dict(net_arch=[64, 64], activation_fn=nn.Tanh)"`` (read as data, never run) or a
                   mapping (``activation_fn`` by name: ``tanh``, ``relu`` ..)
eval_freq          held-out evaluation every this many steps (0: never), on ``eval_seeds``
eval_seeds         list of seeds (default ``[100, 101, 102]``; the ``tinysim evaluate`` test seeds are 0..N-1)
eval_per_device    ``true``: every eval seed runs on every device of the scenario's ``randomize.device`` list
                   (the best checkpoint is chosen on all of them); default ``false``: each seed draws a device
checkpoint_freq    a checkpoint every this many steps (0: only the final model)
warm_start         behaviour cloning from a teacher before training (:mod:`agents.warm_start`):
                   ``{teacher: oracle, episodes: 16, epochs: 20}``; on-policy algorithms only
anything else      keyword arguments of the algorithm's constructor (``learning_rate``, ``gamma``, ...)
=================  ======================================================================================

Schedules: a string ``lin_<x>`` (``lin_3e-4``) is a linear schedule from ``x`` to 0 over training, for any
algorithm argument that accepts a schedule (``learning_rate``, ``clip_range``, ``clip_range_vf``).
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from agents import zoo_format
from tinysim_gym.config import builtin_root, deep_merge, read_mapping
from tinysim_gym.errors import ConfigError, TinySimError

#: algorithm name -> (module, class)
ALGOS: dict[str, tuple[str, str]] = {
    "ppo": ("stable_baselines3", "PPO"),
    "a2c": ("stable_baselines3", "A2C"),
    "dqn": ("stable_baselines3", "DQN"),
    "maskable_ppo": ("sb3_contrib", "MaskablePPO"),
}
ALGO_ALIASES = {"maskable-ppo": "maskable_ppo", "maskableppo": "maskable_ppo"}

#: keys handled here rather than passed to the algorithm
SPECIAL_KEYS = (
    "policy", "n_envs", "n_timesteps", "env_kwargs", "env_wrapper", "vec_env_wrapper", "normalize",
    "policy_kwargs", "eval_freq", "eval_seeds", "eval_per_device", "checkpoint_freq", "warm_start",
)  # fmt: skip
SCHEDULE_KEYS = ("learning_rate", "clip_range", "clip_range_vf")
#: algorithm arguments set by the training code itself
RESERVED = ("env", "policy", "tensorboard_log", "verbose", "seed", "device", "_init_setup_model")
DEFAULTS: dict[str, Any] = {
    "policy": "MlpPolicy",
    "n_envs": 8,
    "n_timesteps": 100_000,
    "env_kwargs": {},
    "env_wrapper": [],
    "vec_env_wrapper": [],
    "normalize": False,
    "policy_kwargs": {},
    "eval_freq": 50_000,
    "eval_seeds": [100, 101, 102],
    "eval_per_device": False,
    "checkpoint_freq": 50_000,
}
#: the wrapper classes a hyperparameter file may name: a file is data, so it may not name any importable
#: callable (importing a module runs its code, and a wrapper's constructor runs on the training env)
ALLOWED_WRAPPERS: dict[str, tuple[str, ...]] = {
    "vec_env_wrapper": (
        "agents.wrappers.ObjectiveReward",
        "agents.wrappers.SelectFeatures",
        "stable_baselines3.common.vec_env.VecFrameStack",
    ),
    "env_wrapper": tuple(f"gymnasium.wrappers.{name}" for name in (
        "ClipReward", "DelayObservation", "DtypeObservation", "FlattenObservation", "FrameStackObservation",
        "MaxAndSkipObservation", "NormalizeObservation", "NormalizeReward", "RecordEpisodeStatistics",
        "RescaleObservation", "StickyAction", "TimeAwareObservation", "TimeLimit",
    )) + ("tinysim_gym.envs.slot_shuffle.ShuffleSlots",),
}
ACTIVATIONS = ("tanh", "relu", "elu", "leaky_relu", "gelu", "silu", "selu", "sigmoid")


class LinearSchedule:
    """``lin_<x>``: ``x * progress_remaining`` (from ``x`` at the start down to 0 at the end); picklable."""

    def __init__(self, initial: float) -> None:
        self.initial = float(initial)

    def __call__(self, progress_remaining: float) -> float:
        """The value at ``progress_remaining`` (1 at the start, 0 at the end)."""
        return progress_remaining * self.initial

    def __repr__(self) -> str:
        return f"lin_{self.initial:g}"


def canonical_algo(name: str) -> str:
    """The registry name of an algorithm (case-insensitive; ``maskable-ppo`` is ``maskable_ppo``)."""
    key = str(name).strip().lower()
    key = ALGO_ALIASES.get(key, key)
    if key not in ALGOS:
        raise TinySimError(f"algo: unknown algorithm {name!r} (allowed: {', '.join(ALGOS)})")
    return key


def algo_class(algo: str) -> type:
    """The SB3 / sb3-contrib class of an algorithm name."""
    module, cls = ALGOS[canonical_algo(algo)]
    return getattr(importlib.import_module(module), cls)


def _float(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int | float):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    else:
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if not math.isfinite(x):
        raise ConfigError(f"{where}: {value!r} is not a finite number")
    return x


def _int(value: Any, where: str, lo: int = 0, hi: int = 10**12) -> int:
    x = _float(value, where)
    if x != int(x) or not lo <= x <= hi:
        raise ConfigError(f"{where}: expected an integer in {lo}..{hi}, got {value!r}")
    return int(x)


def read_file(ref: str | Path) -> tuple[Path, dict[str, Any]]:
    """Read a zoo hyperparameter file by algorithm name (built-in ``configs/zoo/<algo>.yml``) or path."""
    text = str(ref)
    if text.endswith((".yaml", ".yml", ".json")) or "/" in text:
        path = Path(text).expanduser()
    else:
        path = builtin_root() / "zoo" / f"{canonical_algo(text)}.yml"
        if not path.is_file():
            raise ConfigError(f"hyperparams: no built-in file for {text!r} under configs/zoo")
    return path, read_mapping(path, "hyperparams")


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["learning_rate=1e-3", "env_kwargs.decisions_per_step=16"]`` -> nested dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise TinySimError(f"--hyperparams: expected KEY=VALUE, got {item!r}")
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            raise TinySimError(f"--hyperparams: cannot parse the value of {key!r}: {value!r}") from None
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise TinySimError(f"--hyperparams: {key!r} sets a key inside a value that is not a mapping")
        node[parts[-1]] = parsed
    return out


def _wrapper_list(value: Any, kind: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    if value in (None, [], {}):
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            name, kwargs = item, {}
        elif isinstance(item, Mapping) and len(item) == 1:
            name, kwargs = next(iter(item.items()))
            if kwargs is None:
                kwargs = {}
            if not isinstance(kwargs, Mapping):
                raise ConfigError(f"{where}[{i}]: the arguments of {name!r} must be a mapping")
        else:
            raise ConfigError(f"{where}[{i}]: expected 'module.Class' or {{module.Class: {{kwargs}}}}")
        import_wrapper(name, kind, f"{where}[{i}]")
        out.append((str(name), dict(kwargs)))
    return out


def import_wrapper(path: str, kind: str, where: str) -> Any:
    """The wrapper class ``path`` names, if it is on the allow-list of ``kind`` (checked before importing).

    Args:
        path: ``module.Class`` as the file writes it.
        kind: ``env_wrapper`` or ``vec_env_wrapper``.
        where: the key, for the error message.

    Raises:
        ConfigError: a name outside :data:`ALLOWED_WRAPPERS` (one line), or one that does not import.
    """
    allowed = ALLOWED_WRAPPERS[kind]
    if str(path) not in allowed:
        raise ConfigError(f"{where}: {str(path)[:80]!r} is not an allowed {kind} (a hyperparameter file names "
                          f"no other code; allowed: {', '.join(allowed)})")
    return import_object(path, where)


def import_object(path: str, where: str) -> Any:
    """Import ``module.attr`` with a one-line error."""
    module, _, attr = str(path).rpartition(".")
    if not module:
        raise ConfigError(f"{where}: expected 'module.Class', got {path!r}")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        raise ConfigError(f"{where}: cannot import {path!r}") from None


def _policy_kwargs(value: Any, where: str) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping (net_arch, activation_fn, ...), got {value!r:.60}")
    out = dict(value)
    act = out.get("activation_fn")
    if act is not None and not isinstance(act, str):
        raise ConfigError(f"{where}.activation_fn: expected a name ({', '.join(ACTIVATIONS)}), got {act!r}")
    if isinstance(act, str) and act.lower().removeprefix("nn.") not in ACTIVATIONS:
        raise ConfigError(f"{where}.activation_fn: unknown activation {act!r} (allowed: {', '.join(ACTIVATIONS)})")
    return out


def activation_classes() -> dict[str, type]:
    """The torch class of each activation name in :data:`ACTIVATIONS` (the only ones a file may name)."""
    import torch.nn as nn

    return {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU,
            "silu": nn.SiLU, "selu": nn.SELU, "sigmoid": nn.Sigmoid}


def resolve_policy_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the activation name into the torch class (done at model build time)."""
    out = dict(kwargs)
    act = out.get("activation_fn")
    if isinstance(act, str):
        out["activation_fn"] = activation_classes()[act.lower().removeprefix("nn.")]
    return out


def schedule(value: Any, where: str) -> Any:
    """``lin_<x>`` -> :class:`LinearSchedule`; numbers pass through."""
    if isinstance(value, str) and value.startswith("lin_"):
        return LinearSchedule(_float(value[4:], where))
    if isinstance(value, str):
        return _float(value, where)
    return value


def validate(algo: str, hp: Mapping[str, Any], where: str = "hyperparams") -> dict[str, Any]:
    """Check a section against the algorithm; returns the normalised settings (plain YAML-able values).

    Raises:
        ConfigError: unknown key, bad type or value (one line naming the key).
    """
    algo = canonical_algo(algo)
    cls = algo_class(algo)
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs", "args")]
    out = deep_merge(DEFAULTS, {}, depth=1)
    for key, value in hp.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: key {key!r} is not a string")
        if key in SPECIAL_KEYS:
            out[key] = value
        elif key in RESERVED:
            raise ConfigError(f"{where}.{key}: set by tinysim train itself, not by the hyperparameter file")
        elif key in allowed:
            out[key] = value
        else:
            raise ConfigError(
                f"{where}: unknown key {key!r} for {algo} (allowed: {', '.join(SPECIAL_KEYS + tuple(allowed))})"
            )
    if not isinstance(out["policy"], str) or not out["policy"]:
        raise ConfigError(f"{where}.policy: expected a policy name such as MlpPolicy, got {out['policy']!r}")
    out["n_envs"] = _int(out["n_envs"], f"{where}.n_envs", 1, 1024)
    out["n_timesteps"] = _int(out["n_timesteps"], f"{where}.n_timesteps", 1)
    out["eval_freq"] = _int(out["eval_freq"], f"{where}.eval_freq")
    out["checkpoint_freq"] = _int(out["checkpoint_freq"], f"{where}.checkpoint_freq")
    seeds = out["eval_seeds"]
    if not isinstance(seeds, list) or not seeds:
        raise ConfigError(f"{where}.eval_seeds: expected a non-empty list of seeds, got {seeds!r}")
    out["eval_seeds"] = [_int(s, f"{where}.eval_seeds[{i}]", 0, 2**31 - 1) for i, s in enumerate(seeds)]
    if not isinstance(out["eval_per_device"], bool):
        raise ConfigError(f"{where}.eval_per_device: expected true or false, got {out['eval_per_device']!r:.60}")
    if not isinstance(out["env_kwargs"], Mapping):
        raise ConfigError(f"{where}.env_kwargs: expected a mapping, got {out['env_kwargs']!r:.60}")
    out["env_kwargs"] = dict(out["env_kwargs"])
    if "scenario" in out["env_kwargs"]:
        raise ConfigError(f"{where}.env_kwargs.scenario: the scenario comes from --scenario, not the file")
    _wrapper_list(out["env_wrapper"], "env_wrapper", f"{where}.env_wrapper")
    _wrapper_list(out["vec_env_wrapper"], "vec_env_wrapper", f"{where}.vec_env_wrapper")
    norm = out["normalize"]
    if not isinstance(norm, bool | Mapping):
        raise ConfigError(f"{where}.normalize: expected true, false or a mapping of VecNormalize arguments")
    if isinstance(norm, Mapping):
        from stable_baselines3.common.vec_env import VecNormalize

        ok = [p for p in inspect.signature(VecNormalize.__init__).parameters if p not in ("self", "venv")]
        bad = [k for k in norm if k not in ok]
        if bad:
            raise ConfigError(f"{where}.normalize: unknown key {bad[0]!r} (allowed: {', '.join(ok)})")
    out["policy_kwargs"] = _policy_kwargs(out["policy_kwargs"], f"{where}.policy_kwargs")
    if "warm_start" in out:
        from agents.warm_start import warm_start_settings

        ws = warm_start_settings(out.pop("warm_start"), f"{where}.warm_start")
        if ws is not None:
            if algo == "dqn":
                raise ConfigError(f"{where}.warm_start: clones into an actor-critic policy (ppo, a2c, maskable_ppo)")
            out["warm_start"] = ws
    for key in SCHEDULE_KEYS:
        if key in out:
            schedule(out[key], f"{where}.{key}")
    for key in ("gamma", "gae_lambda", "ent_coef", "vf_coef", "max_grad_norm", "exploration_fraction",
                "exploration_final_eps", "exploration_initial_eps", "tau"):
        if key in out:
            out[key] = _float(out[key], f"{where}.{key}")
    if "gamma" in out and not 0.0 <= out["gamma"] <= 1.0:
        raise ConfigError(f"{where}.gamma: expected a discount in 0..1, got {out['gamma']}")
    for key in ("n_steps", "batch_size", "n_epochs", "buffer_size", "learning_starts", "train_freq",
                "target_update_interval", "gradient_steps"):
        if key in out and not isinstance(out[key], list | Mapping):
            out[key] = _int(out[key], f"{where}.{key}", -1 if key == "gradient_steps" else 1)
    return out


def load(algo: str, scenario: str, file: str | Path | None = None,
         overrides: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], Path]:
    """The validated settings of ``algo`` on ``scenario``: file section, then command-line overrides.

    Args:
        algo: algorithm name.
        scenario: scenario name (selects the section).
        file: hyperparameter file in the zoo's format (default: the built-in ``configs/zoo/<algo>.yml``).
        overrides: nested mapping merged last (``--hyperparams``).
    """
    algo = canonical_algo(algo)
    path, raw = read_file(file if file is not None else algo)
    entry, hp = zoo_format.select(raw, scenario, f"hyperparams[{path.name}]")
    if overrides:
        hp = deep_merge(hp, overrides, depth=1)
    return validate(algo, hp, f"hyperparams[{path.name}:{entry}+{scenario}]"), path
