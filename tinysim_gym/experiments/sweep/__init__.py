"""Sweeps: a declarative grid of scenarios x policies x seeds, run on local processes or on Ray, into one table.

The rooms, in the order data flows through them:

* :mod:`~tinysim_gym.experiments.sweep.spec`: the sweep file, the grid and its cells (:func:`load_sweep`).
* :mod:`~tinysim_gym.experiments.sweep.columns`: the table's columns and how values are written.
* :mod:`~tinysim_gym.experiments.sweep.run`: one cell in a worker, and the whole sweep (:func:`run_sweep`).
* :mod:`~tinysim_gym.experiments.sweep.journal`: finished cells of a running (or killed) sweep, and of the
  table an earlier run wrote, so that a rerun resumes.
* :mod:`~tinysim_gym.experiments.sweep.training`: several training jobs in parallel
  (:func:`run_training_cells`).
"""

from tinysim_gym.experiments.sweep.columns import SCENARIO_COLUMNS, metrics_row, scenario_row, sweep_csv
from tinysim_gym.experiments.sweep.journal import Journal, journal_path, read_table
from tinysim_gym.experiments.sweep.run import SweepReport, run_cell, run_sweep
from tinysim_gym.experiments.sweep.spec import Cell, Policy, Sweep, grid_values, load_sweep
from tinysim_gym.experiments.sweep.training import run_training_cells

__all__ = ["SCENARIO_COLUMNS", "Cell", "Journal", "Policy", "Sweep", "SweepReport", "grid_values", "journal_path",
           "load_sweep", "metrics_row", "read_table", "run_cell", "run_sweep", "run_training_cells", "scenario_row",
           "sweep_csv"]
