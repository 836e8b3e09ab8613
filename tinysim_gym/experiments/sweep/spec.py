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

import itertools
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
from tinysim_gym.experiments.sweep.cells import FORMAT, Cell, CellGrid, cell_key, point_scenario
from tinysim_gym.experiments.table import canonical_json

__all__ = ["Cell", "FORMAT", "MAX_CELLS", "Policy", "Sweep", "cell_key", "grid_values", "load_sweep"]

MAX_CELLS = 1_000_000
SWEEP_KEYS = ("name", "description", "scenario", "scenarios", "set", "grid", "policies", "seeds")
_TOP_FIELDS = tuple(ScenarioConfig.model_fields)


@dataclass
class Sweep:
    """An expanded sweep: its cells in table order (a lazy :class:`CellGrid`), the grid's axes (field paths)."""

    name: str
    cells: Sequence[Cell]
    axes: list[str]
    description: str = ""
    policies: list[Policy] = field(default_factory=list)


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
    specs = [canonical_json(p.spec()) for p in plist]
    if len(set(specs)) < len(specs):
        dup = next(p for i, p in enumerate(plist) if specs[i] in specs[:i])
        raise _err(f"two policies are the same run ({dup.label})")
    grid = _Grid(bases, fixed, axes, values, seeds)
    grid.check()
    cells = CellGrid(grid.n_points, grid.concrete, plist, seeds)
    _check_policies_fit(plist, grid.scenarios())
    return Sweep(name=name, cells=cells, axes=axes, description=str(description), policies=plist)


class _Grid:
    """The grid points of a sweep (bases x the axes' product) and their scenarios, made on demand.

    Point ``p`` is base ``p // m`` with the ``p % m``-th combination of axis values (``m`` combinations,
    the last axis varying fastest). Each base is loaded once per board/profile reference; a point's
    nested overrides are then applied by :func:`point_scenario`, which reads no file.
    """

    def __init__(self, bases: list[Any], fixed: Mapping[str, Any], axes: list[str], values: list[list[Any]],
                 seeds: list[int]) -> None:
        self.bases, self.fixed, self.axes, self.values, self.seeds = bases, fixed, axes, values, seeds
        self.combos = math.prod(len(v) for v in values)
        self.n_points = self.combos * len(bases)
        self._loaded: dict[tuple[int, str], dict[str, Any]] = {}

    def combo(self, p: int) -> tuple[int, dict[str, Any]]:
        """Point ``p`` as ``(base index, axis path -> value)``."""
        b, rest = divmod(p, self.combos)
        picked: dict[str, Any] = {}
        for axis, vals in zip(reversed(self.axes), reversed(self.values), strict=True):
            rest, d = divmod(rest, len(vals))
            picked[axis] = vals[d]
        return b, {a: picked[a] for a in self.axes}

    def scenario(self, p: int) -> ScenarioConfig:
        """Point ``p``'s scenario, validated (one line naming the point when it is not valid)."""
        b, combo = self.combo(p)
        try:
            refs, over = _nested({**self.fixed, **combo})
            ref_key = (b, canonical_json(refs))
            base = self._loaded.get(ref_key)
            if base is None:
                sc = load_scenario(self.bases[b], **refs) if refs else load_scenario(self.bases[b])
                base = self._loaded[ref_key] = {"scenario": sc, "dump": sc.model_dump()}
            return point_scenario(base["dump"], over) if over else base["scenario"]
        except TinySimError as exc:
            where = ", ".join(f"{k}={v!r}" for k, v in combo.items())
            at = f" at {where}" if where else ""
            what = f"scenarios[{b}]" if len(self.bases) > 1 else "scenario"
            raise _err(f"{what}{at}: {exc}") from None

    def concrete(self, p: int) -> list[ScenarioConfig]:
        """Point ``p``'s concrete scenario per seed (one draw per seed of a randomised scenario)."""
        sc = self.scenario(p)
        return [sample_scenario(sc, _rng(s)) for s in self.seeds] if sc.randomize else [sc] * len(self.seeds)

    def scenarios(self) -> Iterator[ScenarioConfig]:
        """Every concrete scenario, point by point."""
        for p in range(self.n_points):
            yield from self.concrete(p)

    def check(self) -> None:
        """Validate every point (and its draws) and reject two points that are the same scenario.

        Two points can only differ in the top-level fields the axes touch (the rest comes from their base
        and ``set``), so a point is identified by its base's other fields and its touched fields' values.
        """
        touched = {a.split(".")[0] for a in self.axes}
        groups: dict[int, str] = {}
        seen: dict[tuple[str, str], int] = {}
        for p in range(self.n_points):
            concrete = self.concrete(p)
            sc = concrete[0]
            dump = sc.model_dump(mode="json", include=touched) if touched else {}
            b = p // self.combos
            if b not in groups:
                groups[b] = canonical_json(sc.model_dump(mode="json", exclude=touched))
            ident = (groups[b], canonical_json(dump))
            if ident in seen:
                raise _err(f"two cells are the same run ({sc.name}: grid points {seen[ident]} and {p} give one "
                           f"scenario)")
            seen[ident] = p


def _check_policies_fit(policies: Sequence[Policy], scenarios: Iterator[ScenarioConfig]) -> None:
    """Reject a baseline whose parameters fit none of the sweep's scenarios (e.g. a static index too large).

    A baseline that fits some scenarios but not others runs, and the cells it does not fit get their
    message in the table's ``error`` column.
    """
    tried: list[ScenarioConfig] = []  # the scenarios drawn so far, kept for the next policy
    for i, p in enumerate(policies):
        if p.agent is not None:
            continue
        first = None
        for sc in itertools.chain(tried, _drawn(scenarios, tried)):
            try:
                p.selector(Engine(sc, chunk=1))
                break
            except TinySimError as exc:
                first = first or str(exc)
        else:
            raise _err(f"policies[{i}] ({p.label}) fits none of the sweep's scenarios: {first}")


def _drawn(scenarios: Iterator[ScenarioConfig], tried: list[ScenarioConfig]) -> Iterator[ScenarioConfig]:
    for sc in scenarios:
        tried.append(sc)
        yield sc


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
