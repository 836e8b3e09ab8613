"""Tidy tables: one CSV writer, the model-count columns, the printed text table, and JSON for rows.

Two JSON forms serve two ideas and stay apart: :func:`dumps` is for people and other programs (indented,
NaN and inf become ``null``), :func:`canonical_json` is an identity (compact, sorted keys, NaN refused),
the form that sweep cell keys hash and that journal lines and table cells hold.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tinysim_gym.atomic import write_text

__all__ = ["MODEL_COUNTS_PREFIX", "TABLE_COLUMNS", "canonical_json", "certificate_lines", "csv_text", "dumps",
           "format_table", "json_ready", "markdown_table", "model_count_columns", "rows_csv", "rows_json",
           "write_csv"]

#: every table (compare, evaluate, sweep) names the count of model ``<id>`` ``model_counts.<id>``: the
#: dotted path of the metrics' ``model_counts`` mapping, as every other nested field is named
MODEL_COUNTS_PREFIX = "model_counts."

#: Columns of :func:`format_table`: (row key, header, format).
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("policy", "policy", "{}"),
    ("weighted_accuracy", "weighted acc %", "{:.3f}"),
    ("operating_time_ms", "operating time s", "{:.3f}"),
    ("inferences", "inferences", "{:.0f}"),
    ("dropped", "dropped", "{:.0f}"),
    ("energy_mah", "energy mAh", "{:.6f}"),
)


# ------------------------------------------------------------------------------------------------ JSON


def json_ready(obj: Any) -> Any:
    """``obj`` as plain JSON values: NaN and inf become ``None``, NumPy scalars Python numbers, keys strings."""
    if getattr(obj, "shape", None) == () and hasattr(obj, "item"):  # NumPy scalars, without importing NumPy
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """JSON with a fixed key order and no NaN (NaN and inf become null), indented for reading."""
    return json.dumps(json_ready(obj), indent=2, allow_nan=False)


def rows_json(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows as plain JSON-ready dicts (NaN/inf become None)."""
    return [json_ready(r) for r in rows]


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys (tuples as lists): the form that cell keys hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_json_default)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):  # pydantic models, matched by duck type: no pydantic import for JSON
        return obj.model_dump(mode="json")
    if isinstance(obj, tuple):
        return list(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# ------------------------------------------------------------------------------------------------- CSV


def model_count_columns(counts: Mapping[str, Any], prefix: str = MODEL_COUNTS_PREFIX) -> dict[str, Any]:
    """``{model id: count}`` as one column per model, ``<prefix><id>``."""
    return {f"{prefix}{mid}": c for mid, c in counts.items()}


def csv_text(header: Sequence[str], rows: Iterable[Mapping[str, Any]], cell: Callable[[Any], Any] = str,
             lineterminator: str = "\n") -> str:
    """The one CSV writer: ``header``, then one line per row with ``cell(row.get(column))`` per column."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator=lineterminator)
    w.writerow(header)
    for r in rows:
        w.writerow([cell(r.get(c)) for c in header])
    return buf.getvalue()


def _flat(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows with ``model_counts`` spread into ``model_counts.<id>`` columns; list values joined with ``|``."""
    keys: list[str] = []
    flat = []
    for r in rows:
        f: dict[str, Any] = {}
        for k, v in r.items():
            if k == "model_counts" and isinstance(v, Mapping):
                f.update(model_count_columns(v))
            elif isinstance(v, list | tuple):
                f[k] = "|".join(str(x) for x in v)
            else:
                f[k] = v
        for k in f:
            if k not in keys:
                keys.append(k)
        flat.append(f)
    return keys, flat


def _plain_cell(v: Any) -> Any:
    return "" if v is None else v


def rows_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Compare-style rows as CSV text (one column per key; ``model_counts`` as ``model_counts.<id>``)."""
    keys, flat = _flat(rows)
    return csv_text(keys, flat, cell=_plain_cell, lineterminator="\r\n")


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write compare-style rows as CSV (:func:`rows_csv`); atomic."""
    return write_text(path, rows_csv(rows))


# ------------------------------------------------------------------------------------------------ text


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width text table: policy, weighted accuracy, operating time, inferences, dropped, energy."""
    head = [h for _, h, _ in TABLE_COLUMNS]
    body = []
    for r in rows:
        cells = []
        for key, _, fmt in TABLE_COLUMNS:
            v = r.get(key)
            if key == "operating_time_ms" and isinstance(v, int | float):
                v = v / 1000.0
            cells.append("-" if v is None else fmt.format(v) if isinstance(v, int | float | str) else str(v))
        body.append(cells)
    widths = [max(len(head[i]), *(len(c[i]) for c in body)) if body else len(head[i]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    out = [line(head), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in body]
    return "\n".join(out + certificate_lines(rows))


def certificate_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The lines under a table whose bound row carries the oracle's certificate (none otherwise)."""
    note = next((r["oracle_note"] for r in rows if r.get("oracle_note")), None)
    if note:
        return [f"oracle: not available ({note})"]
    cert = next((r for r in rows if r.get("certified_gap") is not None), None)
    if cert is None:
        return []
    hind = cert.get("hindsight")
    hind_text = "-" if hind is None else f"{hind:.3f}"
    return [
        f"upper = min(lp {cert['weighted_accuracy']:.3f}, hindsight {hind_text}) = {cert['upper']:.3f} %",
        f"certified gap = upper - oracle {cert['oracle']:.3f} = {cert['certified_gap']:.3f} points",
    ]


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """A GitHub Markdown table of ``rows``: one column per ``(row key, header, format)``; ``-`` for None."""

    def cell(r: Mapping[str, Any], key: str, fmt: str) -> str:
        v = r.get(key)
        if v is None:
            return "-"
        text = fmt.format(v) if isinstance(v, int | float | str) else str(v)
        return text.replace("|", "\\|")

    out = ["| " + " | ".join(h for _, h, _ in columns) + " |",
           "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"]
    out += ["| " + " | ".join(cell(r, k, f) for k, _, f in columns) + " |" for r in rows]
    return "\n".join(out) + "\n"
