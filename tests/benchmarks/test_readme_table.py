"""The README's speed table comes from make bench's JSON: figures, goals and verdicts, nothing else."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_figure_verdicts_follow_the_direction_of_the_goal():
    goals = _load("goals")
    assert goals.figure(0.3, 0.4, "s")["met"] is True
    assert goals.figure(0.5, 0.4, "s")["met"] is False
    assert goals.figure(3.9, 4.0, "x", higher_is_better=True)["met"] is False
    assert goals.figure(5.2e6, 5e6, "decisions/s", higher_is_better=True) == {
        "value": 5200000, "goal": 5e6, "unit": "decisions/s", "met": True, "better": "higher"}


def test_table_reads_every_object_between_make_lines():
    rt, goals = _load("readme_table"), _load("goals")
    a = {"benchmark": "cli_start", "figures": {"tinysim --help": goals.figure(0.05, 0.2, "s")}}
    b = {"benchmark": "env_step", "figures": {"ratio": goals.figure(2.5, 4.0, "x", higher_is_better=True)}}
    text = "\n".join(["rm -rf build", json.dumps(a, indent=2), ".venv/bin/python x.py", json.dumps({"no": 1}),
                      json.dumps(b)])
    assert rt.table(list(rt.objects(text))).splitlines() == [
        "| benchmark | figure | measured | goal | met |",
        "|---|---|---|---|---|",
        "| cli_start | tinysim --help | 0.05 s | ≤ 0.2 s | yes |",
        "| env_step | ratio | 2.5x | ≥ 4x | no |",
    ]
