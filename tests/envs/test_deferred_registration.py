"""``import tinysim_gym`` registers the ids without importing gymnasium, in either import order."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = (
    "import gymnasium as gym; "
    "assert gym.spec('TinySim-v0').entry_point == 'tinysim_gym.envs.env:TinySimEnv'; "
    "assert gym.spec('tinysim/TinySim-sync1-v0').vector_entry_point.endswith(':TinySimVectorEnv')"
)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "code",
    [
        "import gymnasium, tinysim_gym; " + CHECK,  # gymnasium first: registered at once
        "import tinysim_gym; " + CHECK,  # gymnasium later: registered when it loads
        "import tinysim_gym, tinysim_gym.envs.env; " + CHECK,  # gymnasium imported by the env module
    ],
)
def test_ids_registered_in_any_import_order(code):
    res = _python(code)
    assert res.returncode == 0, res.stderr


def test_package_import_leaves_gymnasium_and_numpy_unloaded():
    res = _python("import sys, tinysim_gym, tinysim_gym.cli; print(sorted({'gymnasium', 'numpy'} & set(sys.modules)))")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_registering_twice_adds_no_finder():
    res = _python(
        "import sys, tinysim_gym\n"
        "from tinysim_gym.envs.deferred_registration import register_when_gymnasium_loads as r\n"
        "n = len(sys.meta_path); r(); r(); assert len(sys.meta_path) == n\n"
        "import gymnasium; assert len(sys.meta_path) == n - 1, 'the finder steps aside once used'\n"
    )
    assert res.returncode == 0, res.stderr
