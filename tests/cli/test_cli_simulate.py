"""``tinysim simulate``: flags, the original's spelling, ``--json`` keys and the readable table."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from baselines.original import FuzzySelector, LatencyFirst, StaticSelector
from tests.support import PUBLISHED, assert_published
from tinysim_gym.cli import main
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine

TINYSIM = Path(sys.executable).with_name("tinysim")
ORIGINAL = ["--use_tqdm", "1", "--dataset", "usps_tova", "--mode", "async", "--min_interval", "3", "--reference", "1",
            "--board", "NUCLEO-L476RG"]
JSON_KEYS = {"selector", "scenario", "seed_compat", "seed", "end_reason", "operating_time_ms", "ticks", "inferences",
             "dropped", "dropped_overflow", "dropped_after_end", "arrivals", "buffered_at_end", "weighted_accuracy",
             "energy_mah", "soc_end", "busy_ticks", "idle_ticks", "inference_charge_mah", "idle_charge_mah",
             "model_counts"}


def simulate(capsys, *args: str) -> dict:
    rc = main(["simulate", "--json", *args])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert err == ""  # no progress bar or warning noise when stderr is not a terminal
    return json.loads(out)


def table(capsys, *args: str) -> str:
    rc = main(["simulate", *args])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


def test_json_has_the_documented_keys_and_they_add_up(capsys):
    m = simulate(capsys, "--battery-mah", "0.005", "--min-interval", "0.5")
    assert JSON_KEYS <= set(m), JSON_KEYS - set(m)
    assert m["arrivals"] == m["inferences"] + m["dropped"] + m["buffered_at_end"]
    assert m["dropped"] > 0  # interval 0.5 ms: the buffer overflows
    assert sum(m["model_counts"].values()) == m["inferences"]
    assert list(m["model_counts"]) == [str(i) for i in range(10)]
    assert m["operating_time_ms"] == pytest.approx(m["ticks"] * 0.01)
    assert m["ticks"] == m["busy_ticks"] + m["idle_ticks"]
    assert m["energy_mah"] == pytest.approx(m["inference_charge_mah"] + m["idle_charge_mah"], rel=1e-9)
    assert (m["scenario"], m["selector"], m["seed_compat"], m["seed"]) == ("cli", "reference", False, 0)


def test_json_equals_the_engine(capsys):
    m = simulate(capsys, "--battery-mah", "0.01", "--mode", "async", "--min-interval", "2", "--seed", "7",
                 "--selector", "fuzzy-tova", "--buffer-size", "4", "--arrival-probability", "0.3")
    sc = load_scenario({"name": "cli", "board": "NUCLEO-L476RG", "profile": "usps_tova",
                        "workload": {"mode": "async", "min_interval_ms": 2, "buffer_size": 4,
                                     "arrival_probability": 0.3},
                        "battery": {"capacity_mah": 0.01}})
    want = Engine(sc).run(FuzzySelector("tova"), seed=7)
    assert m == {"selector": "fuzzy-tova", **json.loads(json.dumps(want))}


@pytest.mark.parametrize("case", sorted(PUBLISHED))
def test_published_figures_through_the_cli(case, capsys):
    m = simulate(capsys, "--scenario", case)
    assert m["seed_compat"] is True
    assert_published(case, m)


def test_original_spelling_runs_as_is_in_seed_compatible_mode(capsys):
    """The README command of the original (with a small battery: 100 mAh takes seconds)."""
    m = simulate(capsys, *ORIGINAL, "--battery-mah", "0.01")
    assert m["seed_compat"] is True and m["selector"] == "reference"
    assert m["model_counts"]["0"] == m["inferences"] > 0
    modern = simulate(capsys, "--profile", "usps_tova", "--board", "NUCLEO-L476RG", "--mode", "async",
                      "--min-interval", "3", "--selector", "reference", "--seed-compat", "--battery-mah", "0.01")
    assert m == modern
    sc = load_scenario("async_1", workload={"min_interval_ms": 3}, battery={"capacity_mah": 0.01})
    want = Engine(sc).run(StaticSelector(0))
    for key in ("ticks", "inferences", "dropped", "arrivals", "buffered_at_end", "energy_mah", "weighted_accuracy"):
        assert m[key] == want[key], key


def test_original_spelling_defaults_to_a_100_mah_battery(capsys):
    m = simulate(capsys, *ORIGINAL, "--horizon-ms", "50")  # stop early: only the capacity matters here
    assert m["end_reason"] == "horizon"
    assert m["soc_end"] == pytest.approx(1 - m["energy_mah"] / 100.0, rel=0, abs=1e-12)


def test_original_reference_0_is_the_profiles_fuzzy_selector(capsys):
    args = [*ORIGINAL[:-4], "--board", "NUCLEO-L476RG", "--battery-mah", "0.01"]
    fuzzy = simulate(capsys, *args, "--reference", "0")
    assert fuzzy["selector"] == "fuzzy"
    assert fuzzy == simulate(capsys, *args, "--reference", "0", "--use_tqdm", "0")
    tova = simulate(capsys, *args, "--selector", "fuzzy-tova", "--seed-compat")
    assert {k: v for k, v in fuzzy.items() if k != "selector"} == {k: v for k, v in tova.items() if k != "selector"}
    stream = simulate(capsys, "--dataset", "mnist_stream_b1", "--board", "STM32F469I-DISCO", "--mode", "async",
                      "--min_interval", "400", "--reference", "0", "--battery-mah", "0.2")
    assert stream["selector"] == "fuzzy" and set(stream["model_counts"]) == {"S", "M", "L", "VL"}


@pytest.mark.parametrize("name", ["reference", "accuracy-first", "latency-first", "random", "fuzzy-tova", "fuzzy",
                                  "static"])
def test_every_original_selector_by_name(name, capsys):
    m = simulate(capsys, "--battery-mah", "0.003", "--selector", name)
    assert m["inferences"] > 0
    counts = m["model_counts"]
    if name in ("reference", "accuracy-first", "static"):
        assert counts["0"] == m["inferences"]  # usps_tova: model 0 is the first and the most accurate
    if name == "latency-first":
        assert counts["1"] == m["inferences"]
    if name == "random":
        assert sum(1 for v in counts.values() if v) > 5


def test_fuzzy_stream_on_a_stream_profile(capsys):
    m = simulate(capsys, "--profile", "mnist_stream_b3", "--board", "STM32L4R9I-DISCO", "--min-interval", "80",
                 "--selector", "fuzzy-stream", "--battery-mah", "0.05")
    assert m["inferences"] > 0 and m["model_counts"]["VL"] == 0  # the stream variant picks among S, M, L


def test_selector_params(capsys):
    m = simulate(capsys, "--battery-mah", "0.003", "--selector", "reference", "--param", "index=4")
    assert m["model_counts"]["4"] == m["inferences"]
    a = simulate(capsys, "--battery-mah", "0.003", "--selector", "random", "--param", "seed=3")
    b = simulate(capsys, "--battery-mah", "0.003", "--selector", "random", "--param", "seed=4")
    assert a["model_counts"] != b["model_counts"]


def test_dataset_is_an_alias_of_profile_and_underscores_of_dashes(capsys):
    a = simulate(capsys, "--dataset", "mnist_tova", "--min_interval", "5", "--battery-mah", "0.003")
    b = simulate(capsys, "--profile", "mnist_tova", "--min-interval", "5", "--battery-mah", "0.003")
    assert a == b


def test_scenario_flag_with_overrides(capsys):
    m = simulate(capsys, "--scenario", "lat_first", "--battery-mah", "0.01")
    sc = load_scenario("lat_first", battery={"capacity_mah": 0.01})
    assert m == {"selector": "latency-first", **Engine(sc).run(LatencyFirst())}
    m2 = simulate(capsys, "--scenario", "lat_first", "--battery-mah", "0.01", "--board", "STM32L4R9I-DISCO")
    assert m2["inferences"] < m["inferences"]  # a hungrier board


def test_seed_changes_default_mode_only(capsys):
    base = ["--battery-mah", "0.005", "--min-interval", "1"]
    a, b, c = (simulate(capsys, *base, "--seed", s) for s in ("1", "1", "2"))
    assert a == b and a["arrivals"] != c["arrivals"]
    s1 = simulate(capsys, *base, "--seed-compat", "--seed", "1")
    s2 = simulate(capsys, *base, "--seed-compat", "--seed", "2")
    assert {k: v for k, v in s1.items() if k != "seed"} == {k: v for k, v in s2.items() if k != "seed"}


def test_horizon_buffer_and_probability_flags(capsys):
    m = simulate(capsys, "--battery-mah", "1", "--horizon-ms", "1000", "--min-interval", "2")
    assert m["end_reason"] == "horizon" and m["operating_time_ms"] == 1000.0 and m["buffered_at_end"] == 0
    small = simulate(capsys, "--battery-mah", "0.005", "--min-interval", "0.5", "--buffer-size", "1")
    big = simulate(capsys, "--battery-mah", "0.005", "--min-interval", "0.5", "--buffer-size", "50")
    assert small["dropped"] > big["dropped"]
    every = simulate(capsys, "--battery-mah", "0.005", "--min-interval", "3", "--arrival-probability", "1",
                     "--mode", "async", "--seed-compat")
    sync = simulate(capsys, "--battery-mah", "0.005", "--min-interval", "3", "--mode", "sync")
    assert every["arrivals"] > 0 and sync["dropped_overflow"] == 0


def test_table_output_matches_the_json(capsys):
    args = ["--battery-mah", "0.005", "--min-interval", "0.7", "--selector", "fuzzy"]
    m = simulate(capsys, *args)
    out = table(capsys, *args)
    rows = dict(line.split(None, 1) if "  " not in line else [p.strip() for p in line.split("  ", 1)]
                for line in out.strip().splitlines())
    assert rows["scenario"] == "cli" and rows["selector"] == "fuzzy"
    assert rows["inferences"] == str(m["inferences"])
    assert rows["dropped"] == str(m["dropped"])
    assert rows["arrivals"] == str(m["arrivals"])
    assert rows["buffered at end"] == str(m["buffered_at_end"])
    assert rows["operating time"] == f"{m['operating_time_ms']:.2f} ms"
    assert rows["weighted accuracy"] == f"{m['weighted_accuracy']:.4f} %"
    assert rows["end"] == "depleted"
    assert rows["mode"] == "default (seed 0)"
    used = dict(item.split(":") for item in rows["model use"].split(", "))
    assert {k: int(v) for k, v in used.items()} == {k: v for k, v in m["model_counts"].items() if v}
    assert not out.lstrip().startswith("{")


def test_original_command_as_a_real_process_prints_the_table(tmp_path):
    res = subprocess.run([str(TINYSIM), "simulate", *ORIGINAL, "--battery-mah", "0.01"], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "seed-compatible" in res.stdout and "weighted accuracy" in res.stdout
    assert "Traceback" not in res.stderr
    res = subprocess.run([str(TINYSIM), "simulate", "--json", *ORIGINAL, "--battery-mah", "0.01"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    m = json.loads(res.stdout)
    assert m["arrivals"] == m["inferences"] + m["dropped"] + m["buffered_at_end"]
    assert list(tmp_path.iterdir()) == []  # simulate writes no files


def test_json_has_no_nan_even_without_samples(capsys):
    """A battery that dies before the first sample: zero inferences, accuracy 0.0, valid JSON."""
    m = simulate(capsys, "--battery-mah", "1e-9", "--min-interval", "100")
    assert m["inferences"] == m["arrivals"] == 0
    assert m["weighted_accuracy"] == 0.0
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in m.values())


def test_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--scenario", "--board", "--profile", "--mode", "--min-interval", "--selector", "--battery-mah",
                 "--seed", "--horizon-ms", "--seed-compat", "--json", "--param", "--buffer-size",
                 "--arrival-probability"):
        assert flag in out, flag
