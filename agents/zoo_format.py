"""The settings of one training run, read from a rl-baselines3-zoo hyperparameter file ``configs/zoo/<algo>.yml``.

One file serves both the zoo and ``tinysim train``. The zoo reads the entry of its ``--env`` id and nothing
else; ``tinysim train`` reads an entry too (its algorithm settings: everything but ``env_kwargs``, which the
zoo applies over the id's registered keyword arguments), and merges over it the section of its scenario in
the file's :data:`PROJECT_KEY` block, a key the zoo never reads because it is no env id::

    TinySim-horizon-v0:              # the zoo's entry (and tinysim train's algorithm settings)
      n_steps: 512
      policy_kwargs: "dict(net_arch=[64, 64], activation_fn=nn.Tanh)"
    tinysim-train:                   # read by tinysim train only
      default: {env_kwargs: {decisions_per_step: 1}, eval_freq: 50000}
      usps-l476-async-horizon: {env_kwargs: {decisions_per_step: 128}}

A scenario's entry is the id registered for it (:data:`tinysim_gym.envs.registration.VARIANTS`, the generic
``TinySim-v0`` last), or the one its section names with ``entry: <id>``. The zoo's ``policy_kwargs`` string
is read as data (:func:`parse_policy_kwargs`), never evaluated: a hyperparameter file cannot run code.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from tinysim_gym.config import deep_merge
from tinysim_gym.envs.registration import NAMESPACE, VARIANTS
from tinysim_gym.errors import ConfigError

#: the block of a zoo file that only ``tinysim train`` reads
PROJECT_KEY = "tinysim-train"
#: the generic id, whose entry serves a scenario without an id of its own
GENERIC_ID = "TinySim-v0"
#: the zoo's ``nn.<Class>`` activations -> the names of :data:`agents.hyperparams.ACTIVATIONS`
NN_ACTIVATIONS = {"Tanh": "tanh", "ReLU": "relu", "ELU": "elu", "LeakyReLU": "leaky_relu", "GELU": "gelu",
                  "SiLU": "silu", "SELU": "selu", "Sigmoid": "sigmoid"}


def parse_policy_kwargs(value: object, where: str) -> dict[str, Any]:
    """The zoo's ``"dict(net_arch=[64, 64], activation_fn=nn.Tanh)"`` as a mapping, without evaluating it.

    Args:
        value: the string (a mapping, the project's own syntax, passes through).
        where: the key, for the error message.

    Returns:
        The keyword arguments, with ``nn.Tanh`` as the name ``tanh``.

    Raises:
        ConfigError: anything but ``dict(key=literal or nn.<activation>, ...)`` (one line).
    """
    if value in (None, ""):
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a \"dict(...)\" string or a mapping, got {value!r:.60}")
    try:
        node = ast.parse(value.strip(), mode="eval").body
    except SyntaxError:
        raise ConfigError(f"{where}: cannot parse {value[:80]!r} (expected \"dict(key=value, ...)\")") from None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"
            and not node.args and all(k.arg for k in node.keywords)):
        raise ConfigError(f"{where}: expected \"dict(key=value, ...)\", got {value[:80]!r}")
    out: dict[str, Any] = {}
    for kw in node.keywords:
        v = kw.value
        if isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id == "nn":
            if v.attr not in NN_ACTIVATIONS:
                raise ConfigError(f"{where}.{kw.arg}: nn.{v.attr} is not an allowed activation "
                                  f"(allowed: {', '.join('nn.' + n for n in NN_ACTIVATIONS)})")
            out[str(kw.arg)] = NN_ACTIVATIONS[v.attr]
            continue
        try:
            out[str(kw.arg)] = ast.literal_eval(v)
        except ValueError:
            raise ConfigError(f"{where}.{kw.arg}: expected a literal or nn.<activation>, "
                              f"got {ast.unparse(v)[:60]!r}") from None
    return out


def entry_id(scenario: str) -> str:
    """The registered id (without the namespace) whose zoo entry serves ``scenario``."""
    for name, settings in VARIANTS.items():
        if name != GENERIC_ID and settings.get("scenario") == scenario:
            return name
    return GENERIC_ID


def select(raw: Mapping[str, Any], scenario: str, where: str) -> tuple[str, dict[str, Any]]:
    """The settings of ``scenario`` in a zoo file: its entry's algorithm settings, then its project section.

    Args:
        raw: the file's mapping.
        scenario: the scenario name.
        where: the file, for error messages.

    Returns:
        ``(entry id, settings)`` in the project's syntax (:func:`agents.hyperparams.validate` checks them).

    Raises:
        ConfigError: a section that is not a mapping, or no entry for the chosen id.
    """
    project = raw.get(PROJECT_KEY, {})
    if not isinstance(project, Mapping):
        raise ConfigError(f"{where}.{PROJECT_KEY}: expected a mapping of scenario sections")
    for key, section in project.items():
        if not isinstance(section, Mapping):
            raise ConfigError(f"{where}.{PROJECT_KEY}.{key}: expected a mapping, got {type(section).__name__}")
    own = deep_merge(dict(project.get("default", {})), dict(project.get(scenario, {})), depth=1)
    name = str(own.pop("entry", None) or entry_id(scenario)).removeprefix(f"{NAMESPACE}/")
    entry = raw.get(name, raw.get(f"{NAMESPACE}/{name}"))
    if not isinstance(entry, Mapping):
        ids = ", ".join(k for k in raw if k != PROJECT_KEY) or "none"
        raise ConfigError(f"{where}: no zoo entry {name!r} for scenario {scenario!r} (has: {ids})")
    algo_settings = {k: v for k, v in entry.items() if k != "env_kwargs"}
    algo_settings["policy_kwargs"] = parse_policy_kwargs(entry.get("policy_kwargs"), f"{where}.{name}.policy_kwargs")
    return name, deep_merge(algo_settings, own, depth=1)
