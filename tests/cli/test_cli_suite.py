"""``tinysim suite``: list, run and train from the command line; bad input is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.suite_tasks import tiny_tasks  # noqa: F401  (a fixture)
from tinysim_gym.config.suite import task_names
from tinysim_gym.experiments.suite.leaderboard import COLUMNS


def _tinysim(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from tinysim_gym.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600)


def test_list_json_names_every_task() -> None:
    res = _tinysim("suite", "list", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert sorted(r["task"] for r in rows) == task_names()
    assert all(set(r) == {"task", "env_id", "scenario", "description"} for r in rows)
    assert all(r["env_id"].startswith("tinysim/TinySim-") and r["env_id"].endswith("-v0") for r in rows)


def test_run_json_rows_for_two_tiny_tasks(tmp_path, tiny_tasks) -> None:  # noqa: F811
    res = _tinysim("suite", "run", "--tasks", ",".join(tiny_tasks), "--policies", "budget,random", "--seeds", "2",
                   "--processes", "2", "--json", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [(r["task"], r["policy"]) for r in rows] == [
        (t, p) for t in ("tiny-pace", "tiny-load") for p in ("budget", "random", "oracle", "upper")]
    assert all(set(COLUMNS) <= set(r) and r["seed_count"] == 2 for r in rows)
    assert {p.name for p in tmp_path.iterdir()} == {"leaderboard.md", "leaderboard.csv", "leaderboard.png"}


@pytest.mark.parametrize(("args", "what"), [
    (["suite", "run", "--seeds", "0"], "--seeds"),
    (["suite", "run", "--tasks", "no-such-task"], "unknown task"),
    (["suite", "run", "--agents", "/no/such/dir", "--tasks", "pacing"], "--agents"),
    (["suite", "train", "--seeds", "0"], "--seeds"),
    (["suite", "frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line(args: list[str], what: str) -> None:
    res = _tinysim(*args)
    assert res.returncode == 2 and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1 and what in res.stderr, res.stderr
