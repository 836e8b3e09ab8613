"""File guards: every way a config or trace file can be bad becomes a one-line :class:`ConfigError`.

Config files are small YAML or JSON mappings: a size limit, a strict YAML loader (a safe loader that refuses
repeated keys), and a walk that refuses NaN and infinities, self-referencing aliases, alias bombs and absurd
nesting before pydantic sees the data. Trace files are small numeric CSVs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from tinysim_gym.errors import ConfigError

MAX_FILE_BYTES = 1_000_000
"""Largest config file read, in bytes (a trace CSV may be 50 times larger)."""
MAX_NODES = 100_000
"""Most values (counting every expansion of a YAML alias) a config file may hold: stops alias bombs."""
MAX_DEPTH = 50
"""Deepest nesting of mappings and lists a config file may hold."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader, but a key repeated in one mapping is an error instead of silently overwritten.

    Built on libyaml when it is there: it is fast and refuses absurd nesting at once (the pure-Python
    parser takes seconds to run out of recursion on a file of ``[[[[...``).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<: *anchor": merged keys may be overridden, as YAML says
                key = self.construct_object(key_node, deep=deep)
                try:
                    dup = key in seen
                except TypeError:
                    continue  # unhashable: the base class reports it
                if dup:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict, with one-line errors for every way it can be bad."""
    try:
        size = path.stat().st_size
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL byte
        raise ConfigError(f"{what}: cannot read {str(path)!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if not path.is_file():
        raise ConfigError(f"{what}: {str(path)!r} is not a file")
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"{what}: {str(path)!r} is {size} bytes, larger than the limit {MAX_FILE_BYTES}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is dropped
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what}: cannot read {str(path)!r} as UTF-8 text: {exc}") from None
    if not text.strip():
        raise ConfigError(f"{what}: {str(path)!r} is empty")
    try:
        if path.suffix.lower() == ".json":
            # NaN/Infinity are reported with their field below; a repeated key is an error, not "last wins"
            data = json.loads(text, parse_constant=float, object_pairs_hook=_unique_pairs)
        else:
            data = yaml.load(text, Loader=_StrictLoader)  # a safe loader (see _StrictLoader)
    except ConfigError:
        raise
    except (yaml.YAMLError, json.JSONDecodeError, ValueError, RecursionError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise ConfigError(f"{what}: {str(path)!r} is not valid {path.suffix.lstrip('.') or 'YAML'}: {first}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what}: {str(path)!r} must hold a mapping of keys to values, got {type(data).__name__}")
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("_comment"))}
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{what}: key {bad[0]!r} is not a string")
    _check_finite(data, what)
    return data


def _check_finite(obj: Any, where: str) -> None:
    """Reject non-finite numbers, self-referencing YAML aliases, alias bombs and absurd nesting.

    The walk counts shared (aliased) values once per reference, so a small file whose aliases expand to
    millions of values fails fast here instead of hanging the validation that follows.
    """
    _walk(obj, where, 0, [0], set())


def _walk(obj: Any, where: str, depth: int, count: list[int], on_path: set[int]) -> None:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise ConfigError(f"{where[:200]}: more than {MAX_NODES} values in one file (a YAML alias bomb?)")
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ConfigError(f"{where}: {obj} is not a finite number")
    if not isinstance(obj, dict | list):
        return
    if depth >= MAX_DEPTH:
        raise ConfigError(f"{where[:200]}: nested more than {MAX_DEPTH} levels deep")
    if id(obj) in on_path:
        raise ConfigError(f"{where[:200]}: refers to itself (a recursive YAML alias)")
    on_path.add(id(obj))
    items = obj.items() if isinstance(obj, dict) else enumerate(obj)
    for k, v in items:
        _walk(v, f"{where}.{k}" if isinstance(obj, dict) else f"{where}[{k}]", depth + 1, count, on_path)
    on_path.discard(id(obj))


def read_csv_columns(path: str, what: str, columns: int) -> list[list[float]]:
    """Read the first ``columns`` numeric columns of a small CSV file (a header line is skipped).

    Raises:
        ConfigError: unreadable, too large, non-numeric, non-finite, or not non-decreasing in column 0.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
    if size > 50 * MAX_FILE_BYTES:
        raise ConfigError(f"{what}: {path!r} is {size} bytes, larger than the limit {50 * MAX_FILE_BYTES}")
    cols: list[list[float]] = [[] for _ in range(columns)]
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what}: cannot read {path!r} as UTF-8 text: {exc}") from None
    for i, line in enumerate(lines, 1):
        parts = [x.strip() for x in line.replace(";", ",").split(",")]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            vals = [float(x) for x in parts[:columns]]
        except ValueError:
            if i == 1:
                continue  # a header
            raise ConfigError(f"{what}: {path!r} line {i}: expected {columns} numbers, got {line[:60]!r}") from None
        if len(vals) < columns or not all(math.isfinite(v) for v in vals):
            raise ConfigError(f"{what}: {path!r} line {i}: expected {columns} finite numbers, got {line[:60]!r}")
        for c, v in zip(cols, vals, strict=False):
            c.append(v)
    if not cols[0]:
        raise ConfigError(f"{what}: {path!r} holds no rows")
    t = cols[0]
    if any(b < a for a, b in zip(t, t[1:], strict=False)) or t[0] < 0:
        raise ConfigError(f"{what}: {path!r}: times must be >= 0 and non-decreasing")
    return cols
