"""The README's speed table from the output of ``make bench`` (JSON objects, one after another).

Usage: ``make bench | tee bench.json; python benchmarks/readme_table.py bench.json`` (or from stdin).
Prints a Markdown table: each figure of each benchmark with its goal and whether it is met. Objects
without ``"figures"`` (and any text between the objects) are skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any


def objects(text: str) -> Iterator[dict[str, Any]]:
    """Every top-level JSON object in ``text`` (make's own lines between them are skipped)."""
    decoder = json.JSONDecoder()
    i = 0
    while True:
        i = text.find("{", i)
        if i < 0:
            return
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i += 1
            continue
        if isinstance(obj, dict):
            yield obj
        i = end


def shown(value: float, unit: str) -> str:
    """A figure with its unit, big counts in millions."""
    if unit == "decisions/s":
        return f"{value / 1e6:.2f} M/s"
    if unit == "fraction":
        return f"{100 * value:.3g} %"
    if unit == "x":
        return f"{value:g}x"
    return f"{value:g} {unit}"


def table(bench: list[dict[str, Any]]) -> str:
    """The Markdown table of every figure."""
    rows = ["| benchmark | figure | measured | goal | met |", "|---|---|---|---|---|"]
    for obj in bench:
        for name, f in obj.get("figures", {}).items():
            goal = ("≥ " if f["better"] == "higher" else "≤ ") + shown(f["goal"], f["unit"])
            rows.append(f"| {obj.get('benchmark', '?')} | {name} | {shown(f['value'], f['unit'])} | {goal} | "
                        f"{'yes' if f['met'] else 'no'} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", nargs="?", help="the saved output of make bench (default: stdin)")
    args = p.parse_args(argv)
    if args.file:
        with open(args.file, encoding="utf-8") as fh:
            text = fh.read()
    else:
        text = sys.stdin.read()
    print(table(list(objects(text))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
