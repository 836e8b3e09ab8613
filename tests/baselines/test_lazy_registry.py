"""The registry names its classes as ``"module:class"``: each resolves, and only what is made gets imported."""

from __future__ import annotations

import inspect
import subprocess
import sys

import baselines
from baselines.original import StaticSelector
from tinysim_gym.optimal.selector import OracleSelector


def test_every_entry_names_a_class_with_a_select():
    entries = {**baselines._REGISTRY, **baselines._SOLVED}
    for name, (where, _, _) in entries.items():
        factory = baselines._factory(where)
        assert inspect.isclass(factory), name
        assert callable(getattr(factory, "select", None)), name
    assert baselines._factory(baselines._REGISTRY["reference"][0]) is StaticSelector
    assert baselines._factory(baselines._SOLVED["oracle"][0]) is OracleSelector


def test_making_one_heuristic_imports_neither_the_others_nor_the_optimal_room():
    code = (
        "import sys, baselines\n"
        "baselines.make('reference', 'sync_1')\n"
        "print(sorted(m for m in ('baselines.budget', 'baselines.energy', 'tinysim_gym.optimal.selector',"
        " 'tinysim_gym.optimal.dp') if m in sys.modules))\n"
        "baselines.make('budget', 'sync_1')\n"
        "print('baselines.budget' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["[]", "True"]
