"""Config loaders: built-in names (from any directory, also from a built wheel), files, mappings, overrides."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support import ROOT
from tinysim_gym.config import (
    BoardConfig,
    ScenarioConfig,
    builtin_names,
    builtin_root,
    load_board,
    load_profile,
    load_scenario,
    read_mapping,
)
from tinysim_gym.errors import ConfigError

# The original TinySimulator's board and profile data, copied here so that the tests need nothing outside
# the repository.
ORIGINAL_BOARDS = {
    "NUCLEO-H743ZI2": (165, 3.15),
    "NUCLEO-L476RG": (10.7, 0.00118),
    "STM32F469I-DISCO": (103, 0.63),
    "STM32F769I-DISCO": (193, 0.55),
    "STM32H747I-DISCO": (247, 3.07),
    "STM32L4R9I-DISCO": (18.5, 0.00355),
}
_STREAM_IDS = ("S", "M", "L", "VL")
_STREAM_ACC = (96.84, 96.57, 99.03, 99.28)
ORIGINAL_PROFILES = {
    "mnist_stream_b1": (0.3, list(zip(_STREAM_IDS, _STREAM_ACC, (0.8, 1.4, 34.5, 373.1), strict=True))),
    "mnist_stream_b2": (0.6, list(zip(_STREAM_IDS, _STREAM_ACC, (1.3, 2.5, 54.2, 566.9), strict=True))),
    "mnist_stream_b3": (0.1, list(zip(_STREAM_IDS, _STREAM_ACC, (0.2, 0.4, 7.3, 75.0), strict=True))),
    "mnist_stream_b4": (0.1, list(zip(_STREAM_IDS, _STREAM_ACC, (0.2, 0.4, 8.6, 89.1), strict=True))),
    "mnist_stream_b5": (0.2, list(zip(_STREAM_IDS, _STREAM_ACC, (0.4, 0.8, 16.0, 166.0), strict=True))),
    "mnist_tova": (0.626, [(0, 91.71, 3.92), (1, 83.8, 0.39), (2, 88.47, 0.79), (3, 90.11, 1.18), (4, 90.93, 1.57),
                           (5, 91.31, 1.96), (6, 91.52, 2.35), (7, 91.62, 2.75), (8, 91.7, 3.14), (9, 91.72, 3.53)]),
    "usps_tova": (0.626, [(0, 94.08, 1.67), (1, 87.5, 0.16), (2, 91.07, 0.33), (3, 92.35, 0.5), (4, 92.91, 0.67),
                          (5, 93.32, 0.83), (6, 93.61, 1.0), (7, 93.86, 1.17), (8, 93.99, 1.34), (9, 94.07, 1.5)]),
}
# spec table: case -> (mode, min interval ms, selector)
PUBLISHED_CASES = {
    "sync_1": ("sync", 3, "reference"), "sync_2": ("sync", 3, "fuzzy"), "async_1": ("async", 2, "reference"),
    "async_2": ("async", 2, "fuzzy"), "async_3": ("async", 1, "reference"), "async_4": ("async", 1, "fuzzy"),
    "acc_first": ("sync", 3, "accuracy-first"), "lat_first": ("sync", 3, "latency-first"),
}


# ------------------------------------------------------------------ built-ins


def test_builtin_boards_equal_the_original_data():
    assert set(builtin_names("boards")) >= set(ORIGINAL_BOARDS)
    for name, (inf, idle) in ORIGINAL_BOARDS.items():
        b = load_board(name)
        assert (b.name, b.inference_current_ma, b.idle_current_ma) == (name, inf, idle)


def test_builtin_profiles_equal_the_original_data():
    assert set(builtin_names("profiles")) >= set(ORIGINAL_PROFILES)
    for name, (sel, models) in ORIGINAL_PROFILES.items():
        p = load_profile(name)
        assert p.selector_latency_ms == sel
        assert [(m.id, m.accuracy, m.latency_ms) for m in p.models] == models
        assert p.fuzzy_variant == ("stream" if "stream" in name else "tova")
        assert p.total_latencies_ms == [m[2] + sel for m in models]


def test_published_scenarios_are_named_as_in_the_spec():
    for case, (mode, interval, selector) in PUBLISHED_CASES.items():
        sc = load_scenario(case)
        assert sc.name == case
        assert sc.seed_compat is True
        assert (sc.board.name, sc.profile.name) == ("NUCLEO-L476RG", "usps_tova")
        assert (sc.workload.mode, sc.workload.min_interval_ms, sc.workload.timebase_ms) == (mode, interval, 0.01)
        assert (sc.workload.buffer_size, sc.workload.arrival_probability) == (6, 0.5)
        assert (sc.battery.capacity_mah, sc.battery.initial_soc) == (1.0, 1.0)
        assert sc.horizon_ms is None
        assert (sc.selector or "").startswith(selector)


def test_every_builtin_config_loads():
    for kind, loader in (("boards", load_board), ("profiles", load_profile), ("scenarios", load_scenario)):
        names = builtin_names(kind)
        assert names, kind
        for name in names:
            assert loader(name).name == name


def test_builtin_root_is_the_package_data_or_the_checkout():
    root = builtin_root()
    assert (root / "boards" / "NUCLEO-L476RG.yaml").is_file()
    assert builtin_names("nonexistent-kind") == []


def test_builtin_names_resolve_from_any_working_directory(tmp_path):
    """A subprocess in an unrelated directory (holding decoy folders named like the config kinds)."""
    for kind in ("boards", "profiles", "scenarios", "configs"):
        (tmp_path / kind).mkdir()
    (tmp_path / "boards" / "NUCLEO-L476RG.yaml").write_text("inference_current_ma: 1\nidle_current_ma: 1\n")
    code = (
        "import json\nfrom tinysim_gym.config import load_board, load_profile, load_scenario, builtin_names\n"
        "print(json.dumps({'boards': builtin_names('boards'), 'board': load_board('NUCLEO-L476RG').model_dump(),"
        " 'profile': load_profile('usps_tova').name, 'scenario': load_scenario('sync_1').model_dump(mode='json')}))"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["board"]["inference_current_ma"] == 10.7  # the built-in, not the decoy in ./boards
    assert out["profile"] == "usps_tova"
    assert out["scenario"] == load_scenario("sync_1").model_dump(mode="json")
    tinysim = Path(sys.executable).with_name("tinysim")
    res = subprocess.run([str(tinysim), "simulate", "--scenario", "lat_first", "--battery-mah", "0.01", "--json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["scenario"] == "lat_first"


def test_builtins_ship_in_the_wheel_and_resolve_from_an_installed_copy(tmp_path):
    """A non-editable install: build the wheel from a copy of the sources, unpack it, import from there."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    for pkg in ("tinysim_gym", "baselines", "agents", "configs"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=ignore)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "dist")], cwd=src, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for kind, want in (("boards", ORIGINAL_BOARDS), ("profiles", ORIGINAL_PROFILES), ("scenarios", PUBLISHED_CASES)):
        for name in want:
            assert f"tinysim_gym/configs/{kind}/{name}.yaml" in names, (kind, name)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import tinysim_gym.config as c\nprint(c.__file__)\nprint(c.builtin_root())\n"
            "print(c.load_scenario('async_2').profile.name, len(c.builtin_names('boards')))")
    env = {**os.environ, "PYTHONPATH": str(site)}
    res = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    file, root, last = res.stdout.strip().splitlines()
    assert file.startswith(str(site)) and root.startswith(str(site)), res.stdout
    assert last == f"usps_tova {len(builtin_names('boards'))}"  # every board shipped, the original ones and more


# ------------------------------------------------------------------ files and mappings


def test_yaml_file_and_inline_mapping_give_the_same_config(tmp_path):
    doc = {"name": "mine", "board": "NUCLEO-L476RG", "profile": "mnist_tova",
           "workload": {"mode": "async", "min_interval_ms": 5, "buffer_size": 3},
           "battery": {"capacity_mah": 0.5, "initial_soc": 0.8}, "horizon_ms": 1000}
    p = tmp_path / "mine.yaml"
    p.write_text(json.dumps(doc))  # JSON is YAML
    a, b = load_scenario(str(p)), load_scenario(doc)
    assert a == b
    assert a.workload.arrival_probability == 0.5 and a.workload.timebase_ms == 0.01 and a.seed_compat is False


def test_scenario_name_defaults_to_the_file_stem(tmp_path):
    p = tmp_path / "night-shift.yaml"
    p.write_text("board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2}\n"
                 "battery: {capacity_mah: 1}\n")
    assert load_scenario(str(p)).name == "night-shift"
    assert load_board({"inference_current_ma": 1, "idle_current_ma": 0}).name == "board"


def test_board_and_profile_paths_inside_a_scenario_resolve_beside_it(tmp_path, monkeypatch):
    d = tmp_path / "project"
    (d / "hw").mkdir(parents=True)
    (d / "hw" / "myboard.yaml").write_text("inference_current_ma: 42\nidle_current_ma: 0.5\n")
    (d / "models.json").write_text('{"selector_latency": 0.1, "models": [{"id": "a", "training_accuracy": 80, '
                                   '"latency": 1}]}')
    (d / "sc.yaml").write_text("board: hw/myboard.yaml\nprofile: ./models.json\nworkload: {min_interval_ms: 2}\n"
                               "battery: {capacity_mah: 1}\n")
    monkeypatch.chdir(tmp_path)  # not the scenario's directory
    sc = load_scenario(str(d / "sc.yaml"))
    assert (sc.board.name, sc.board.inference_current_ma) == ("myboard", 42.0)
    assert sc.profile.models[0].id == "a"


def test_yaml_merge_keys_allowed_duplicate_keys_refused(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text("<<: {inference_current_ma: 1, idle_current_ma: 2}\nidle_current_ma: 3\n")
    b = load_board(str(p))
    assert (b.inference_current_ma, b.idle_current_ma) == (1.0, 3.0)
    p.write_text("inference_current_ma: 1\nidle_current_ma: 2\ninference_current_ma: 5\n")
    with pytest.raises(ConfigError, match="duplicate key 'inference_current_ma'"):
        load_board(str(p))


def test_comment_keys_dropped_at_the_top_level_only(tmp_path):
    p = tmp_path / "b.json"
    p.write_text('{"_comment": "x", "_comment99": 1, "avg_infer_energy_cons": 1, "avg_idle_energy_cons": 0}')
    assert read_mapping(p, "board") == {"avg_infer_energy_cons": 1, "avg_idle_energy_cons": 0}
    assert load_board(str(p)).inference_current_ma == 1.0


def test_strict_types():
    ok = {"inference_current_ma": 5, "idle_current_ma": 0}  # ints are fine for floats
    assert load_board(ok).inference_current_ma == 5.0
    for bad in ("5", True, None, [5], float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="board.inference_current_ma"):
            load_board({**ok, "inference_current_ma": bad})
    with pytest.raises(ConfigError, match="scenario.workload.buffer_size"):
        load_scenario("async_1", workload={"buffer_size": 2.0})


def test_configs_are_immutable():
    b = load_board("NUCLEO-L476RG")
    with pytest.raises(ValidationError):
        b.inference_current_ma = 1.0  # type: ignore[misc]
    assert load_board(b) is b
    sc = load_scenario("sync_1")
    assert load_scenario(sc) is sc
    assert isinstance(sc, ScenarioConfig) and isinstance(sc.board, BoardConfig)


def test_unknown_names_suggest_close_ones():
    with pytest.raises(ConfigError, match=r"did you mean usps_tova"):
        load_profile("usps_tov")
    with pytest.raises(ConfigError, match=r"did you mean STM32F469I-DISCO"):
        load_board("STM32F469I")
    with pytest.raises(ConfigError, match=r"unknown scenario 'zzz'.*built-in: .*sync_1"):
        load_scenario("zzz")


# ------------------------------------------------------------------ overrides


def test_overrides_merge_into_nested_sections():
    sc = load_scenario("sync_1", battery={"capacity_mah": 0.5})
    assert (sc.battery.capacity_mah, sc.battery.initial_soc) == (0.5, 1.0)
    assert sc.workload == load_scenario("sync_1").workload
    sc = load_scenario("sync_1", workload={"mode": "async", "min_interval_ms": 1.5}, seed_compat=False)
    assert (sc.workload.mode, sc.workload.min_interval_ms, sc.workload.buffer_size) == ("async", 1.5, 6)
    assert sc.seed_compat is False


def test_overrides_replace_board_and_profile_by_name_or_mapping():
    sc = load_scenario("async_1", board="STM32L4R9I-DISCO", profile="mnist_tova")
    assert (sc.board.name, sc.profile.name) == ("STM32L4R9I-DISCO", "mnist_tova")
    sc = load_scenario("async_1", board={"inference_current_ma": 7, "idle_current_ma": 0.1})
    assert sc.board.inference_current_ma == 7.0


def test_none_overrides_are_ignored_and_configs_accept_overrides():
    base = load_scenario("async_3")
    assert load_scenario("async_3", horizon_ms=None, battery=None) == base
    again = load_scenario(base, horizon_ms=500.0)
    assert again.horizon_ms == 500.0 and again.name == "async_3" and base.horizon_ms is None


def test_overrides_are_validated():
    with pytest.raises(ConfigError, match="scenario.battery.capacity_mah"):
        load_scenario("sync_1", battery={"capacity_mah": -1})
    with pytest.raises(ConfigError, match="min_interval_ms"):
        load_scenario("sync_1", workload={"min_interval_ms": 2.0})  # shorter than the slowest model in sync mode
    with pytest.raises(ConfigError, match="scenario.workload.colour"):
        load_scenario("sync_1", workload={"colour": "red"})
    with pytest.raises(ConfigError, match="scenario.battery"):
        load_scenario("sync_1", battery=5)


def test_missing_sections_are_named():
    for key in ("board", "profile", "workload", "battery"):
        doc = {"board": "NUCLEO-L476RG", "profile": "usps_tova", "workload": {"min_interval_ms": 2},
               "battery": {"capacity_mah": 1}}
        del doc[key]
        with pytest.raises(ConfigError, match=f"scenario.{key}"):
            load_scenario(doc)


def test_latency_of_half_a_tick_is_refused():
    """The original's round() makes a latency of exactly half a tick 0 ticks: a free, endless inference."""
    prof = {"models": [{"id": 0, "accuracy": 90, "latency_ms": 0.005}]}
    doc = {"board": "NUCLEO-L476RG", "profile": prof, "workload": {"min_interval_ms": 1},
           "battery": {"capacity_mah": 1e-4}}
    for seed in (True, False):
        with pytest.raises(ConfigError, match=r"profile.models\[0\].latency_ms"):
            load_scenario({**doc, "seed_compat": seed})
    prof["models"][0]["latency_ms"] = 0.00501
    assert load_scenario(doc).profile.total_latencies_ms == [0.00501]
