"""Sweeps: a declarative grid of scenarios x policies x seeds, run on a process pool or on Ray, into one table.

A sweep file (YAML; see ``configs/sweeps/smoke.yaml``)::

    name: smoke
    scenario: usps-l476-async-horizon        # or scenarios: [sync_1, async_1, ...] (names, paths, mappings)
    set: {horizon_ms: 5000}                  # fixed overrides for every cell (field path -> value)
    grid:                                    # field path -> values; the cells are the product
      board: [NUCLEO-L476RG, STM32L4R9I-DISCO]
      workload.min_interval_ms: {range: [1, 3], step: 1}       # 1, 2, 3 (stop included)
      battery.capacity_mah: {logspace: [0.005, 0.02], num: 3}  # also {linspace: [lo, hi], num: n}
    policies:
      - reference                            # a baseline by name (baselines.names())
      - {name: ladder, params: {thresholds: [60, 30]}, label: ladder-60-30}
      - {agent: runs/usps/ppo_1/best_model.zip, label: ppo}   # a saved SB3 agent
    seeds: 3                                 # 0, 1, 2; or a list of integers

Field paths are those of :class:`~tinysim_gym.config.ScenarioConfig` (``board`` and ``profile`` take a
built-in name or a path; ``board.idle_current_ma`` and the like override one field). A scenario with
``randomize`` is sampled once per seed (``sample_scenario`` with ``numpy.random.default_rng(seed)``).

The table has one row per cell: ``cell`` (its key), ``scenario`` (name), ``policy`` (label), ``seed``, every
scenario field as a column (``SCENARIO_COLUMNS``: dotted paths such as ``workload.min_interval_ms``; the
model list appears as ``profile.n_models``, descriptions are left out), the keys of ``engine.metrics()``
(``model_counts`` as ``model_counts.<id>``) and ``error`` (empty, or why a policy could not run on that
cell's scenario, e.g. a static index beyond a smaller model set; a policy that fits no scenario of the
sweep is rejected when the sweep is loaded).

Every cell has a key: a hash of its canonical JSON (the resolved scenario, the policy, the seed). Results
are appended to a journal beside the output (``<out>.journal.jsonl``, one line per finished cell, flushed
at once and fsync'ed at least every second), so a killed sweep loses no finished cell; a rerun skips the
cells already in the journal or in the existing table. The table (CSV, one row per cell in expansion
order) is written atomically at the end, after which the journal is removed. The rows depend only on the
cells, so the local and the Ray backends write byte-identical tables. Editing a board or profile file
changes the resolved scenario and so the keys of its cells: they run again.

:func:`run_training_cells` runs several training jobs in parallel (local processes or Ray), each in its
own run directory under one parent, so TensorBoard shows them side by side.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import math
import os
import re
import signal
import time
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tinysim_gym.atomic import write_text
from tinysim_gym.config import (
    ScenarioConfig,
    builtin_names,
    builtin_root,
    load_scenario,
    read_mapping,
    sample_scenario,
)
from tinysim_gym.errors import TinySimError

FORMAT = 1  # part of every cell key: bump when a change makes old results incomparable
MAX_CELLS = 1_000_000
SWEEP_KEYS = ("name", "description", "scenario", "scenarios", "set", "grid", "policies", "seeds")
PREFIX = ("cell", "scenario", "policy", "seed")
#: engine.metrics() keys in table order (keys not listed here follow in alphabetical order)
METRIC_ORDER = (
    "end_reason", "operating_time_ms", "ticks", "inferences", "dropped", "dropped_overflow", "dropped_after_end",
    "arrivals", "buffered_at_end", "weighted_accuracy", "energy_mah", "soc_end", "busy_ticks", "idle_ticks",
    "inference_charge_mah", "idle_charge_mah", "deadline_misses", "harvested_mah", "spilled_mah",
)  # fmt: skip
_DUPLICATE_METRICS = ("scenario", "seed", "seed_compat")  # already columns of the table
_SKIP_FIELDS = ("name", "description", "board.description", "profile.description", "profile.models", "randomize",
                "selector", "selector_params")  # fmt: skip


# ----------------------------------------------------------------------------------------------- columns


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, info in model.model_fields.items():
        path = prefix + name
        sub = _submodel(info.annotation)
        if path == "profile.models":
            out.append("profile.n_models")
        elif path in _SKIP_FIELDS:
            continue
        elif sub is not None:
            out.extend(_field_paths(sub, path + "."))
        else:
            out.append(path)
    return out


#: the scenario columns of a sweep table, in order (every field of a scenario but names and descriptions)
SCENARIO_COLUMNS: tuple[str, ...] = tuple(_field_paths(ScenarioConfig))
_TOP_FIELDS = tuple(ScenarioConfig.model_fields)


def scenario_row(scenario: ScenarioConfig) -> dict[str, Any]:
    """The scenario's fields as flat ``path -> value`` columns (``None`` where a section is absent)."""
    data = scenario.model_dump()
    row: dict[str, Any] = {}
    for path in SCENARIO_COLUMNS:
        if path == "profile.n_models":
            row[path] = len(scenario.profile.models)
            continue
        node: Any = data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        row[path] = node
    return row


def metrics_row(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Engine metrics as flat columns: ``model_counts`` becomes ``model_counts.<id>``; duplicates dropped."""
    row: dict[str, Any] = {}
    for k, v in metrics.items():
        if k in _DUPLICATE_METRICS:
            continue
        if k == "model_counts" and isinstance(v, Mapping):
            for mid, c in v.items():
                row[f"model_counts.{mid}"] = _plain(c)
        elif v is not None:
            row[k] = _plain(v)
    return row


def _plain(v: Any) -> Any:
    """NumPy scalars as Python numbers (the same value, so the table does not depend on the source)."""
    return v.item() if hasattr(v, "item") and not isinstance(v, str | bytes) else v


def _natural(s: str) -> list[Any]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", s) if t]


def _column_rank(col: str) -> tuple[Any, ...]:
    if col in PREFIX:
        return (0, PREFIX.index(col))
    if col in SCENARIO_COLUMNS:
        return (1, SCENARIO_COLUMNS.index(col))
    if col in METRIC_ORDER:
        return (2, METRIC_ORDER.index(col))
    if col == "error":
        return (5,)
    if col.startswith("model_counts."):
        return (4, _natural(col[len("model_counts.") :]))
    return (3, col)


def format_value(v: Any) -> str:
    """A value as it appears in the CSV table (floats by ``repr``, so they read back exactly)."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(float(v))
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, list | tuple | dict):
        return canonical_json(v)
    return str(v)


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys (tuples as lists): the form that cell keys hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, tuple):
        return list(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# ------------------------------------------------------------------------------------------- sweep spec


@dataclass(frozen=True)
class Policy:
    """One policy of a sweep: a baseline by name with parameters, or a saved SB3 agent (zip)."""

    label: str
    name: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    agent: str | None = None
    agent_sha256: str | None = None
    deterministic: bool = True

    def spec(self) -> dict[str, Any]:
        """The canonical description that enters the cell key."""
        if self.agent is not None:
            return {"label": self.label, "agent_sha256": self.agent_sha256, "deterministic": self.deterministic}
        return {"label": self.label, "name": self.name, "params": dict(self.params)}


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


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _policy_label(name: str, params: Mapping[str, Any]) -> str:
    if not params:
        return name
    inner = ",".join(f"{k}={canonical_json(v)}" for k, v in sorted(params.items()))
    return f"{name}({inner})"


def parse_policies(specs: Any, base_dir: Path) -> list[Policy]:
    """Validate the ``policies`` list (names and parameters are checked with ``baselines.make``)."""
    import baselines

    if not isinstance(specs, list) or not specs:
        raise _err(f"policies: expected a non-empty list of baseline names or mappings, got {specs!r:.60}")
    out: list[Policy] = []
    for i, spec in enumerate(specs):
        where = f"policies[{i}]"
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, Mapping):
            raise _err(f"{where}: expected a baseline name or a mapping with name/params or agent, got {spec!r:.60}")
        allowed = {"name", "params", "label", "agent", "deterministic"}
        extra = sorted(set(map(str, spec)) - allowed)
        if extra:
            raise _err(f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")
        label = spec.get("label")
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise _err(f"{where}.label: expected a non-empty string, got {label!r}")
        if "agent" in spec:
            if "name" in spec or "params" in spec:
                raise _err(f"{where}: give either agent (a saved model) or name/params (a baseline), not both")
            ref = spec["agent"]
            if not isinstance(ref, str) or not ref:
                raise _err(f"{where}.agent: expected the path of a saved agent (.zip), got {ref!r}")
            path = Path(ref).expanduser()
            path = path if path.is_absolute() else (base_dir / path)
            if not path.is_file():
                raise _err(f"{where}.agent: no saved agent at {str(path)!r}")
            if _agent_runner() is None:
                raise _err(f"{where}.agent: running saved agents needs agents.run_agent(path, scenario, seed, "
                           "deterministic), which this install does not have yet")
            det = spec.get("deterministic", True)
            if not isinstance(det, bool):
                raise _err(f"{where}.deterministic: expected true or false, got {det!r}")
            out.append(Policy(label=label or path.stem, agent=str(path.resolve()),
                              agent_sha256=_sha256_file(path), deterministic=det))
            continue
        if "deterministic" in spec:
            raise _err(f"{where}.deterministic: only for agents")
        name = spec.get("name")
        params = spec.get("params", {}) or {}
        if not isinstance(name, str):
            raise _err(f"{where}.name: expected a baseline name (allowed: {', '.join(baselines.names(True))})")
        if not isinstance(params, Mapping):
            raise _err(f"{where}.params: expected a mapping of parameter names to values, got {params!r:.60}")
        try:
            baselines.make(name, None, **params)
        except TinySimError as exc:
            raise _err(f"{where}: {exc}") from None
        out.append(Policy(label=label or _policy_label(name, params), name=name, params=dict(params)))
    labels = [p.label for p in out]
    dup = next((x for x in labels if labels.count(x) > 1), None)
    if dup is not None:
        raise _err(f"policies: two policies share the label {dup!r}; give each a distinct label")
    return out


def parse_seeds(spec: Any) -> list[int]:
    """``seeds: n`` (0..n-1) or a list of distinct integers."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        if not 1 <= spec <= 100_000:
            raise _err(f"seeds: expected a count between 1 and 100000 or a list of integers, got {spec}")
        return list(range(spec))
    if isinstance(spec, list) and spec and all(isinstance(s, int) and not isinstance(s, bool) for s in spec):
        if len(set(spec)) != len(spec):
            raise _err("seeds: the list holds a seed twice")
        if any(not 0 <= s < 2**63 for s in spec):
            raise _err("seeds: seeds must be integers in 0..2**63-1")
        return list(spec)
    raise _err(f"seeds: expected a count (e.g. 5) or a list of integers, got {spec!r:.60}")


def cell_key(scenario: ScenarioConfig, policy: Policy, seed: int) -> str:
    """The cell's identity: a hash of its canonical JSON (scenario, policy, seed, table format)."""
    doc = {"format": FORMAT, "scenario": scenario.model_dump(mode="json"), "policy": policy.spec(), "seed": seed}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:20]


def load_sweep(
    ref: str | os.PathLike[str] | Mapping[str, Any], base_dir: str | os.PathLike[str] | None = None
) -> Sweep:
    """Read and expand a sweep: a file path, a built-in sweep name (``configs/sweeps``) or a mapping.

    Every grid point is validated as a scenario here, before anything runs.

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
    policies = parse_policies(raw.get("policies"), root)
    seeds = parse_seeds(raw.get("seeds", 1))
    total = n_points * len(policies) * len(seeds)
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
            for policy in policies:
                for seed in seeds:
                    key = cell_key(concrete[seed], policy, seed)
                    if key in keys:
                        raise _err(f"two cells are the same run ({concrete[seed].name}, {policy.label}, seed {seed})")
                    keys.add(key)
                    cells.append(Cell(len(cells), key, concrete[seed], policy, seed))
    _check_policies_fit(policies, cells)
    return Sweep(name=name, cells=cells, axes=axes, description=str(description))


def _check_policies_fit(policies: Sequence[Policy], cells: Sequence[Cell]) -> None:
    """Reject a baseline whose parameters fit none of the sweep's scenarios (e.g. a static index too large).

    A baseline that fits some scenarios but not others runs, and the cells it does not fit get their
    message in the table's ``error`` column.
    """
    import baselines
    from tinysim_gym.core.engine import Engine

    scenarios: dict[str, ScenarioConfig] = {}
    for c in cells:
        scenarios.setdefault(canonical_json(c.scenario.model_dump(mode="json")), c.scenario)
    for i, p in enumerate(policies):
        if p.agent is not None:
            continue
        first = None
        for sc in scenarios.values():
            try:
                baselines.make(p.name, Engine(sc, chunk=1), **p.params)
                break
            except TinySimError as exc:
                first = first or str(exc)
        else:
            raise _err(f"policies[{i}] ({p.label}) fits none of the sweep's scenarios: {first}")


def _rng(seed: int) -> Any:
    import numpy as np

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


# ------------------------------------------------------------------------------------------------ running

Result = tuple[str, dict[str, Any] | None, str | None]  # (cell key, flat metrics, error message)


def run_cell(cell: Cell) -> Result:
    """Run one cell (in a worker) and return ``(key, flat metrics, None)`` or ``(key, None, error)``.

    An error that belongs to the cell (a policy that does not fit the scenario's model set) is recorded in
    the table's ``error`` column instead of stopping the sweep.
    """
    from tinysim_gym.core.engine import Engine

    try:
        if cell.policy.agent is not None:
            metrics = run_agent(cell.policy, cell.scenario, cell.seed)
        else:
            import baselines

            engine = Engine(cell.scenario, chunk=1 << 16)
            selector = baselines.make(cell.policy.name, engine, **cell.policy.params)
            metrics = baselines.run_episode(engine, selector, seed=cell.seed)
    except TinySimError as exc:
        return cell.key, None, str(exc)
    return cell.key, metrics_row(metrics), None


def _agent_runner() -> Callable[..., dict[str, Any]] | None:
    """The agents package's ``run_agent(path, scenario, seed, deterministic=True) -> metrics``, if it has one."""
    try:
        import agents
    except ImportError:
        return None
    return getattr(agents, "run_agent", None)


def run_agent(policy: Policy, scenario: ScenarioConfig, seed: int) -> dict[str, Any]:
    """One episode of a saved SB3 agent (through ``agents.run_agent``); its ``engine.metrics()``."""
    runner = _agent_runner()
    if runner is None:
        raise TinySimError(f"policy {policy.label!r}: running saved agents needs agents.run_agent (not available)")
    return runner(policy.agent, scenario, seed, deterministic=policy.deterministic)


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker (agents' torch), CPUs are the pool's


class LocalBackend:
    """A local process pool (``processes=1``: run in this process, no pool).

    Args:
        processes: worker processes (default: the number of CPUs).
        start_method: multiprocessing start method (``fork`` where available: workers start at once).
    """

    name = "local"

    def __init__(self, processes: int | None = None, start_method: str | None = None) -> None:
        self.processes = max(1, processes or os.cpu_count() or 1)
        self.start_method = start_method

    def describe(self) -> str:
        """One line for the summary."""
        return f"local ({self.processes} process{'es' if self.processes > 1 else ''})"

    def imap(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """Apply ``fn`` to every item and yield the results as they finish (in any order)."""
        if self.processes == 1 or len(items) <= 1:
            for item in items:
                yield fn(item)
            return
        import multiprocessing as mp

        methods = mp.get_all_start_methods()
        method = self.start_method or ("fork" if "fork" in methods else None)
        ctx = mp.get_context(method)
        pool = ctx.Pool(min(self.processes, len(items)), initializer=_worker_init)
        try:
            yield from pool.imap_unordered(fn, items, chunksize=1)
            pool.close()
        finally:
            pool.terminate()
            pool.join()

    def close(self) -> None:
        """Nothing to release."""


def _run_batch(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [fn(item) for item in items]


class RayBackend:
    """Ray tasks: on a local Ray instance started here (dashboard off), or on a running cluster.

    Args:
        address: a running cluster (``auto``, ``HOST:6379`` or ``ray://HOST:10001``); ``None`` starts a local
            instance with ``processes`` CPUs, shut down again by :meth:`close`. When Ray is already
            initialised in this process, that session is used and left running.
        processes: CPUs of the local instance (default: the number of CPUs).
        ship_code: upload this checkout's ``tinysim_gym``, ``baselines`` and ``agents`` packages to the
            cluster's workers (Ray ``runtime_env.py_modules``) instead of relying on an install there.
    """

    name = "ray"

    def __init__(self, address: str | None = None, processes: int | None = None, ship_code: bool = False) -> None:
        try:
            import ray
        except ImportError:
            raise TinySimError("--backend ray: Ray is not installed (pip install ray)") from None
        import logging

        self.ray = ray
        self.owned = not ray.is_initialized()
        self.address = address
        if self.owned:
            kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
            if ship_code:
                import agents
                import baselines
                import tinysim_gym

                mods = [str(Path(m.__file__).resolve().parent) for m in (tinysim_gym, baselines, agents)]
                kwargs["runtime_env"] = {"py_modules": mods}
            if address and address.startswith("ray://"):  # Ray Client: only what it forwards
                kwargs = {k: v for k, v in kwargs.items() if k == "runtime_env"}
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(address="local", num_cpus=max(1, processes or os.cpu_count() or 1),
                             include_dashboard=False, object_store_memory=200 * 1024 * 1024, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = " ".join(str(exc).split())[:200]
                where = f"--address {address}" if address else "--backend ray"
                raise TinySimError(f"{where}: cannot start or reach Ray ({first})") from None
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))

    def describe(self) -> str:
        """One line for the summary."""
        where = self.address or ("local instance" if self.owned else "existing session")
        return f"ray ({where}, {self.cpus} CPUs)"

    def imap(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """Run ``fn`` over the items as Ray tasks (small batches, a bounded window) and yield as they finish."""
        ray = self.ray
        size = max(1, min(16, len(items) // (self.cpus * 8)))
        batches = [list(items[i : i + size]) for i in range(0, len(items), size)]
        task = ray.remote(num_cpus=1)(_run_batch)
        fn_ref = ray.put(fn)
        pending: list[Any] = []
        window = 2 * self.cpus
        todo = iter(batches)
        try:
            while True:
                for batch in itertools.islice(todo, max(0, window - len(pending))):
                    pending.append(task.remote(fn_ref, batch))
                if not pending:
                    return
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield from ray.get(ref)
        finally:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)

    def close(self) -> None:
        """Shut down the Ray instance if this backend started it."""
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()


def make_backend(backend: str = "local", processes: int | None = None, address: str | None = None,
                 ship_code: bool = False) -> LocalBackend | RayBackend:
    """A backend by name: ``local`` (a process pool) or ``ray``."""
    check_backend(backend, processes, address)
    if backend == "local":
        return LocalBackend(processes)
    return RayBackend(address, processes, ship_code)


def check_backend(backend: str, processes: int | None, address: str | None) -> None:
    """Reject a bad backend name, process count or an address without Ray (one-line errors)."""
    if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int) or processes < 1):
        raise TinySimError(f"--processes: expected an integer >= 1, got {processes!r}")
    if backend == "local":
        if address:
            raise TinySimError("--address: only with --backend ray")
        return
    if backend == "ray":
        return
    raise TinySimError(f"--backend: unknown backend {backend!r} (allowed: local, ray)")


# ------------------------------------------------------------------------------------- journal and table


def journal_path(out: str | os.PathLike[str]) -> Path:
    """Where the finished cells of a running sweep are recorded: ``<out>.journal.jsonl``."""
    p = Path(out)
    return p.with_name(p.name + ".journal.jsonl")


class Journal:
    """An append-only record of finished cells (one JSON line each), locked against a second writer."""

    def __init__(self, path: Path, fsync_every_s: float = 1.0) -> None:
        self.path = path
        self.fsync_every_s = fsync_every_s
        self._f: Any = None
        self._synced = time.monotonic()

    def open(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        """Open (and lock) the journal; return the cells it already holds (a torn last line is ignored)."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in close()
        try:
            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._f.close()
            self._f = None
            raise TinySimError(f"sweep: another sweep is writing {str(self.path)!r}; wait for it or stop it") from None
        self._f.seek(0)
        text = self._f.read()
        found: dict[str, tuple[dict[str, Any], str | None]] = {}
        for line in text.splitlines():
            try:
                rec = json.loads(line)
                found[rec["key"]] = (dict(rec["metrics"] or {}), rec.get("error"))
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a kill
        if text and not text.endswith("\n"):
            self._f.write("\n")
        return found

    def append(self, key: str, metrics: Mapping[str, Any] | None, error: str | None) -> None:
        """Record one finished cell: written and flushed at once, fsync'ed at least every second."""
        self._f.write(canonical_json({"key": key, "metrics": metrics, "error": error}) + "\n")
        self._f.flush()
        if time.monotonic() - self._synced >= self.fsync_every_s:
            self.sync()

    def sync(self) -> None:
        """Force the journal to disk."""
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._synced = time.monotonic()

    def close(self) -> None:
        """Sync, unlock and close."""
        if self._f is not None:
            with contextlib.suppress(OSError):
                self.sync()
            self._f.close()
            self._f = None


def read_table(path: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, str]]]:
    """Read a sweep table (CSV) as its header and rows of strings.

    Raises:
        TinySimError: unreadable file, or not a CSV with a header.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TinySimError(f"cannot read {str(p)!r}: {getattr(exc, 'strerror', None) or exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise TinySimError(f"{str(p)!r} is empty or not a CSV table")
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise TinySimError(f"{str(p)!r} is not a valid CSV table: {exc}") from None
    return list(reader.fieldnames), rows


def _results_from_table(path: Path, wanted: Mapping[str, Cell]) -> dict[str, tuple[dict[str, Any], str | None]]:
    if not path.exists():
        return {}
    header, rows = read_table(path)
    if "cell" not in header:
        raise TinySimError(f"--out: {str(path)!r} exists and is not a sweep table (no 'cell' column); "
                           "refusing to overwrite it")
    skip = set(PREFIX) | set(SCENARIO_COLUMNS) | {"error"}
    found: dict[str, tuple[dict[str, Any], str | None]] = {}
    for row in rows:
        key = row.get("cell") or ""
        if key in wanted:
            found[key] = ({k: v for k, v in row.items() if k not in skip and k and v not in ("", None)},
                          row.get("error") or None)
    return found


def table_rows(cells: Sequence[Cell], done: Mapping[str, tuple[Mapping[str, Any], str | None]]) -> list[dict[str, Any]]:
    """The table's rows, one per cell in ``cells`` order."""
    rows = []
    for c in cells:
        flat, error = done[c.key]
        row: dict[str, Any] = {"cell": c.key, "scenario": c.scenario.name, "policy": c.policy.label, "seed": c.seed}
        row.update(scenario_row(c.scenario))
        row.update(flat)
        row["error"] = error
        rows.append(row)
    return rows


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as CSV text: every column any row has, in a fixed order; values by :func:`format_value`."""
    cols: set[str] = set(PREFIX) | set(SCENARIO_COLUMNS) | {"error"}
    for r in rows:
        cols.update(r)
    header = sorted(cols, key=_column_rank)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([format_value(r.get(c)) for c in header])
    return buf.getvalue()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :mod:`tinysim_gym.atomic`)."""
    write_text(path, text)


@dataclass
class SweepReport:
    """What a sweep did."""

    name: str
    out: str
    cells: int
    ran: int
    reused: int
    errors: int
    seconds: float
    backend: str


def run_sweep(
    sweep: Sweep,
    out: str | os.PathLike[str],
    backend: str = "local",
    processes: int | None = None,
    address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    ship_code: bool = False,
) -> SweepReport:
    """Run every cell of ``sweep`` not yet finished, then write the table to ``out`` atomically.

    Finished cells are found in ``out`` (an earlier complete run) and in its journal (an interrupted one).
    Each newly finished cell is journalled at once, so an interrupt or a kill loses none.

    Args:
        sweep: from :func:`load_sweep`.
        out: the CSV table to write.
        backend: ``local`` (process pool) or ``ray``.
        processes: local worker processes, or the CPUs of a local Ray instance (default: all CPUs).
        address: a running Ray cluster (``--backend ray`` only).
        progress: called as ``progress(finished, total)``.
        ship_code: with Ray, upload this checkout's packages to the workers.
    """
    t0 = time.perf_counter()
    out_path = Path(out)
    if out_path.is_dir():
        raise TinySimError(f"--out: {str(out_path)!r} is a directory; give a file name such as results.csv")
    check_backend(backend, processes, address)
    wanted = {c.key: c for c in sweep.cells}
    journal = Journal(journal_path(out_path))
    from_journal = journal.open()
    ran = errors = 0
    desc = "nothing to run"
    try:
        done = _results_from_table(out_path, wanted)
        done.update({k: v for k, v in from_journal.items() if k in wanted})
        reused = len(done)
        todo = [c for c in sweep.cells if c.key not in done]
        total = len(sweep.cells)
        if progress is not None:
            progress(len(done), total)
        if todo:
            be = make_backend(backend, processes, address, ship_code)
            desc = be.describe()
            try:
                with contextlib.closing(be.imap(run_cell, todo)) as results:
                    for key, metrics, error in results:
                        done[key] = (metrics or {}, error)
                        journal.append(key, metrics, error)
                        ran += 1
                        errors += error is not None
                        if progress is not None:
                            progress(len(done), total)
            finally:
                journal.sync()
                be.close()
        errors = sum(1 for k in wanted if done[k][1] is not None)
        write_atomic(out_path, format_table(table_rows(sweep.cells, done)))
    finally:
        journal.close()
    with contextlib.suppress(OSError):
        journal.path.unlink()
    return SweepReport(sweep.name, str(out_path), len(sweep.cells), ran, reused, errors,
                       time.perf_counter() - t0, desc)


# -------------------------------------------------------------------------------------------- training


def _resolve_callable(ref: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(ref):
        return ref
    import importlib

    mod, sep, attr = str(ref).partition(":")
    if not sep:
        raise TinySimError(f"train: expected 'module:function' or a callable, got {ref!r}")
    try:
        fn = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise TinySimError(f"train: cannot load {ref!r} ({exc})") from None
    if not callable(fn):
        raise TinySimError(f"train: {ref!r} is not callable")
    return fn


def _train_job(job: tuple[Any, dict[str, Any], str, str, str, int]) -> dict[str, Any]:
    """One training cell in a worker: ``train(**kwargs, <log_dir_arg>=run_dir)`` with ``threads`` torch threads."""
    train_ref, kwargs, log_dir_arg, run_dir, name, threads = job
    import sys

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # read by torch when it is first imported
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    t0 = time.perf_counter()
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    try:
        result = _resolve_callable(train_ref)(**kwargs, **{log_dir_arg: run_dir})
        error = None
    except TinySimError as exc:
        result, error = None, str(exc)
    return {"name": name, "run_dir": run_dir, "result": result, "error": error,
            "seconds": round(time.perf_counter() - t0, 3)}


def _cell_name(cell: Mapping[str, Any], i: int) -> str:
    if "name" in cell:
        return str(cell["name"])
    parts = [str(cell[k]) for k in ("algo", "scenario") if k in cell]
    if "seed" in cell:
        parts.append(f"s{cell['seed']}")
    name = "_".join(parts) or f"cell{i}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).name)


def run_training_cells(
    cells: Sequence[Mapping[str, Any]],
    backend: str = "local",
    parent: str | os.PathLike[str] = "runs/sweep",
    train: str | Callable[..., Any] = "agents:train",
    log_dir_arg: str = "log_dir",
    processes: int | None = None,
    address: str | None = None,
    threads: int = 1,
) -> list[dict[str, Any]]:
    """Train several agents in parallel, each in its own run directory under ``parent`` (TensorBoard: one curve each).

    Each cell is a mapping of keyword arguments for ``train``; its optional ``name`` key names the run
    directory (default ``<algo>_<scenario>_s<seed>`` from those keys). Every job calls
    ``train(**cell_without_name, <log_dir_arg>=parent/<name>)`` in its own process (local: a ``spawn``
    pool of ``processes``; Ray: one task per cell with one CPU each) with ``threads`` torch threads, so
    ``tensorboard --logdir parent`` shows the runs side by side.

    Example (three seeds of PPO on Ray)::

        run_training_cells([{"algo": "ppo", "scenario": "usps-l476-async-horizon", "seed": s,
                             "timesteps": 200_000} for s in range(3)],
                           backend="ray", parent="runs/ppo-seeds")

    Args:
        cells: keyword arguments per training job (must be picklable).
        backend: ``local`` or ``ray``.
        parent: the directory holding one run directory per cell.
        train: the training function, as a callable or ``"module:function"`` (imported in the worker).
        log_dir_arg: the keyword through which ``train`` receives its run directory.
        processes: local processes / CPUs of a local Ray instance (default: all CPUs).
        address: a running Ray cluster (with ``backend="ray"``).
        threads: torch threads per job.

    Returns:
        One dict per cell, in cell order: ``name``, ``run_dir``, ``result`` (what ``train`` returned),
        ``error`` (the one-line message of a :class:`TinySimError`, else ``None``) and ``seconds``.
    """
    check_backend(backend, processes, address)
    _resolve_callable(train)  # fail here, not in every worker
    if not cells:
        return []
    names = [_cell_name(c, i) for i, c in enumerate(cells)]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise TinySimError(f"training cells: two cells share the run name {dup!r}; give each a distinct name")
    root = Path(parent).resolve()
    jobs = [(train, {k: v for k, v in c.items() if k != "name"}, log_dir_arg, str(root / n), n, threads)
            for c, n in zip(cells, names, strict=True)]
    be: LocalBackend | RayBackend
    be = LocalBackend(processes, start_method="spawn") if backend == "local" else RayBackend(address, processes)
    try:
        by_name = {r["name"]: r for r in be.imap(_train_job, jobs)}
    finally:
        be.close()
    return [by_name[n] for n in names]
