"""The documentation site builds strictly (as ``make docs``), its catalogue lists every built-in config from
the files themselves, its API pages come from the docstrings, and the tutorial script runs end to end."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.executable).with_name("mkdocs")


def _run(cmd, cwd, env=None, timeout=240):
    out = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                         timeout=timeout)  # fmt: skip
    assert out.returncode == 0, (cmd, out.stdout[-3000:], out.stderr[-3000:])
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """``mkdocs build --strict`` into a temporary directory (~6 s)."""
    out = tmp_path_factory.mktemp("site")
    _run([str(MKDOCS), "build", "--strict", "--quiet", "--site-dir", str(out)], ROOT, {"NO_MKDOCS_2_WARNING": "1"})
    return out


def _hook():
    spec = importlib.util.spec_from_file_location("catalogue_hook", ROOT / "docs" / "hooks" / "catalogue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_site_builds_strictly_with_every_page_of_the_nav(site):
    nav = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.UnsafeLoader)["nav"]
    for entry in nav:
        (page,) = entry.values()
        html = site / ("index.html" if page == "index.md" else page.removesuffix(".md") + "/index.html")
        assert html.is_file(), page


def test_the_catalogue_lists_every_built_in_config(site):
    html = (site / "catalogue" / "index.html").read_text()
    for kind in ("boards", "profiles", "scenarios"):
        for path in (ROOT / "configs" / kind).glob("*.yaml"):
            assert f"<td>{path.stem}</td>" in html, (kind, path.stem)


def test_the_env_reference_comes_from_the_docstrings(site):
    from tinysim_gym.envs.env import TinySimEnv

    html = (site / "reference" / "env" / "index.html").read_text()
    first = TinySimEnv.__doc__.strip().splitlines()[0].split("``")[0].strip()
    assert "TinySimVectorEnv" in html and first[:40] in html


def test_a_new_config_file_appears_in_the_catalogue_without_an_edit(tmp_path, monkeypatch):
    from tinysim_gym import builtin
    from tinysim_gym.config import loading

    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    (configs / "boards" / "NEW-BOARD.yaml").write_text(
        "name: NEW-BOARD\ninference_current_ma: 4.5\nidle_current_ma: 0.002\nram_kb: 320\n")
    monkeypatch.setattr(loading, "builtin_root", lambda: configs)
    monkeypatch.setattr(builtin, "builtin_root", lambda: configs)
    table = _hook().boards_table().splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    row = next(r for r in table if r.startswith("| NEW-BOARD |"))
    cells = dict(zip(header, (c.strip() for c in row.strip("|").split("|")), strict=True))
    assert {k: cells[k] for k in ("inference_current_ma", "idle_current_ma", "ram_kb")} == {
        "inference_current_ma": "4.5", "idle_current_ma": "0.002", "ram_kb": "320"}
    assert len(table) == 2 + len(list(configs.glob("boards/*.yaml")))


def test_the_tutorial_runs_end_to_end(tmp_path):
    # a tiny training budget: the script's cells in one process (~20 s on a shared machine, torch's import)
    out = _run([sys.executable, str(ROOT / "docs" / "tutorials" / "first_steps.py")], tmp_path,
               {"TUTORIAL_BUDGET": "512", "MPLBACKEND": "Agg"})  # fmt: skip
    lines = out.stdout.splitlines()
    assert lines[0].startswith("usps-l476-async-horizon: LP bound") and lines[-1].startswith("PPO after 512 steps")
