"""A sweep file and its expansion into cells: a grid of scenarios x policies x seeds.

A sweep file (YAML; see ``configs/sweeps/smoke.yaml``)::

    name: smoke
    scenario: usps-l476-async-horizon        # or scenarios: [sync_1, async_1, ...] (names, paths, mappings)
    set: {horizon_ms: 5000}                  # fixed overrides for every cell (field path -> value)
    grid:                                    # field path -> values; the cells are the product
      board: [NUCLEO-L476RG, STM32L4R9I-DISCO]
      workload.min_interval_ms: {range: [1, 3], step: 1}       # 1, 2, 3 (stop included)
      battery.capacity_mah: {logspace: [0.005, 0.02], num: 3}  # also {linspace: [lo, hi], num: n}
    policies:
      - reference                            # a baseline by name
      - {name: ladder, params: {thresholds: [60, 30]}, label: ladder-60-30}
      - {agent: runs/usps/ppo_1/best_model.zip, label: ppo}   # a saved SB3 agent
    seeds: 3                                 # 0, 1, 2; or a list of integers

Field paths are those of :class:`~tinysim_gym.config.ScenarioConfig` (``board`` and ``profile`` take a
built-in name or a path; ``board.idle_current_ma`` and the like override one field). A scenario with
``randomize`` is sampled once per seed (``sample_scenario`` with ``numpy.random.default_rng(seed)``).

Every cell has a key: a hash of its canonical JSON (the resolved scenario, the policy, the seed). Editing a
board or profile file changes the resolved scenario and so the keys of its cells: they run again.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinysim_gym.config import (
    ScenarioConfig,
    builtin_names,
    builtin_root,
    load_scenario,
    read_mapping,
    sample_scenario,
)
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.policies import AgentRunnerRef, Policy, RegistryRef, parse_policies, parse_seeds
from tinysim_gym.experiments.table import canonical_json

__all__ = ["Cell", "FORMAT", "MAX_CELLS", "Policy", "Sweep", "cell_key", "grid_values", "load_sweep"]

FORMAT = 1  # part of every cell key: bump when a change makes old results incomparable
MAX_CELLS = 1_000_000
SWEEP_KEYS = ("name", "description", "scenario", "scenarios", "set", "grid", "policies", "seeds")
_TOP_FIELDS = tuple(ScenarioConfig.model_fields)


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: a concrete scenario, a policy and a seed; ``key`` identifies its result."""

    index: int
    key: str
    scenario: ScenarioConfig
    policy: Policy
    seed: int


@dataclass
class Sweep:
    """An expanded sweep: its cells in table order and the grid's axes (field paths)."""

    name: str
    cells: list[Cell]
    axes: list[str]
    description: str = ""


def _err(msg: str) -> TinySimError:
    return TinySimError(f"sweep: {msg}")


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _round(x: float) -> float:
    return float(f"{x:.12g}")


def grid_values(path: str, spec: Any) -> list[Any]:
    """The values of one grid axis: a list, one value, or a range / linspace / logspace mapping.

    Raises:
        TinySimError: an empty list, duplicate values or a malformed range (one line naming the axis).
    """
    where = f"grid.{path}"
    if isinstance(spec, Mapping) and spec and set(spec) <= {"range", "step", "linspace", "logspace", "num"}:
        kinds = [k for k in ("range", "linspace", "logspace") if k in spec]
        if len(kinds) != 1:
            raise _err(f"{where}: give one of range, linspace or logspace, got {sorted(spec)}")
        kind = kinds[0]
        lo_hi = spec[kind]
        if not (isinstance(lo_hi, list) and len(lo_hi) == 2 and all(_is_number(x) for x in lo_hi)):
            raise _err(f"{where}.{kind}: expected [start, stop] (two finite numbers), got {lo_hi!r}")
        lo, hi = lo_hi
        if kind == "range":
            if "num" in spec:
                raise _err(f"{where}: range takes step, not num (use linspace for num)")
            step = spec.get("step", 1)
            if not _is_number(step) or step <= 0 or hi < lo:
                raise _err(f"{where}: range needs start <= stop and a step > 0, got {lo_hi} step {step!r}")
            n = math.floor((hi - lo) / step + 1e-9) + 1
            if n > MAX_CELLS:
                raise _err(f"{where}: {n} values, more than the limit {MAX_CELLS}")
            ints = all(isinstance(x, int) for x in (lo, hi, step))
            values: list[Any] = [lo + i * step if ints else _round(lo + i * step) for i in range(n)]
        else:
            if "step" in spec:
                raise _err(f"{where}: {kind} takes num, not step")
            num = spec.get("num")
            if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= MAX_CELLS:
                raise _err(f"{where}.num: expected an integer count of values >= 1, got {num!r}")
            if kind == "logspace" and (lo <= 0 or hi <= 0):
                raise _err(f"{where}.logspace: start and stop must be > 0, got {lo_hi}")
            if num == 1:
                values = [_round(float(lo))]
            elif kind == "linspace":
                values = [_round(lo + (hi - lo) * i / (num - 1)) for i in range(num)]
            else:
                a, b = math.log(lo), math.log(hi)
                values = [_round(math.exp(a + (b - a) * i / (num - 1))) for i in range(num)]
    elif isinstance(spec, list):
        if not spec:
            raise _err(f"{where}: the list of values is empty")
        values = list(spec)
    elif isinstance(spec, Mapping):
        raise _err(
            f"{where}: expected a list of values, {{range: [start, stop], step: s}}, {{linspace: [lo, hi], num: n}} "
            f"or {{logspace: [lo, hi], num: n}}, got keys {sorted(map(str, spec))}"
        )
    else:
        values = [spec]
    seen: set[str] = set()
    for v in values:
        c = canonical_json(v)
        if c in seen:
            raise _err(f"{where}: duplicate value {v!r}")
        seen.add(c)
    return values


def _check_path(path: Any, where: str) -> str:
    if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
        raise _err(f"{where}: expected a scenario field path like workload.min_interval_ms, got {path!r}")
    top = path.split(".")[0]
    if top not in _TOP_FIELDS or top == "name" and "." in path:
        raise _err(f"{where}.{path}: unknown scenario field {top!r} (fields: {', '.join(_TOP_FIELDS)})")
    return path


def _nested(flat: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``path -> value`` into (whole board/profile replacements, nested overrides for the rest)."""
    refs: dict[str, Any] = {}
    over: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, leaf = path.split(".")
        if not parents and leaf in ("board", "profile"):
            refs[leaf] = value
            continue
        node = over
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise _err(f"grid/set: {path} conflicts with another value given for {part}")
        node[leaf] = value
    return refs, over


def _resolve(base: Any, flat: Mapping[str, Any]) -> ScenarioConfig:
    """The base scenario with ``flat`` overrides (board/profile references first, then nested fields)."""
    refs, over = _nested(flat)
    sc = load_scenario(base, **refs) if refs else load_scenario(base)
    return load_scenario(sc, **over) if over else sc


def cell_key(scenario: ScenarioConfig, policy: Policy, seed: int) -> str:
    """The cell's identity: a hash of its canonical JSON (scenario, policy, seed, table format)."""
    doc = {"format": FORMAT, "scenario": scenario.model_dump(mode="json"), "policy": policy.spec(), "seed": seed}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:20]


def load_sweep(
    ref: str | os.PathLike[str] | Mapping[str, Any],
    base_dir: str | os.PathLike[str] | None = None,
    registry: RegistryRef | None = None,
    agents: AgentRunnerRef | None = None,
) -> Sweep:
    """Read and expand a sweep: a file path, a built-in sweep name (``configs/sweeps``) or a mapping.

    Every grid point is validated as a scenario here, and every policy against the scenarios, before
    anything runs.

    Args:
        ref: the sweep.
        base_dir: where relative paths in it start (default: the file's directory, or the working directory).
        registry: the registry of heuristics (see :mod:`tinysim_gym.experiments.policies`).
        agents: the runner of saved agents.

    Raises:
        TinySimError: a bad sweep file, with a one-line message naming the offending key.
    """
    if isinstance(ref, Mapping):
        raw = dict(ref)
        root = Path(base_dir or ".")
        default_name = "sweep"
    else:
        path = Path(ref).expanduser()
        if not path.exists() and str(ref) in builtin_names("sweeps"):
            path = builtin_root() / "sweeps" / f"{ref}.yaml"
        elif not path.exists():
            known = builtin_names("sweeps")
            raise _err(f"cannot read {str(ref)!r}: no such file (built-in sweeps: {', '.join(known) or 'none'})")
        raw = read_mapping(path, "sweep")
        root = Path(base_dir) if base_dir is not None else path.resolve().parent
        default_name = path.stem
    extra = sorted(set(raw) - set(SWEEP_KEYS))
    if extra:
        raise _err(f"unknown key {extra[0]!r} (allowed: {', '.join(SWEEP_KEYS)})")
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise _err(f"name: expected a non-empty string, got {name!r}")
    description = raw.get("description", "")
    if "scenario" in raw and "scenarios" in raw:
        raise _err("give scenario (one) or scenarios (a list), not both")
    if "scenarios" in raw:
        bases = raw["scenarios"]
        if not isinstance(bases, list) or not bases:
            raise _err("scenarios: expected a non-empty list of scenario names, paths or mappings")
    elif "scenario" in raw:
        bases = [raw["scenario"]]
    else:
        raise _err("scenario: missing (a built-in scenario name, a path, or an inline mapping)")
    bases = [_base_ref(b, root, i) for i, b in enumerate(bases)]
    fixed = raw.get("set", {}) or {}
    if not isinstance(fixed, Mapping):
        raise _err("set: expected a mapping of scenario field paths to values")
    for p in fixed:
        _check_path(p, "set")
    grid = raw.get("grid", {}) or {}
    if not isinstance(grid, Mapping):
        raise _err("grid: expected a mapping of scenario field paths to lists or ranges")
    axes = [_check_path(p, "grid") for p in grid]
    both = sorted(set(axes) & set(fixed))
    if both:
        raise _err(f"grid.{both[0]}: also fixed under set; give it in one place")
    values = [grid_values(p, grid[p]) for p in axes]
    n_points = math.prod(len(v) for v in values) * len(bases)
    try:
        plist = parse_policies(raw.get("policies"), root, registry, agents)
        seeds = parse_seeds(raw.get("seeds", 1))
    except TinySimError as exc:
        raise _err(str(exc)) from None
    total = n_points * len(plist) * len(seeds)
    if total > MAX_CELLS:
        raise _err(f"{total} cells, more than the limit {MAX_CELLS}")
    cells: list[Cell] = []
    keys: set[str] = set()
    for b_i, base in enumerate(bases):
        for combo in itertools.product(*values):
            flat = {**fixed, **dict(zip(axes, combo, strict=True))}
            try:
                scenario = _resolve(base, flat)
            except TinySimError as exc:
                where = ", ".join(f"{k}={v!r}" for k, v in dict(zip(axes, combo, strict=True)).items())
                at = f" at {where}" if where else ""
                what = f"scenarios[{b_i}]" if len(bases) > 1 else "scenario"
                raise _err(f"{what}{at}: {exc}") from None
            concrete = {s: sample_scenario(scenario, _rng(s)) if scenario.randomize else scenario for s in seeds}
            for policy in plist:
                for seed in seeds:
                    key = cell_key(concrete[seed], policy, seed)
                    if key in keys:
                        raise _err(f"two cells are the same run ({concrete[seed].name}, {policy.label}, seed {seed})")
                    keys.add(key)
                    cells.append(Cell(len(cells), key, concrete[seed], policy, seed))
    _check_policies_fit(plist, cells)
    return Sweep(name=name, cells=cells, axes=axes, description=str(description))


def _check_policies_fit(policies: Sequence[Policy], cells: Sequence[Cell]) -> None:
    """Reject a baseline whose parameters fit none of the sweep's scenarios (e.g. a static index too large).

    A baseline that fits some scenarios but not others runs, and the cells it does not fit get their
    message in the table's ``error`` column.
    """
    scenarios: dict[str, ScenarioConfig] = {}
    for c in cells:
        scenarios.setdefault(canonical_json(c.scenario.model_dump(mode="json")), c.scenario)
    for i, p in enumerate(policies):
        if p.agent is not None:
            continue
        first = None
        for sc in scenarios.values():
            try:
                p.selector(Engine(sc, chunk=1))
                break
            except TinySimError as exc:
                first = first or str(exc)
        else:
            raise _err(f"policies[{i}] ({p.label}) fits none of the sweep's scenarios: {first}")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _base_ref(ref: Any, root: Path, i: int) -> Any:
    if isinstance(ref, Mapping):
        return dict(ref)
    if not isinstance(ref, str) or not ref:
        raise _err(f"scenarios[{i}]: expected a scenario name, path or mapping, got {ref!r:.60}")
    if ref.endswith((".yaml", ".yml", ".json")) or "/" in ref:
        p = Path(ref).expanduser()
        return str(p if p.is_absolute() else root / p)
    return ref
