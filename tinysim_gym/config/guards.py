"""File guards: every way a config or trace file can be bad becomes a one-line :class:`ConfigError`.

Config files are small YAML or JSON mappings: a size limit, a strict YAML loader (a safe loader that refuses
repeated keys), and a walk that refuses NaN and infinities, self-referencing aliases, alias bombs and absurd
nesting before pydantic sees the data. Trace files are small numeric CSVs.

Every input file is read through :func:`read_regular`: only a regular file is read (a FIFO, a device such
as ``/dev/zero``, a socket or a directory is refused at once, never waited on or read without end), and
never more than a limit. Messages name the file, the line and the problem, never the file's content: a path
pointed at the wrong file (``/etc/passwd``) must not print a line of it.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from tinysim_gym.errors import ConfigError

MAX_FILE_BYTES = 1_000_000
"""Largest config file read, in bytes (a trace CSV may be 50 times larger)."""
MAX_TRACE_BYTES = 50 * MAX_FILE_BYTES
"""Largest trace CSV read, in bytes."""
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


def _reason(exc: BaseException) -> str:
    """The OS's reason for a failed open or read (``No such file or directory``), without the path."""
    return getattr(exc, "strerror", None) or type(exc).__name__


def read_regular(path: str | os.PathLike[str], what: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them: the one way input files are opened.

    The file is opened without blocking (a FIFO opens at once instead of waiting for a writer) and checked
    on the open descriptor (no race between a check and the open); at most ``limit + 1`` bytes are read, so
    a file that grows, or lies about its size, is still bounded.

    Args:
        path: the file.
        what: what the file is (``board``, ``workload.trace``, ``--out``), the start of every message.
        limit: the largest size accepted, in bytes.

    Raises:
        ConfigError: missing or unreadable; not a regular file (FIFO, device, socket, directory); too large.
    """
    shown = repr(str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL byte
        raise ConfigError(f"{what}: cannot read {shown}: {_reason(exc) if isinstance(exc, OSError) else exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{what}: {shown} is not a file (a FIFO, device or directory: only regular "
                              "files are read)")
        if st.st_size > limit:
            raise ConfigError(f"{what}: {shown} is {st.st_size} bytes, larger than the limit {limit}")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {shown}: {_reason(exc)}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ConfigError(f"{what}: {shown} is larger than the limit {limit} bytes")
    return data


def read_regular_text(path: str | os.PathLike[str], what: str, limit: int = MAX_FILE_BYTES,
                      encoding: str = "utf-8") -> str:
    """:func:`read_regular`, decoded; a decoding error names the byte offset, never the bytes."""
    data = read_regular(path, what, limit)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{what}: {str(path)!r} is not UTF-8 text (line {line}, byte {exc.start})") from None


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict, with one-line errors for every way it can be bad."""
    text = read_regular_text(path, what, encoding="utf-8-sig")  # a byte-order mark (Windows editors) is dropped
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
        first = " ".join(_parse_problem(exc).split())[:200]
        raise ConfigError(f"{what}: {str(path)!r} is not valid {path.suffix.lstrip('.') or 'YAML'}: {first}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what}: {str(path)!r} must hold a mapping of keys to values, got {type(data).__name__}")
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("_comment"))}
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{what}: key {bad[0]!r} is not a string")
    _check_finite(data, what)
    return data


def _parse_problem(exc: BaseException) -> str:
    """What a parser found wrong and where (line, column), without the snippet of the file a parser may quote."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        return where + str(exc.problem or exc.context or type(exc).__name__)
    return str(exc)


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
    cols: list[list[float]] = [[] for _ in range(columns)]
    lines = read_regular_text(path, what, MAX_TRACE_BYTES).splitlines()
    for i, line in enumerate(lines, 1):
        parts = [x.strip() for x in line.replace(";", ",").split(",")]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            vals = [float(x) for x in parts[:columns]]
        except ValueError:
            if i == 1:
                continue  # a header
            # the line itself is not shown: a trace path pointed at the wrong file must not print it
            raise ConfigError(f"{what}: {path!r} line {i}: expected {columns} number{'s' if columns > 1 else ''} "
                              "separated by commas, got text that is not a number") from None
        if len(vals) < columns:
            raise ConfigError(f"{what}: {path!r} line {i}: expected {columns} numbers, got {len(vals)}")
        if not all(math.isfinite(v) for v in vals):
            raise ConfigError(f"{what}: {path!r} line {i}: expected finite numbers, got NaN or an infinity")
        for c, v in zip(cols, vals, strict=False):
            c.append(v)
    if not cols[0]:
        raise ConfigError(f"{what}: {path!r} holds no rows")
    t = cols[0]
    if any(b < a for a, b in zip(t, t[1:], strict=False)) or t[0] < 0:
        raise ConfigError(f"{what}: {path!r}: times must be >= 0 and non-decreasing")
    return cols
