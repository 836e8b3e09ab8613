"""The columns of a sweep table: the prefix, every scenario field as a dotted path, the metrics, ``error``.

A table has one row per cell: ``cell`` (its key), ``scenario`` (name), ``policy`` (label), ``seed``, every
scenario field (:data:`SCENARIO_COLUMNS`: dotted paths such as ``workload.min_interval_ms``; the model list
appears as ``profile.n_models``, descriptions are left out), the keys of ``engine.metrics()``
(``model_counts`` as ``model_counts.<id>``) and ``error``. Values are written so that they read back
exactly (floats by ``repr``).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.experiments.table import MODEL_COUNTS_PREFIX, canonical_json, csv_text, model_count_columns

__all__ = ["METRIC_ORDER", "PREFIX", "SCENARIO_COLUMNS", "format_value", "metrics_row", "scenario_row", "sweep_csv"]

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
            row.update(model_count_columns({mid: _plain(c) for mid, c in v.items()}, MODEL_COUNTS_PREFIX))
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
    if col.startswith(MODEL_COUNTS_PREFIX):
        return (4, _natural(col[len(MODEL_COUNTS_PREFIX) :]))
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


def sweep_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as CSV text: every column any row has, in a fixed order; values by :func:`format_value`."""
    cols: set[str] = set(PREFIX) | set(SCENARIO_COLUMNS) | {"error"}
    for r in rows:
        cols.update(r)
    return csv_text(sorted(cols, key=_column_rank), rows, cell=format_value)
