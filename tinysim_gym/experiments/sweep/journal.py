"""What a sweep has finished: the journal of a running sweep, and the table of an earlier one.

Results are appended to a journal beside the output (``<out>.journal.jsonl``, one line per finished cell,
flushed at once and fsync'ed at least every second), so a killed sweep loses no finished cell; a rerun
skips the cells already in the journal or in the existing table (:func:`finished_in_table`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from tinysim_gym.config.guards import MAX_FILE_BYTES, read_regular_text
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.sweep.columns import PREFIX, SCENARIO_COLUMNS
from tinysim_gym.experiments.sweep.spec import Cell
from tinysim_gym.experiments.table import canonical_json

__all__ = ["Finished", "Journal", "finished_in_table", "journal_path", "read_table"]

#: the largest table read back (a sweep of about a million cells)
MAX_TABLE_BYTES = 500 * MAX_FILE_BYTES
#: cell key -> (flat metrics, error message or None)
Finished = dict[str, tuple[dict[str, Any], str | None]]


def journal_path(out: str | os.PathLike[str]) -> Path:
    """Where the finished cells of a running sweep are recorded: ``<out>.journal.jsonl``."""
    p = Path(out)
    return p.with_name(p.name + ".journal.jsonl")


class Journal:
    """An append-only record of finished cells (one JSON line each), locked against a second writer."""

    def __init__(self, path: Path, fsync_every_s: float = 1.0) -> None:
        self.path = path
        self.fsync_every_s = fsync_every_s
        self._f: IO[str] | None = None
        self._synced = time.monotonic()

    def open(self) -> Finished:
        """Open (and lock) the journal; return the cells it already holds (a torn last line is ignored)."""
        import fcntl  # POSIX only: imported here so that reading tables works everywhere

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a+", encoding="utf-8")  # kept open (and locked) until close()
        if not stat.S_ISREG(os.fstat(self._f.fileno()).st_mode):  # a FIFO would block the read below
            self._f.close()
            self._f = None
            raise TinySimError(f"sweep: the journal {str(self.path)!r} is not a regular file; remove it")
        try:
            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._f.close()
            self._f = None
            raise TinySimError(f"sweep: another sweep is writing {str(self.path)!r}; wait for it or stop it") from None
        self._f.seek(0)
        text = self._f.read()
        found: Finished = {}
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
        if self._f is None:
            raise TinySimError(f"sweep: the journal {str(self.path)!r} is not open")
        try:
            self._f.write(canonical_json({"key": key, "metrics": metrics, "error": error}) + "\n")
            self._f.flush()
        except OSError as exc:  # a full disk: the error names the journal, not just the reason
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None
        if time.monotonic() - self._synced >= self.fsync_every_s:
            self.sync()

    def sync(self) -> None:
        """Force the journal to disk."""
        if self._f is not None:
            try:
                self._f.flush()
                os.fsync(self._f.fileno())
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(self.path)) from None
            self._synced = time.monotonic()

    def close(self) -> None:
        """Sync, unlock and close (an error here follows one already reported, or the table was written)."""
        if self._f is not None:
            with contextlib.suppress(OSError):
                self.sync()
            with contextlib.suppress(OSError):
                self._f.close()
            self._f = None


def read_table(path: str | os.PathLike[str], what: str = "table") -> tuple[list[str], list[dict[str, str]]]:
    """Read a sweep table (CSV) as its header and rows of strings.

    Args:
        path: the CSV file (a regular file of at most :data:`MAX_TABLE_BYTES`).
        what: what the file is, the start of an error message (``--out`` for a sweep's own table).

    Raises:
        TinySimError: unreadable, not a regular file, too large, or not a CSV with a header.
    """
    p = Path(path)
    text = read_regular_text(p, what, MAX_TABLE_BYTES)
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise TinySimError(f"{str(p)!r} is empty or not a CSV table")
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise TinySimError(f"{str(p)!r} is not a valid CSV table: {exc}") from None
    return list(reader.fieldnames), rows


def finished_in_table(path: Path, wanted: Mapping[str, Cell]) -> Finished:
    """The cells of ``wanted`` that an existing table at ``path`` already holds (none if it does not exist)."""
    if not path.exists():
        return {}
    header, rows = read_table(path, "--out")
    if "cell" not in header:
        raise TinySimError(f"--out: {str(path)!r} exists and is not a sweep table (no 'cell' column); "
                           "refusing to overwrite it")
    skip = set(PREFIX) | set(SCENARIO_COLUMNS) | {"error"}
    found: Finished = {}
    for row in rows:
        key = row.get("cell") or ""
        if key in wanted:
            found[key] = ({k: v for k, v in row.items() if k not in skip and k and v not in ("", None)},
                          row.get("error") or None)
    return found
