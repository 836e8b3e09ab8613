"""Saved agents that load without running code: weights as safetensors beside a JSON description.

An SB3 ``.zip`` unpickles (cloudpickle) its ``data`` entry and a ``VecNormalize`` ``.pkl`` goes through
``pickle.load``: loading either runs whatever code the file names. The safe format is two files:

=========================  ===========================================================================
file                       what
=========================  ===========================================================================
``<stem>.safetensors``     the policy's ``state_dict`` tensors (a format that holds numbers, never code)
``<stem>.agent.json``      :class:`~agents.safe_description.AgentDescription`: algorithm, policy class
                           and architecture, spaces, observation features, ``VecNormalize`` statistics,
                           tensor names and shapes, the weights' SHA-256, and free ``extra`` metadata
=========================  ===========================================================================

The description ends in ``.agent.json`` rather than ``.json`` because a run directory already holds
``best_model.json`` (the figures of the best evaluation). :func:`load_safe` reads only these two files,
validates the description strictly, builds the policy class named there (from an allow-list) with the
described spaces and architecture, and loads the tensors with ``strict=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from agents.safe_agent import ObsNormalizer, SafeAgent
from agents.safe_description import (
    FORMAT,
    FORMAT_VERSION,
    POLICY_CLASSES,
    AgentDescription,
    plain_json,
)
from tinysim_gym.atomic import atomic_path
from tinysim_gym.config import validate
from tinysim_gym.errors import TinySimError

WEIGHTS_SUFFIX = ".safetensors"
DESCRIPTION_SUFFIX = ".agent.json"
#: stems tried in a directory: a run directory's best model, then what :func:`save_safe` writes into one
DIRECTORY_STEMS = ("best_model", "model")
MAX_DESCRIPTION_BYTES = 4 << 20
MAX_WEIGHTS_BYTES = 512 << 20


class SafePaths(NamedTuple):
    """The two files of one saved agent."""

    weights: Path
    description: Path


def safe_paths(path: str | os.PathLike[str]) -> SafePaths:
    """The files of the agent at ``path``: its stem, either of its files, or the SB3 ``.zip`` beside them.

    A directory holds them as ``best_model.*`` (a run directory) or ``model.*``.
    """
    p = Path(path)
    if p.is_dir():
        for stem in DIRECTORY_STEMS:
            if (p / f"{stem}{DESCRIPTION_SUFFIX}").is_file():
                return _pair(p / stem)
        return _pair(p / DIRECTORY_STEMS[-1])
    name = p.name
    for suffix in (DESCRIPTION_SUFFIX, WEIGHTS_SUFFIX, ".zip"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return _pair(p.with_name(name[: -len(suffix)]))
    return _pair(p)


def _pair(stem: Path) -> SafePaths:
    return SafePaths(stem.with_name(stem.name + WEIGHTS_SUFFIX), stem.with_name(stem.name + DESCRIPTION_SUFFIX))


# ----------------------------------------------------------------------------------------------- saving


def save_safe(
    model: Any,
    path_stem_or_dir: str | os.PathLike[str],
    normalizer: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> SafePaths:
    """Write ``model`` (an SB3 / sb3-contrib algorithm) in the safe format; both files or neither.

    Args:
        model: a PPO, A2C, DQN or MaskablePPO model with an MLP policy on a Box observation and a
            Discrete action space.
        path_stem_or_dir: ``runs/x/best_model`` (or ``best_model.zip``, whose stem is used), or an existing
            directory (the files are then ``model.*`` inside it).
        normalizer: the ``VecNormalize`` the model was trained behind (its statistics go into the JSON).
        extra: metadata kept as given (scenario, env config, ...); its ``observation_features`` (a list of
            names, one per observation entry) becomes the description's own field.

    Returns:
        The paths written.

    Raises:
        TinySimError: a model or metadata the format cannot describe (one line; nothing is written).
    """
    from safetensors.torch import save_file

    target = Path(path_stem_or_dir)
    paths = _pair(target / DIRECTORY_STEMS[-1]) if target.is_dir() else safe_paths(target)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.policy.state_dict().items()}
    fields = describe(model, normalizer, extra)
    fields["tensors"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch.")}
                         for k, v in tensors.items()}
    existed = paths.weights.exists()
    replaced = False
    try:
        with atomic_path(paths.description) as desc_tmp:
            with atomic_path(paths.weights) as weights_tmp:  # renamed first: the description commits the pair
                save_file(tensors, str(weights_tmp), metadata={"format": FORMAT})
                fields["weights_sha256"] = hashlib.sha256(weights_tmp.read_bytes()).hexdigest()
                validate(AgentDescription, fields, "agent")  # never write what load_safe would refuse
                desc_tmp.write_text(_dumps(fields), encoding="utf-8")
            replaced = True
    except BaseException:
        if replaced and not existed:
            paths.weights.unlink(missing_ok=True)  # the description did not land: no lone weights file
        raise
    return paths


def _dumps(fields: Mapping[str, Any]) -> str:
    """Indented JSON with each list of plain values on one line (a statistics vector is one line)."""

    def fmt(x: Any, depth: int) -> str:
        pad = " " * (depth + 1)
        if isinstance(x, Mapping) and x:
            items = [f"{pad}{json.dumps(str(k))}: {fmt(v, depth + 1)}" for k, v in x.items()]
        elif isinstance(x, list) and any(isinstance(v, Mapping | list) for v in x):
            items = [pad + fmt(v, depth + 1) for v in x]
        else:
            return json.dumps(x, allow_nan=False)
        opening, closing = ("{", "}") if isinstance(x, Mapping) else ("[", "]")
        return opening + "\n" + ",\n".join(items) + "\n" + " " * depth + closing

    return fmt(fields, 0) + "\n"


def describe(model: Any, normalizer: Any = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The description of ``model`` as plain values, without ``tensors`` and ``weights_sha256``.

    Raises:
        TinySimError: an algorithm, policy, space or normalizer outside the format (one line).
    """
    from gymnasium import spaces

    algo = _algorithm_of(model)
    policy = model.policy
    cls = type(policy).__name__
    if type(policy) is not _policy_class(POLICY_CLASSES[algo]):
        raise TinySimError(f"agent: the safe format holds {POLICY_CLASSES[algo]} policies for {algo}, not {cls}")
    params = policy._get_constructor_parameters()  # what SB3 itself saves to rebuild the policy
    act = {v: k for k, v in _activation_classes().items()}.get(params["activation_fn"])
    if act is None:
        raise TinySimError(f"agent: activation {params['activation_fn'].__name__} is not in the safe format's "
                           f"allow-list ({', '.join(_activation_classes())})")
    if params["features_extractor_class"].__name__ != "FlattenExtractor" or params["features_extractor_kwargs"]:
        raise TinySimError("agent: the safe format holds policies with the plain FlattenExtractor only")
    pol: dict[str, Any] = {"class_name": cls, "net_arch": params["net_arch"], "activation_fn": act,
                           "features_extractor": "FlattenExtractor",
                           "normalize_images": bool(params["normalize_images"])}
    if "ortho_init" in params:
        pol["ortho_init"] = bool(params["ortho_init"])
        pol["share_features_extractor"] = bool(getattr(policy, "share_features_extractor", True))
    obs, act_space = policy.observation_space, policy.action_space
    if not isinstance(obs, spaces.Box) or not isinstance(act_space, spaces.Discrete):
        raise TinySimError("agent: the safe format holds Box observations and Discrete actions only")
    fields: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "algorithm": algo,
        "policy": pol,
        "observation_space": {"type": "Box", "shape": list(obs.shape), "dtype": str(obs.dtype),
                              "low": _bounds(obs.low), "high": _bounds(obs.high)},
        "action_space": {"type": "Discrete", "n": int(act_space.n), "start": int(act_space.start)},
    }
    rest = dict(extra or {})
    try:
        if rest.get("observation_features") is not None:
            fields["observation_features"] = [str(x) for x in rest.pop("observation_features")]
        if normalizer is not None:
            fields["normalization"] = _describe_normalizer(normalizer)
        fields["extra"] = plain_json(rest, "extra")
    except (ValueError, TypeError, AttributeError) as exc:
        raise TinySimError(f"agent: {' '.join(str(exc).split())[:200]}") from None
    return fields


def _algorithm_of(model: Any) -> str:
    from agents.hyperparams import ALGOS

    cls = type(model)
    for algo, (module, name) in ALGOS.items():
        if cls.__name__ == name and cls.__module__.split(".")[0] == module:
            return algo
    raise TinySimError(f"agent: the safe format holds {', '.join(ALGOS)} models, not {cls.__name__}")


def _activation_classes() -> dict[str, type]:
    from agents.hyperparams import activation_classes

    return activation_classes()


def _bounds(a: np.ndarray) -> list[float | str]:
    return [x if np.isfinite(x) else ("inf" if x > 0 else "-inf") for x in np.asarray(a, np.float64).ravel().tolist()]


def _describe_normalizer(vn: Any) -> dict[str, Any]:
    if isinstance(vn.obs_rms, dict):
        raise ValueError("normalization: dict observations are outside the safe format")

    def stats(rms: Any) -> dict[str, Any]:
        return {"mean": np.asarray(rms.mean, np.float64).tolist(), "var": np.asarray(rms.var, np.float64).tolist(),
                "count": float(rms.count)}

    return {"norm_obs": bool(vn.norm_obs), "norm_reward": bool(vn.norm_reward), "clip_obs": float(vn.clip_obs),
            "clip_reward": float(vn.clip_reward), "epsilon": float(vn.epsilon), "gamma": float(vn.gamma),
            "obs_rms": stats(vn.obs_rms), "ret_rms": stats(vn.ret_rms)}


# ---------------------------------------------------------------------------------------------- loading


def load_safe(path: str | os.PathLike[str]) -> SafeAgent:
    """Load a safe-format agent: reads the JSON description and the safetensors weights, nothing else.

    Args:
        path: the agent's stem, either of its files, a directory holding them, or an SB3 ``.zip`` with
            them beside it (the zip itself is never opened).

    Raises:
        TinySimError: missing or unreadable files, a description that does not validate, weights that do
            not match it (one line naming the file and the field).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    paths = safe_paths(path)
    if not paths.description.exists():
        hint = ""
        if Path(path).suffix == ".zip":
            hint = ("; a raw SB3 zip unpickles code when it loads, so it is loaded only on request "
                    "(--trust-pickle)")
        raise TinySimError(f"agent: no safe-format description {str(paths.description)!r}{hint}")
    where = f"agent {str(paths.description)!r}"
    raw = _read_regular(paths.description, MAX_DESCRIPTION_BYTES, where)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise TinySimError(f"{where}: not a JSON document ({type(exc).__name__})") from None
    try:
        desc: AgentDescription = validate(AgentDescription, data, "description")
    except TinySimError as exc:  # "description.<field>: ..." -> "agent '<file>': <field>: ..."
        raise TinySimError(f"{where}: {str(exc).removeprefix('description').lstrip('.: ')}") from None
    blob = _read_regular(paths.weights, MAX_WEIGHTS_BYTES, f"agent {str(paths.weights)!r}")
    if hashlib.sha256(blob).hexdigest() != desc.weights_sha256:
        raise TinySimError(f"agent {str(paths.weights)!r}: the weights do not match their description "
                           "(weights_sha256): a corrupt, truncated or foreign file")
    try:
        tensors = load_tensors(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise TinySimError(f"agent {str(paths.weights)!r}: not a safetensors file: "
                           f"{' '.join(str(exc).split())[:120]}") from None
    _check_tensors(tensors, desc, where)
    policy = build_policy(desc)
    expected = {k: list(v.shape) for k, v in policy.state_dict().items()}
    described = {k: t.shape for k, t in desc.tensors.items()}
    if expected != described:
        bad = sorted(set(expected) ^ set(described)) or sorted(k for k in expected if expected[k] != described[k])
        raise TinySimError(f"{where}: tensors: {bad[0]!r} does not fit the described {desc.policy.class_name} "
                           f"({desc.policy.net_arch!r}, observation {desc.observation_space.shape}, "
                           f"{desc.action_space.n} actions)")
    policy.load_state_dict(tensors, strict=True)
    policy.set_training_mode(False)
    norm = ObsNormalizer.from_description(desc.normalization) if desc.normalization is not None else None
    return SafeAgent(paths.description, desc, policy, norm)


def _read_regular(path: Path, limit: int, where: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (no FIFO, device or endless file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without waiting for a writer
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise TinySimError(f"{where}: not a regular file")
            data = fh.read(limit + 1)
    except OSError as exc:
        raise TinySimError(f"{where}: cannot read it: {exc.strerror or type(exc).__name__}") from None
    if len(data) > limit:
        raise TinySimError(f"{where}: larger than the limit of {limit} bytes")
    return data


def _check_tensors(tensors: Mapping[str, Any], desc: AgentDescription, where: str) -> None:
    names, described = set(tensors), set(desc.tensors)
    if names != described:
        odd = sorted(names ^ described)[0]
        side = "file" if odd in names else "description"
        raise TinySimError(f"{where}: tensors: {odd!r} is only in the {side}")
    for name, t in tensors.items():
        want = desc.tensors[name]
        dtype = str(t.dtype).removeprefix("torch.")
        if list(t.shape) != want.shape or dtype != want.dtype:
            raise TinySimError(f"{where}: tensors.{name}: the file holds {dtype} {list(t.shape)}, the description "
                               f"says {want.dtype} {want.shape}")


def build_policy(desc: AgentDescription) -> Any:
    """A fresh policy object of the described class, spaces and architecture (weights not loaded)."""
    from gymnasium import spaces

    obs = desc.observation_space
    low, high = desc.observation_space.bounds()
    obs_space = spaces.Box(low=np.array(low, dtype=obs.dtype).reshape(obs.shape),
                           high=np.array(high, dtype=obs.dtype).reshape(obs.shape), dtype=obs.dtype)
    act_space = spaces.Discrete(desc.action_space.n, start=desc.action_space.start)
    cls = _policy_class(desc.policy.class_name)
    return cls(obs_space, act_space, _no_learning, **desc.policy.constructor_kwargs())


def _no_learning(_progress_remaining: float) -> float:
    return 0.0  # the optimiser the policy builds is never used: a loaded agent only acts


def _policy_class(name: str) -> type:
    if name == "ActorCriticPolicy":
        from stable_baselines3.common.policies import ActorCriticPolicy

        return ActorCriticPolicy
    if name == "DQNPolicy":
        from stable_baselines3.dqn.policies import DQNPolicy

        return DQNPolicy
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

    return MaskableActorCriticPolicy
