"""Cortex-M4 footprint of exports: flash, RAM, cycles, microseconds and micro-amp-hours per decision (JSON).

Usage: ``python benchmarks/firmware.py DIR [DIR ...] [--clock-mhz 80] [--board NUCLEO-L476RG]`` (``make
firmware`` runs it on the exports it writes). Needs ``arm-none-eabi-gcc`` (``make firmware`` installs it).
"""

from __future__ import annotations

import argparse
import json

from tinysim_gym.config import load_board
from tinysim_gym.export.firmware import measure


def main() -> None:
    """Measure every export directory given and print one JSON object per line."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("dirs", nargs="+", metavar="DIR")
    p.add_argument("--clock-mhz", type=float, default=80.0, help="core clock (default 80: the L476's maximum)")
    p.add_argument("--board", default="NUCLEO-L476RG", help="board whose inference current is charged")
    args = p.parse_args()
    current = load_board(args.board).inference_current_ma
    for d in args.dirs:
        print(json.dumps(measure(d, args.clock_mhz, current)))


if __name__ == "__main__":
    main()
