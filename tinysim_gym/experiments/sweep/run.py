"""Running a sweep: one cell in a worker, and every unfinished cell into one table.

The table (CSV, one row per cell in expansion order) is written atomically at the end, after which the
journal is removed. The rows depend only on the cells, so the local and the Ray pools write
byte-identical tables.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinysim_gym.atomic import write_text
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.policies import DEFAULT_AGENT_RUNNER, DEFAULT_REGISTRY
from tinysim_gym.experiments.pool import check_backend, make_pool
from tinysim_gym.experiments.sweep.columns import metrics_row, scenario_row, sweep_csv
from tinysim_gym.experiments.sweep.journal import Journal, finished_in_table, journal_path
from tinysim_gym.experiments.sweep.spec import Cell, Sweep

__all__ = ["Result", "SweepReport", "run_cell", "run_sweep", "table_rows"]

Result = tuple[str, dict[str, Any] | None, str | None]  # (cell key, flat metrics, error message)


def run_cell(cell: Cell) -> Result:
    """Run one cell (in a worker) and return ``(key, flat metrics, None)`` or ``(key, None, error)``.

    An error that belongs to the cell (a policy that does not fit the scenario's model set) is recorded in
    the table's ``error`` column instead of stopping the sweep.
    """
    try:
        if cell.policy.agent is not None:
            metrics = cell.policy.run_agent(cell.scenario, cell.seed)
        else:
            engine = Engine(cell.scenario, chunk=1 << 16)
            metrics = engine.run(cell.policy.selector(engine), seed=cell.seed)
    except TinySimError as exc:
        return cell.key, None, str(exc)
    return cell.key, metrics_row(metrics), None


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


def _shipped(sweep: Sweep, ship_code: bool | Sequence[str]) -> list[str]:
    """The packages to upload to Ray workers: the named ones, or ours and those the policies come from."""
    if not ship_code:
        return []
    if not isinstance(ship_code, bool):
        return list(ship_code)
    names = ["tinysim_gym"]
    for c in sweep.cells:
        src = c.policy.source
        if src is None:
            src = DEFAULT_AGENT_RUNNER if c.policy.agent is not None else DEFAULT_REGISTRY
        module = src if isinstance(src, str) else getattr(src, "__module__", None) or type(src).__module__
        top = module.split(":")[0].split(".")[0]
        if top not in names:
            names.append(top)
    return names


def run_sweep(
    sweep: Sweep,
    out: str | os.PathLike[str],
    backend: str = "local",
    processes: int | None = None,
    address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    ship_code: bool | Sequence[str] = False,
) -> SweepReport:
    """Run every cell of ``sweep`` not yet finished, then write the table to ``out`` atomically.

    Finished cells are found in ``out`` (an earlier complete run) and in its journal (an interrupted one).
    Each newly finished cell is journalled at once, so an interrupt or a kill loses none.

    Args:
        sweep: from :func:`~tinysim_gym.experiments.sweep.spec.load_sweep`.
        out: the CSV table to write.
        backend: ``local`` (process pool) or ``ray``.
        processes: local worker processes, or the CPUs of a local Ray instance (default: all CPUs).
        address: a running Ray cluster (``--backend ray`` only).
        progress: called as ``progress(finished, total)``.
        ship_code: with Ray, upload packages to the workers: the named top-level packages, or (``True``)
            ``tinysim_gym`` and the packages the sweep's policies come from.
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
        done = finished_in_table(out_path, wanted)
        done.update({k: v for k, v in from_journal.items() if k in wanted})
        reused = len(done)
        todo = [c for c in sweep.cells if c.key not in done]
        total = len(sweep.cells)
        if progress is not None:
            progress(len(done), total)
        if todo:
            pool = make_pool(backend, processes, address, _shipped(sweep, ship_code) if backend == "ray" else ())
            desc = pool.describe()
            try:
                with contextlib.closing(pool.imap(run_cell, todo)) as results:
                    for key, metrics, error in results:
                        done[key] = (metrics or {}, error)
                        journal.append(key, metrics, error)
                        ran += 1
                        errors += error is not None
                        if progress is not None:
                            progress(len(done), total)
            finally:
                journal.sync()
                pool.close()
        errors = sum(1 for k in wanted if done[k][1] is not None)
        write_text(out_path, sweep_csv(table_rows(sweep.cells, done)))
    finally:
        journal.close()
    with contextlib.suppress(OSError):
        journal.path.unlink()
    return SweepReport(sweep.name, str(out_path), len(sweep.cells), ran, reused, errors,
                       time.perf_counter() - t0, desc)
