"""Policies for experiments: registries of heuristics, runners of saved agents, policy and seed lists.

This room holds what a registry and an agent runner must offer, and the one parser for the policy and
seed lists that ``compare`` and sweeps accept.

Experiments never import the packages that hold the policies (they sit above this one). They reach them
through a :class:`PolicyRegistry` (the ``baselines`` package is one: its module-level ``names`` and
``make`` fit the protocol) and an :class:`AgentRunner` (``agents.run_agent``), each given as an object or
as a ``"module[:attr]"`` string (:mod:`tinysim_gym.experiments.refs`) that worker processes import. The
command line passes the real ones; a library caller who passes nothing gets :data:`DEFAULT_REGISTRY` and
:data:`DEFAULT_AGENT_RUNNER`, resolved only when a policy is made.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.core.engine import Engine, Selector
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.refs import load_ref, portable, show_ref
from tinysim_gym.experiments.table import canonical_json

__all__ = ["AgentRunner", "DEFAULT_AGENT_RUNNER", "DEFAULT_REGISTRY", "Policy", "PolicyRegistry",
           "load_agent_runner", "load_registry", "parse_policies", "parse_seeds"]

#: where the heuristics are found when the caller names no registry
DEFAULT_REGISTRY = "baselines"
#: where saved agents are run when the caller names no runner
DEFAULT_AGENT_RUNNER = "agents:run_agent"


class PolicyRegistry(Protocol):
    """Heuristic policies by name (the ``baselines`` package fits this protocol)."""

    def names(self, aliases: bool = False) -> list[str]:
        """The policies' names in table order (``aliases=True`` adds the aliases)."""
        ...

    def make(self, name: str, target: Engine | None = None, **params: Any) -> Selector:
        """A selector for ``target`` (``None``: only check the name and parameters).

        Raises:
            TinySimError: unknown name or parameter, or a value that does not fit ``target``.
        """
        ...


class AgentRunner(Protocol):
    """Runs one episode of a saved agent and returns its ``engine.metrics()``."""

    def __call__(self, path: str, scenario: ScenarioConfig, seed: int, deterministic: bool = True) -> dict[str, Any]:
        """One episode of the agent saved at ``path`` on ``scenario`` with ``seed``."""
        ...


RegistryRef = PolicyRegistry | str
AgentRunnerRef = AgentRunner | str


def load_registry(ref: RegistryRef | None = None) -> PolicyRegistry:
    """The registry ``ref`` names (default :data:`DEFAULT_REGISTRY`)."""
    return load_ref(DEFAULT_REGISTRY if ref is None else ref, "policies", module_ok=True)


def load_agent_runner(ref: AgentRunnerRef | None = None) -> AgentRunner | None:
    """The agent runner ``ref`` names (default :data:`DEFAULT_AGENT_RUNNER`); ``None`` if it does not load.

    The default is looked up on every call, so a runner replaced at run time (a test's stand-in) is used.
    """
    try:
        fn = load_ref(DEFAULT_AGENT_RUNNER if ref is None else ref, "agent", module_ok=False)
    except TinySimError:
        return None
    return fn if callable(fn) else None


@dataclass(frozen=True)
class Policy:
    """One policy of an experiment: a heuristic by name with parameters, or a saved SB3 agent (zip).

    ``source`` says where a worker finds its code: a :class:`PolicyRegistry` for a heuristic, an
    :class:`AgentRunner` for an agent (a ``"module[:attr]"`` string or a picklable object; ``None``: the
    default). It is not part of :meth:`spec`: where the code lives does not change the result.
    """

    label: str
    name: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    agent: str | None = None
    agent_sha256: str | None = None
    deterministic: bool = True
    source: RegistryRef | AgentRunnerRef | None = None

    def spec(self) -> dict[str, Any]:
        """The canonical description that enters a sweep's cell key."""
        if self.agent is not None:
            return {"label": self.label, "agent_sha256": self.agent_sha256, "deterministic": self.deterministic}
        return {"label": self.label, "name": self.name, "params": dict(self.params)}

    def selector(self, target: Engine | None) -> Selector:
        """The heuristic's selector for ``target`` (``None``: not bound to an engine yet)."""
        return load_registry(self.source).make(str(self.name), target, **self.params)

    def run_agent(self, scenario: ScenarioConfig, seed: int) -> dict[str, Any]:
        """One episode of the saved agent; its ``engine.metrics()``."""
        runner = load_agent_runner(self.source)
        if runner is None:
            raise TinySimError(f"policy {self.label!r}: running saved agents needs "
                               f"{show_ref(self.source or DEFAULT_AGENT_RUNNER)} (not available)")
        return runner(str(self.agent), scenario, seed, deterministic=self.deterministic)


def _label(name: str, params: Mapping[str, Any]) -> str:
    if not params:
        return name
    inner = ",".join(f"{k}={canonical_json(v)}" for k, v in sorted(params.items()))
    return f"{name}({inner})"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _items(specs: Any) -> list[Any]:
    """The entries of a policy list: names, mappings, ``(label, params)`` pairs or a ``label -> params`` map."""
    if isinstance(specs, str):
        return [specs]
    if isinstance(specs, Mapping) and specs:
        # {"budget-w8": {"policy": "budget", "window": 8}}: a label, and the parameters with the name in them
        out = []
        for label, params in specs.items():
            params = dict(params) if isinstance(params, Mapping) else params
            out.append((label, params))
        return out
    if isinstance(specs, list | tuple) and specs:
        return list(specs)
    raise TinySimError(f"policies: expected a non-empty list of baseline names or mappings, got {specs!r:.60}")


def parse_policies(
    specs: Any,
    base_dir: Path | None = None,
    registry: RegistryRef | None = None,
    agents: AgentRunnerRef | None = None,
    allow_agents: bool = True,
) -> list[Policy]:
    """Validate a policy list; names and parameters are checked with the registry's ``make``.

    Each entry is a name (``"budget"``), a mapping ``{name, params, label}`` or ``{agent, label,
    deterministic}`` (a saved agent, its path relative to ``base_dir``), or a pair ``(label, params)`` whose
    ``params`` may hold ``"policy": name`` (one heuristic under several labels); the whole list may also be a
    mapping ``label -> params``.

    Args:
        specs: the list.
        base_dir: where relative agent paths start (default: the working directory).
        registry: the registry of heuristics (default :data:`DEFAULT_REGISTRY`).
        agents: the runner of saved agents (default :data:`DEFAULT_AGENT_RUNNER`).
        allow_agents: whether saved agents may appear.

    Raises:
        TinySimError: a one-line message naming the entry (``policies[i]...``).
    """
    reg = load_registry(registry)
    source = portable(registry)
    out: list[Policy] = []
    for i, spec in enumerate(_items(specs)):
        where = f"policies[{i}]"
        if isinstance(spec, str):
            spec = {"name": spec}
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], Mapping):
            params = dict(spec[1])
            spec = {"label": str(spec[0]), "name": params.pop("policy", spec[0]), "params": params}
        if not isinstance(spec, Mapping):
            raise TinySimError(f"{where}: expected a baseline name or a mapping with name/params or agent, "
                               f"got {spec!r:.60}")
        allowed = {"name", "params", "label", "agent", "deterministic"}
        extra = sorted(set(map(str, spec)) - allowed)
        if extra:
            raise TinySimError(f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")
        label = spec.get("label")
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise TinySimError(f"{where}.label: expected a non-empty string, got {label!r}")
        if "agent" in spec:
            out.append(_agent_policy(spec, where, label, base_dir, agents, allow_agents))
            continue
        if "deterministic" in spec:
            raise TinySimError(f"{where}.deterministic: only for agents")
        name = spec.get("name")
        params = spec.get("params", {}) or {}
        if not isinstance(name, str):
            raise TinySimError(f"{where}.name: expected a baseline name (allowed: {', '.join(reg.names(True))})")
        if not isinstance(params, Mapping):
            raise TinySimError(f"{where}.params: expected a mapping of parameter names to values, got {params!r:.60}")
        try:
            reg.make(name, None, **params)
        except TinySimError as exc:
            raise TinySimError(f"{where}: {exc}") from None
        out.append(Policy(label=label or _label(name, params), name=name, params=dict(params), source=source))
    labels = [p.label for p in out]
    dup = next((x for x in labels if labels.count(x) > 1), None)
    if dup is not None:
        raise TinySimError(f"policies: two policies share the label {dup!r}; give each a distinct label")
    return out


def _agent_policy(spec: Mapping[str, Any], where: str, label: str | None, base_dir: Path | None,
                  agents: AgentRunnerRef | None, allow_agents: bool) -> Policy:
    if not allow_agents:
        raise TinySimError(f"{where}.agent: saved agents run in sweeps (tinysim sweep), not here")
    if "name" in spec or "params" in spec:
        raise TinySimError(f"{where}: give either agent (a saved model) or name/params (a baseline), not both")
    ref = spec["agent"]
    if not isinstance(ref, str) or not ref:
        raise TinySimError(f"{where}.agent: expected the path of a saved agent (.zip), got {ref!r}")
    path = Path(ref).expanduser()
    path = path if path.is_absolute() else (Path(base_dir or ".") / path)
    if not path.is_file():
        raise TinySimError(f"{where}.agent: no saved agent at {str(path)!r}")
    if load_agent_runner(agents) is None:
        raise TinySimError(f"{where}.agent: running saved agents needs {show_ref(agents or DEFAULT_AGENT_RUNNER)}"
                           "(path, scenario, seed, deterministic), which this install does not have yet")
    det = spec.get("deterministic", True)
    if not isinstance(det, bool):
        raise TinySimError(f"{where}.deterministic: expected true or false, got {det!r}")
    return Policy(label=label or path.stem, agent=str(path.resolve()), agent_sha256=_sha256_file(path),
                  deterministic=det, source=portable(agents))


def parse_seeds(spec: Any) -> list[int]:
    """``n`` (seeds ``0 .. n-1``) or a list of distinct integers.

    Raises:
        TinySimError: a count outside 1..100000, an empty list, a repeated seed or one outside 0..2**63-1.
    """
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        if not 1 <= spec <= 100_000:
            raise TinySimError(f"seeds: expected a count between 1 and 100000 or a list of integers, got {spec}")
        return list(range(int(spec)))
    if isinstance(spec, Sequence) and not isinstance(spec, str) and spec and all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in spec
    ):
        seeds = [int(s) for s in spec]
        if len(set(seeds)) != len(seeds):
            raise TinySimError("seeds: the list holds a seed twice")
        if any(not 0 <= s < 2**63 for s in seeds):
            raise TinySimError("seeds: seeds must be integers in 0..2**63-1")
        return seeds
    raise TinySimError(f"seeds: expected a count (e.g. 5) or a list of integers, got {spec!r:.60}")
