"""``tinysim plot``: the standard figures of a sweep table (``tinysim sweep`` output), as PNG.

Writes into ``--out`` (default: ``<table>_plots/`` beside the table):

* ``accuracy_vs_time.png``: weighted accuracy against operating time, one point per scenario cell and
  policy (mean over seeds, bars: standard deviation), one panel per board.
* ``best_policy.png``: a heat map of the best policy per cell (highest mean ``--metric``) over the two
  swept fields with the most values (or ``--x`` / ``--y``), one panel per board; fields not on an axis
  are averaged over.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    p = sub.add_parser("plot", help="figures of a sweep table (PNG)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", metavar="SWEEP_CSV", help="a table written by tinysim sweep")
    p.add_argument("--out", metavar="DIR", help="output directory (default: <table>_plots beside the table)")
    p.add_argument("--metric", default="weighted_accuracy", help="metric for the heat map (default: %(default)s)")
    p.add_argument("--x", metavar="COLUMN", help="heat map x axis (a scenario column of the table)")
    p.add_argument("--y", metavar="COLUMN", help="heat map y axis")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the figures and print their paths."""
    # imported here: ``tinysim --help`` builds every subcommand's parser and must not load them
    import matplotlib

    from tinysim_gym.experiments.plots import write_sweep_plots

    matplotlib.use("Agg")  # files only: never a window, whatever backend the environment prefers
    for p in write_sweep_plots(args.table, args.out, metric=args.metric, x=args.x, y=args.y):
        print(p)
    return 0
