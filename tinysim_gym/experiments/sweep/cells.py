"""A sweep's cells as a lazy sequence: grid points x policies x seeds, built when read, not all kept.

A million-cell sweep held as a list of cells (each with its validated scenario and its hashed key) takes
a minute and hundreds of MB before the first run starts. :class:`CellGrid` keeps only the grid's axes and
the policies; a grid point's scenario is validated when a cell of it is read (the last point is kept, and
cells are read in order), and a cell's key is hashed from the point's canonical JSON, made once per point.
:func:`point_scenario` applies one point's overrides to the base scenario's dump without copying or
re-reading the board and profile (validation makes the same scenario ``load_scenario`` makes).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from tinysim_gym.config import ScenarioConfig, randomize_variants, validate
from tinysim_gym.experiments.policies import Policy
from tinysim_gym.experiments.table import canonical_json

#: part of every cell key: bump when a change makes old results incomparable
FORMAT = 1


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: a concrete scenario, a policy and a seed; ``key`` identifies its result."""

    index: int
    key: str
    scenario: ScenarioConfig
    policy: Policy
    seed: int


def cell_key(scenario: ScenarioConfig, policy: Policy, seed: int) -> str:
    """The cell's identity: a hash of its canonical JSON (scenario, policy, seed, table format)."""
    doc = {"format": FORMAT, "scenario": scenario.model_dump(mode="json"), "policy": policy.spec(), "seed": seed}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:20]


def _key_from_json(scenario_json: str, policy_json: str, seed: int) -> str:
    """:func:`cell_key` from the parts' canonical JSON (the document's keys in sorted order)."""
    doc = f'{{"format":{FORMAT},"policy":{policy_json},"scenario":{scenario_json},"seed":{json.dumps(seed)}}}'
    return hashlib.sha256(doc.encode()).hexdigest()[:20]


def point_scenario(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> ScenarioConfig:
    """The validated scenario of ``base`` (a validated scenario's ``model_dump()``) with nested overrides.

    Only the mappings on the overrides' paths are new; everything else is shared with ``base``, which
    validation reads and never changes. ``None`` at the top level keeps the base's value, as in
    :func:`~tinysim_gym.config.load_scenario`.

    Raises:
        ConfigError: an override that gives no valid scenario (one line naming the field).
    """
    data = dict(base)
    for key, value in overrides.items():
        if value is not None:
            data[key] = _merged(data.get(key), value)
    scenario = validate(ScenarioConfig, data, "scenario")
    for _ in randomize_variants(scenario):
        pass  # every randomize choice and range end must give a valid scenario: checked now, not when drawn
    return scenario


def _merged(base: Any, over: Any) -> Any:
    if isinstance(over, Mapping) and isinstance(base, Mapping):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merged(base.get(k), v)
        return out
    return over


#: a grid point's concrete scenario for each seed (the same object for all when nothing is randomised)
PointScenarios = Callable[[int], Sequence[ScenarioConfig]]


class CellGrid(Sequence[Cell]):
    """The cells of ``points x policies x seeds`` in table order (points, then policies, then seeds).

    Args:
        n_points: the number of grid points.
        scenarios: point index -> its concrete scenario per seed (called again for a point not kept).
        policies: the sweep's policies.
        seeds: the sweep's seeds.
    """

    def __init__(self, n_points: int, scenarios: PointScenarios, policies: Sequence[Policy], seeds: Sequence[int]):
        self.n_points = n_points
        self.policies = list(policies)
        self.seeds = list(seeds)
        self._scenarios = scenarios
        self._policy_json = [canonical_json(p.spec()) for p in self.policies]
        self._point = -1
        self._concrete: Sequence[ScenarioConfig] = ()
        self._json: dict[int, str] = {}

    def __len__(self) -> int:
        return self.n_points * len(self.policies) * len(self.seeds)

    @overload
    def __getitem__(self, i: int) -> Cell: ...

    @overload
    def __getitem__(self, i: slice) -> list[Cell]: ...

    def __getitem__(self, i: int | slice) -> Cell | list[Cell]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"cell {i} of {n}")
        per_point = len(self.policies) * len(self.seeds)
        point, rest = divmod(i, per_point)
        j, k = divmod(rest, len(self.seeds))
        return self._cell(point, j, k)

    def __iter__(self) -> Iterator[Cell]:
        for point, j, k in itertools.product(range(self.n_points), range(len(self.policies)), range(len(self.seeds))):
            yield self._cell(point, j, k)

    def _cell(self, point: int, j: int, k: int) -> Cell:
        if point != self._point:
            self._concrete = self._scenarios(point)
            self._json = {}
            self._point = point
        sc = self._concrete[k]
        scenario_json = self._json.get(id(sc))
        if scenario_json is None:  # one dump per distinct concrete scenario of the point
            scenario_json = self._json[id(sc)] = canonical_json(sc.model_dump(mode="json"))
        index = (point * len(self.policies) + j) * len(self.seeds) + k
        key = _key_from_json(scenario_json, self._policy_json[j], self.seeds[k])
        return Cell(index, key, sc, self.policies[j], self.seeds[k])
