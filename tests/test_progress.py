"""The progress bar: a hidden bar counts without importing tqdm, a shown one is tqdm's."""

from __future__ import annotations

import subprocess
import sys

from tinysim_gym.progress import Progress


def test_a_hidden_bar_counts_without_importing_tqdm():
    code = (
        "import sys\n"
        "from tinysim_gym.progress import Progress\n"
        "bar = Progress('runs', show=False)\n"
        "bar.update(3, total=10)\n"
        "bar.advance('a')\n"
        "bar.advance()\n"
        "bar.close()\n"
        "print('tqdm' in sys.modules, bar._bar.n)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "5"]


def test_a_shown_bar_draws_on_stderr(capsys):
    with Progress("runs", total=4, unit="run", show=True, leave=True) as bar:
        bar.advance("a")
        bar.advance("b")
    err = capsys.readouterr().err
    assert "2/4" in err and "runs" in err
