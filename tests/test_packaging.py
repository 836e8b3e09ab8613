"""The package as a user gets it: ``python -m build`` makes an sdist and, from it, a wheel; the wheel installs
into a fresh venv and ``tinysim simulate`` runs from the installed copy, with the shipped configs.

To stay offline and fast the build runs without isolation (setuptools from the project venv), and the fresh
venv borrows the project venv's dependencies through a ``.pth`` file: the venv's own site-packages come first
on ``sys.path``, so the wheel's copy of the package shadows the project's, and the test checks it does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import tinysim_gym

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".venv", ".git", "build", "dist", "site", "runs", "out", "*.egg-info", "__pycache__",
                              ".ruff_cache", ".hypothesis", "tests", "benchmarks")


def _run(cmd, cwd, env=None, timeout=240):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, (cmd, out.stdout[-2000:], out.stderr[-2000:])
    return out.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """sdist and wheel of a copy of the source tree (~10 s), so the worktree gets no build/ or egg-info."""
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)], tmp)
    return tmp, {p.suffix: p for p in (tmp / "dist").iterdir()}


def test_build_makes_an_sdist_and_a_wheel_with_the_configs_and_py_typed(dist):
    _, files = dist
    version = tinysim_gym.__version__
    wheel, sdist = files[".whl"], files[".gz"]
    assert wheel.name.startswith(f"tinysim_gym-{version}-") and sdist.name == f"tinysim_gym-{version}.tar.gz"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tinysim_gym/py.typed" in names and "tinysim_gym/configs/zoo/ppo.yml" in names
    shipped = {f"tinysim_gym/configs/{p.relative_to(ROOT / 'configs')}" for p in (ROOT / "configs").rglob("*")
               if p.suffix in (".yaml", ".yml", ".json")}
    assert shipped <= names  # every built-in config, whatever its folder
    assert {"agents/training.py", "baselines/__init__.py", "tinysim_gym/cli/__init__.py"} <= names
    with tarfile.open(sdist) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert {"setup.cfg", "pyproject.toml", "README.md", "tinysim_gym/py.typed", "configs/zoo/ppo.yml"} <= members


def test_the_wheel_installed_in_a_fresh_venv_runs_simulate(dist, tmp_path):
    tmp, files = dist
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip())
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps", "--no-index",
          str(files[".whl"])], tmp_path)  # fmt: skip
    # the dependencies after the install: with the project's copy visible pip would call the wheel installed
    (site / "project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")
    where = _run([str(py), "-c", "import tinysim_gym, agents; print(tinysim_gym.__file__); print(agents.__file__)"],
                 tmp_path, env)  # fmt: skip
    assert all(Path(p).is_relative_to(site) for p in where.splitlines()), (where, site)  # not the source tree
    tinysim = venv / "bin" / "tinysim"
    assert _run([str(tinysim), "--version"], tmp_path, env).strip() == f"tinysim {tinysim_gym.__version__}"
    got = json.loads(_run([str(tinysim), "simulate", "--scenario", "sync_1", "--json"], tmp_path, env))
    project = str(Path(sys.executable).with_name("tinysim"))
    want = json.loads(_run([project, "simulate", "--scenario", "sync_1", "--json"], tmp_path))
    assert got == want and got
