"""Hostile configs and arguments: every loader and the CLI answer with one line naming the field, exit 2.

Nothing here reads files outside the repository: the original TinySimulator JSON files are embedded
verbatim below.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from tests.support import examples
from tests.support.timeouts import no_hang
from tinysim_gym.cli import main
from tinysim_gym.config import load_board, load_profile, load_scenario
from tinysim_gym.errors import ConfigError, TinySimError

# ------------------------------------------------------------------ the original files, verbatim

ORIGINAL_BOARD = """{
    "avg_infer_energy_cons": 10.7,
    "_comment1": "in [mA]",
    "avg_idle_energy_cons": 0.00118,
    "_comment2": "STOP2 [mA], 5-7 us wakeup"
}"""
ORIGINAL_BOARD_F469 = """{
    "avg_infer_energy_cons": 103,
    "_comment1": "in [mA]",
    "avg_idle_energy_cons": 0.63,
    "_comment2": "-"
}
"""
ORIGINAL_USPS = (  # note the trailing blanks after some rows, as in the original file
    "{\n"
    '    "dataset": "usps",\n'
    '    "selector_latency": 0.626,\n'
    '    "description": "CV_LR_C1",\n'
    '    "models": [\n'
    '        {"id": 0,  "training_accuracy": 94.08, "latency": 1.67},\n'
    '        {"id": 1,  "training_accuracy": 87.50, "latency": 0.16},\n'
    '        {"id": 2,  "training_accuracy": 91.07, "latency": 0.33}, \n'
    '        {"id": 3,  "training_accuracy": 92.35, "latency": 0.50}, \n'
    '        {"id": 4,  "training_accuracy": 92.91, "latency": 0.67}, \n'
    '        {"id": 5,  "training_accuracy": 93.32, "latency": 0.83}, \n'
    '        {"id": 6,  "training_accuracy": 93.61, "latency": 1.00},\n'
    '        {"id": 7,  "training_accuracy": 93.86, "latency": 1.17},\n'
    '        {"id": 8,  "training_accuracy": 93.99, "latency": 1.34},\n'
    '        {"id": 9,  "training_accuracy": 94.07, "latency": 1.50}\n'
    "    ]\n"
    "}\n"
)
ORIGINAL_STREAM_B1 = """{
    "dataset": "mnist",
    "selector_latency": 0.3,
    "description": "STM32F469I-DISCO",
    "models": [
        {"id": "S",  "training_accuracy": 96.84, "latency": 0.8},
        {"id": "M",  "training_accuracy": 96.57, "latency": 1.4},
        {"id": "L",  "training_accuracy": 99.03, "latency": 34.5},
        {"id": "VL",  "training_accuracy": 99.28, "latency": 373.1}
    ]
}
"""

GOOD_BOARD: dict[str, Any] = {"name": "b", "inference_current_ma": 10.7, "idle_current_ma": 0.00118, "ram_kb": 128}
GOOD_PROFILE: dict[str, Any] = {
    "name": "p", "selector_latency_ms": 0.5,
    "models": [{"id": 0, "accuracy": 90.0, "latency_ms": 1.0}, {"id": "b", "accuracy": 80.0, "latency_ms": 0.2}],
}
GOOD_SCENARIO: dict[str, Any] = {
    "name": "s", "board": "NUCLEO-L476RG", "profile": "usps_tova",
    "workload": {"mode": "async", "min_interval_ms": 2.0, "arrival_probability": 0.5, "buffer_size": 6,
                 "timebase_ms": 0.01},
    "battery": {"capacity_mah": 0.001, "initial_soc": 1.0},
    "seed_compat": False,
}
LOADERS = {"board": load_board, "profile": load_profile, "scenario": load_scenario}
FLAGS = {"board": "--board", "profile": "--profile", "scenario": "--scenario"}


# ------------------------------------------------------------------ helpers




def one_line(msg: str) -> str:
    assert "\n" not in msg.strip(), msg
    assert "Traceback" not in msg
    return msg


def load_error(kind: str, path: Path) -> str:
    """The loader's error for a file that must not load."""
    with no_hang(), pytest.raises(ConfigError) as info:
        LOADERS[kind](str(path))
    return one_line(str(info.value))


def cli(argv: list[str], capsys: Any) -> tuple[int, str, str]:
    with no_hang(60):
        rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def cli_error(argv: list[str], capsys: Any, cwd: Path | None = None) -> str:
    """Run ``tinysim`` in-process; assert exit 2, one line on stderr, nothing on stdout, no new files."""
    before = set(os.listdir(cwd)) if cwd else set()
    rc, out, err = cli(argv, capsys)
    assert rc == 2, (rc, out, err)
    assert out == ""
    assert err.startswith("tinysim: error: ") and err.endswith("\n"), err
    one_line(err)
    if cwd:
        assert set(os.listdir(cwd)) == before, "a file was written"
    return err


def simulate_error(kind: str, path: Path, capsys: Any) -> str:
    args = ["simulate", FLAGS[kind], str(path), "--battery-mah", "0.001"]
    if kind == "scenario":
        args = ["simulate", "--scenario", str(path)]
    return cli_error(args, capsys, cwd=path.parent)


# ------------------------------------------------------------------ the original JSON format


def test_original_json_files_load_by_path_and_equal_the_builtins(tmp_path):
    (tmp_path / "NUCLEO-L476RG.json").write_text(ORIGINAL_BOARD)
    (tmp_path / "STM32F469I-DISCO.json").write_text(ORIGINAL_BOARD_F469)
    (tmp_path / "usps_tova.json").write_text(ORIGINAL_USPS)
    (tmp_path / "mnist_stream_b1.json").write_text(ORIGINAL_STREAM_B1)
    for name in ("NUCLEO-L476RG", "STM32F469I-DISCO"):
        a, b = load_board(str(tmp_path / f"{name}.json")), load_board(name)
        assert (a.name, a.inference_current_ma, a.idle_current_ma) == (b.name, b.inference_current_ma,
                                                                       b.idle_current_ma)
    for name in ("usps_tova", "mnist_stream_b1"):
        a, b = load_profile(str(tmp_path / f"{name}.json")), load_profile(name)
        assert a.models == b.models
        assert (a.selector_latency_ms, a.dataset, a.description, a.fuzzy_variant) == (
            b.selector_latency_ms, b.dataset, b.description, b.fuzzy_variant)


def test_original_json_through_the_cli_gives_the_builtin_figures(tmp_path, capsys):
    (tmp_path / "board.json").write_text(ORIGINAL_BOARD)
    (tmp_path / "usps_tova.json").write_text(ORIGINAL_USPS)
    base = ["simulate", "--json", "--battery-mah", "0.002", "--mode", "async", "--min-interval", "2",
            "--seed-compat", "--selector", "fuzzy-tova"]
    rc, by_path, _ = cli([*base, "--board", str(tmp_path / "board.json"), "--profile",
                          str(tmp_path / "usps_tova.json")], capsys)
    assert rc == 0
    rc, by_name, _ = cli([*base, "--board", "NUCLEO-L476RG", "--profile", "usps_tova"], capsys)
    assert rc == 0
    assert by_path == by_name
    assert json.loads(by_path)["inferences"] > 0


def test_original_keys_accepted_in_yaml_too(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text("avg_infer_energy_cons: 5\navg_idle_energy_cons: 0.1\n_comment1: in [mA]\n_comment_x: y\n")
    assert load_board(str(p)).inference_current_ma == 5.0
    q = tmp_path / "p.yaml"
    q.write_text("dataset: d\ndescription: x\nselector_latency: 0.1\n"
                 "models: [{id: 0, training_accuracy: 50, latency: 1}]\n")
    prof = load_profile(str(q))
    assert (prof.selector_latency_ms, prof.models[0].accuracy, prof.models[0].latency_ms) == (0.1, 50.0, 1.0)


def test_byte_order_mark_is_accepted(tmp_path):
    p = tmp_path / "board.json"
    p.write_bytes(b"\xef\xbb\xbf" + ORIGINAL_BOARD.encode())
    assert load_board(str(p)).inference_current_ma == 10.7


# ------------------------------------------------------------------ a table of hostile files

BOMB = "".join(
    f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9 if i else ['"lol"'] * 9) + "]\n"
    for i in range(10)
)
NESTED_BLOCK = "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v: 1\n"

HOSTILE: list[tuple[str, str, bytes, str]] = [
    # (kind, file name, content, a substring the message must hold)
    ("board", "empty.yaml", b"", "is empty"),
    ("board", "blank.yaml", b"  \n\t\n", "is empty"),
    ("board", "binary.yaml", bytes(range(256)) * 8, "UTF-8"),
    ("board", "control.yaml", b"\x00\x01\x02inference_current_ma: 1", "not valid yaml"),
    ("board", "deep-flow.yaml", b"[" * 20_000, "not valid yaml"),
    ("board", "deep-block.yaml", NESTED_BLOCK.encode(), "levels deep"),
    ("board", "deep.json", b"[" * 20_000 + b"]" * 20_000, "not valid json"),
    ("board", "bomb.yaml", BOMB.encode(), "alias bomb"),
    ("board", "recursive.yaml", b"inference_current_ma: &x [1, *x]\nidle_current_ma: 1\n", "refers to itself"),
    ("board", "nan.yaml", b"inference_current_ma: .nan\nidle_current_ma: 1\n", "inference_current_ma"),
    ("board", "inf.yaml", b"inference_current_ma: .inf\nidle_current_ma: 1\n", "inference_current_ma"),
    ("board", "minf.yaml", b"inference_current_ma: 1\nidle_current_ma: -.inf\n", "idle_current_ma"),
    ("board", "nan.json", b'{"avg_infer_energy_cons": NaN, "avg_idle_energy_cons": 1}', "avg_infer_energy_cons"),
    ("board", "inf.json", b'{"avg_infer_energy_cons": 1, "avg_idle_energy_cons": -Infinity}',
     "avg_idle_energy_cons"),
    ("board", "overflow.json", b'{"avg_infer_energy_cons": 1e400, "avg_idle_energy_cons": 1}',
     "avg_infer_energy_cons"),
    ("board", "hugeint.yaml", b"inference_current_ma: 1" + b"0" * 400 + b"\nidle_current_ma: 1\n",
     "inference_current_ma"),
    ("board", "huge.yaml", b"inference_current_ma: 1.0e+300\nidle_current_ma: 1\n", "inference_current_ma"),
    ("board", "negative.yaml", b"inference_current_ma: -10.7\nidle_current_ma: 1\n", "inference_current_ma"),
    ("board", "zero.yaml", b"inference_current_ma: 0\nidle_current_ma: 1\n", "inference_current_ma"),
    ("board", "negidle.yaml", b"inference_current_ma: 1\nidle_current_ma: -0.001\n", "idle_current_ma"),
    ("board", "string.yaml", b"inference_current_ma: '10.7'\nidle_current_ma: 1\n", "inference_current_ma"),
    ("board", "bool.yaml", b"inference_current_ma: yes\nidle_current_ma: 1\n", "inference_current_ma"),
    ("board", "null.yaml", b"inference_current_ma: ~\nidle_current_ma: 1\n", "inference_current_ma"),
    ("board", "list.yaml", b"inference_current_ma: [1]\nidle_current_ma: 1\n", "inference_current_ma"),
    ("board", "missing.yaml", b"inference_current_ma: 1\n", "idle_current_ma"),
    ("board", "missing.json", b'{"avg_infer_energy_cons": 1}', "avg_idle_energy_cons"),
    ("board", "extra.yaml", b"inference_current_ma: 1\nidle_current_ma: 1\nvoltage: 3.3\n", "voltage"),
    ("board", "unicode-key.yaml", "inference_current_ma: 1\nidle_current_ma: 1\n\u0442\u043e\u043a: 3\n".encode(),
     "\u0442\u043e\u043a"),
    ("board", "typo.yaml", b"inference_curent_ma: 1\nidle_current_ma: 1\n", "inference_curent_ma"),
    ("board", "duplicate.yaml", b"inference_current_ma: 1\nidle_current_ma: 1\nidle_current_ma: 2\n",
     "idle_current_ma"),
    ("board", "duplicate.json", b'{"avg_infer_energy_cons": 1, "avg_infer_energy_cons": 2, "avg_idle_energy_cons": 1}',
     "avg_infer_energy_cons"),
    ("board", "toplist.yaml", b"- 1\n- 2\n", "mapping"),
    ("board", "scalar.yaml", b"42\n", "mapping"),
    ("board", "intkey.yaml", b"1: 2\n", "key 1"),
    ("board", "tag.yaml", b'!!python/object/apply:os.system ["echo pwned"]\n', "not valid yaml"),
    ("board", "badsyntax.json", b'{"avg_infer_energy_cons": 1,', "not valid json"),
    ("board", "longname.yaml", b"name: " + b"x" * 300 + b"\ninference_current_ma: 1\nidle_current_ma: 1\n", "name"),
    ("profile", "empty-models.yaml", b"models: []\n", "models"),
    ("profile", "no-models.yaml", b"name: p\n", "models"),
    ("profile", "dup-ids.yaml",
     b"models: [{id: 0, accuracy: 90, latency_ms: 1}, {id: 0, accuracy: 80, latency_ms: 2}]\n", "duplicate model id"),
    ("profile", "dup-ids-mixed.json",
     b'{"models": [{"id": 1, "training_accuracy": 90, "latency": 1}, {"id": "1", "training_accuracy": 80, '
     b'"latency": 2}]}', "duplicate model id"),
    ("profile", "acc-high.yaml", b"models: [{id: 0, accuracy: 100.5, latency_ms: 1}]\n", "accuracy"),
    ("profile", "acc-low.json", b'{"models": [{"id": 0, "training_accuracy": -1, "latency": 1}]}',
     "training_accuracy"),
    ("profile", "lat-zero.yaml", b"models: [{id: 0, accuracy: 90, latency_ms: 0}]\n", "latency_ms"),
    ("profile", "lat-neg.json", b'{"models": [{"id": 0, "training_accuracy": 90, "latency": -1.5}]}', "latency"),
    ("profile", "sel-neg.yaml", b"selector_latency_ms: -1\nmodels: [{id: 0, accuracy: 90, latency_ms: 1}]\n",
     "selector_latency_ms"),
    ("profile", "model-extra.yaml", b"models: [{id: 0, accuracy: 90, latency_ms: 1, flops: 3}]\n", "flops"),
    ("profile", "model-id-bool.yaml", b"models: [{id: true, accuracy: 90, latency_ms: 1}]\n", "id"),
    ("profile", "models-map.yaml", b"models: {a: 1}\n", "models"),
    ("scenario", "no-board.yaml", b"profile: usps_tova\nworkload: {min_interval_ms: 2}\nbattery: {capacity_mah: 1}\n",
     "board"),
    ("scenario", "bad-board-name.yaml",
     b"board: NUCLEO-L476\nprofile: usps_tova\nworkload: {min_interval_ms: 2}\nbattery: {capacity_mah: 1}\n",
     "did you mean NUCLEO-L476RG"),
    ("scenario", "cap-zero.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2}\nbattery: {capacity_mah: 0}\n",
     "capacity_mah"),
    ("scenario", "cap-neg.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2}\nbattery: {capacity_mah: -1}\n",
     "capacity_mah"),
    ("scenario", "interval-zero.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 0}\nbattery: {capacity_mah: 1}\n",
     "min_interval_ms"),
    ("scenario", "interval-neg.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: -2}\nbattery: {capacity_mah: 1}\n",
     "min_interval_ms"),
    ("scenario", "sync-too-short.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {mode: sync, min_interval_ms: 2}\n"
     b"battery: {capacity_mah: 1}\n", "min_interval_ms"),
    ("scenario", "soc.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2}\n"
     b"battery: {capacity_mah: 1, initial_soc: 1.5}\n", "initial_soc"),
    ("scenario", "mode.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {mode: burst, min_interval_ms: 2}\n"
     b"battery: {capacity_mah: 1}\n", "mode"),
    ("scenario", "buffer.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2, buffer_size: 2.5}\n"
     b"battery: {capacity_mah: 1}\n", "buffer_size"),
    ("scenario", "extra.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2}\nbattery: {capacity_mah: 1}\n"
     b"temperature: 25\n", "temperature"),
    ("scenario", "nested-extra.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2, jitter: 3}\n"
     b"battery: {capacity_mah: 1}\n", "jitter"),
    ("scenario", "inline-board-bad.yaml",
     b"board: {inference_current_ma: -1, idle_current_ma: 1}\nprofile: usps_tova\nworkload: {min_interval_ms: 2}\n"
     b"battery: {capacity_mah: 1}\n", "inference_current_ma"),
    ("scenario", "workload-scalar.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: 3\nbattery: {capacity_mah: 1}\n", "workload"),
    ("scenario", "seed-compat-str.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2}\nbattery: {capacity_mah: 1}\n"
     b"seed_compat: 'yes'\n", "seed_compat"),
    ("scenario", "horizon-inf.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2}\nbattery: {capacity_mah: 1}\n"
     b"horizon_ms: .inf\n", "horizon_ms"),
    ("scenario", "endless.yaml",
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2}\nbattery: {capacity_mah: 99999}\n",
     "capacity_mah"),
    ("scenario", "subnormal-timebase.yaml",  # found by the fuzz test: round(inf) raised OverflowError
     b"board: NUCLEO-L476RG\nprofile: usps_tova\nworkload: {min_interval_ms: 2, timebase_ms: 5.0e-324}\n"
     b"battery: {capacity_mah: 1}\n", "latency_ms"),
    ("scenario", "half-tick.yaml",
     b"board: NUCLEO-L476RG\nprofile: {models: [{id: 0, accuracy: 90, latency_ms: 0.005}]}\n"
     b"workload: {min_interval_ms: 2}\nbattery: {capacity_mah: 1}\nseed_compat: true\n", "latency_ms"),
]


@pytest.mark.parametrize("kind,name,content,needle", HOSTILE, ids=[f"{k}-{n}" for k, n, _, _ in HOSTILE])
def test_hostile_file_gives_one_line_naming_the_problem(kind, name, content, needle, tmp_path, capsys):
    path = tmp_path / name
    path.write_bytes(content)
    msg = load_error(kind, path)
    assert needle in msg, msg
    err = simulate_error(kind, path, capsys)
    assert needle in err, err


def test_ten_megabyte_file_is_refused_without_reading_it(tmp_path, capsys):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.write(b"inference_current_ma: 1\nidle_current_ma: 1\n# " + b"x" * (10 * 1024 * 1024))
    for kind in ("board", "profile", "scenario"):
        assert "larger than the limit" in load_error(kind, path)
        assert "larger than the limit" in simulate_error(kind, path, capsys)


@pytest.mark.parametrize("ref", ["", "/nonexistent/dir/b.yaml", "missing.json", "dir/", "a\x00b.yaml",
                                 "x" * 300 + ".yaml"])
def test_unreadable_references(ref, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir").mkdir()
    for kind, loader in LOADERS.items():
        with no_hang(), pytest.raises(ConfigError) as info:
            loader(ref)
        assert one_line(str(info.value)).startswith(kind)


def test_a_fifo_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert "not a file" in load_error("board", fifo)
    assert "not a file" in simulate_error("board", fifo, capsys)


def test_unicode_names_and_paths_are_fine(tmp_path, capsys):
    d = tmp_path / "\u00e9t\u00e9 \u677f"
    d.mkdir()
    p = d / "\u677f\u5b50.yaml"
    p.write_text("name: \u677f\u5b50 \U0001f680\ninference_current_ma: 10\nidle_current_ma: 0.01\n", encoding="utf-8")
    assert load_board(str(p)).name == "\u677f\u5b50 \U0001f680"
    q = d / "prof.yaml"
    q.write_text("models: [{id: \u00e9\u00e8, accuracy: 90, latency_ms: 1}, {id: \U0001f680, accuracy: 80, "
                 "latency_ms: 0.5}]\n", encoding="utf-8")
    rc, out, _ = cli(["simulate", "--json", "--board", str(p), "--profile", str(q), "--battery-mah", "0.001"], capsys)
    assert rc == 0
    assert set(json.loads(out)["model_counts"]) == {"\u00e9\u00e8", "\U0001f680"}


# ------------------------------------------------------------------ the bad command-line inputs, through the CLI


@pytest.mark.parametrize("args,needle", [
    (["--profile", "usps"], "did you mean usps_tova"),
    (["--profile", "mnist-tova"], "did you mean mnist_tova"),
    (["--board", "NUCLEO-L476"], "did you mean NUCLEO-L476RG"),
    (["--board", "nucleo_l476rg"], "board"),
    (["--scenario", "sync1"], "did you mean sync_1"),
    (["--battery-mah", "0"], "capacity_mah"),
    (["--battery-mah", "-5"], "capacity_mah"),
    (["--battery-mah", "nan"], "capacity_mah"),
    (["--battery-mah", "inf"], "capacity_mah"),
    (["--battery-mah", "1e308"], "capacity_mah"),
    (["--min-interval", "0"], "min_interval_ms"),
    (["--min-interval", "-3"], "min_interval_ms"),
    (["--min_interval", "nan"], "min_interval_ms"),
    (["--mode", "sync", "--min-interval", "1"], "min_interval_ms"),
    (["--mode", "sideways"], "--mode"),
    (["--horizon-ms", "0"], "horizon_ms"),
    (["--horizon-ms=-inf"], "horizon_ms"),
    (["--arrival-probability", "0"], "arrival_probability"),
    (["--arrival-probability", "1.5"], "arrival_probability"),
    (["--buffer-size", "0"], "buffer_size"),
    (["--buffer-size", "-1"], "buffer_size"),
    (["--buffer-size", "2.5"], "--buffer-size"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "abc"], "--seed"),
    (["--selector", "fuzy"], "did you mean fuzzy"),
    (["--selector", "reference", "--param", "index=10"], "index"),
    (["--selector", "reference", "--param", "index=true"], "index"),
    (["--selector", "reference", "--param", "nonsense"], "--param"),
    (["--selector", "reference", "--param", "color=3"], "color"),
    (["--selector", "random", "--param", "seed=-5"], "seed"),
    (["--selector", "random", "--param", "seed=\"abc\""], "seed"),
    (["--selector", "fuzzy-tova", "--profile", "mnist_stream_b1"], "fuzzy"),
    (["--selector", "fuzzy", "--param", "variant=xyz"], "variant"),
    (["--use_tqdm", "2"], "--use_tqdm"),
    (["--reference", "5"], "--reference"),
    (["--no-such-flag"], "--no-such-flag"),
])
def test_bad_arguments(args, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = cli_error(["simulate", "--battery-mah", "0.001", *args], capsys, cwd=tmp_path)
    assert needle in err, err


def test_bad_subcommand_and_no_subcommand(capsys):
    assert "COMMAND" in cli_error([], capsys) or "command" in cli_error([], capsys).lower()
    assert "nosuch" in cli_error(["nosuch"], capsys)


# ------------------------------------------------------------------ fuzzing: mutated documents

HOSTILE_VALUES = [
    math.nan, math.inf, -math.inf, -1, -1.5, 0, 0.0, -0.0, 1e308, 10**400, -(10**400), 2**63, 5e-324,
    "", "10", "nan", "\u677f\U0001f680", "a\nb", True, False, None, [], {}, [1, 2], {"a": 1}, [[[]]],
]
EXTRA_KEYS = ["extra", "str", "int", "function-after", "\u00fcml\u00e4ut", "\U0001f680", "a b", "", "1", "_comment",
              "avg_idle_energy_cons", "latency", "name ", "Models", "dataset"]


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


@st.composite
def mutated(draw: Any) -> tuple[str, dict[str, Any], str, str]:
    """(kind, mutated document, the key the mutation touched, a description)."""
    kind = draw(st.sampled_from(["board", "profile", "scenario", "board-original", "profile-original"]))
    doc = {
        "board": GOOD_BOARD,
        "profile": GOOD_PROFILE,
        "scenario": GOOD_SCENARIO,
        "board-original": json.loads(ORIGINAL_BOARD),
        "profile-original": json.loads(ORIGINAL_STREAM_B1),
    }[kind]
    doc = json.loads(json.dumps(doc))  # a deep copy
    kind = kind.split("-")[0]
    op = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
    containers = [()] + [p for p in _paths(doc) if isinstance(_get(doc, p), dict)]
    if op == "add":
        where = draw(st.sampled_from(containers))
        key = draw(st.one_of(st.sampled_from(EXTRA_KEYS), st.text(min_size=1, max_size=12)))
        target = _get(doc, where)
        if key in target:
            op = "set"
            path = (*where, key)
        else:
            target[key] = draw(st.sampled_from(HOSTILE_VALUES[:8]))
            return kind, doc, key, f"add {where}+{key!r}"
    else:
        path = draw(st.sampled_from(_paths(doc)))
    parent = _get(doc, path[:-1])
    key = path[-1]
    if op == "delete":
        if isinstance(parent, list):
            del parent[key]
        else:
            del parent[key]
        return kind, doc, str(path[-2] if isinstance(key, int) and len(path) > 1 else key), f"delete {path}"
    parent[key] = draw(st.sampled_from(HOSTILE_VALUES))
    label = path[-2] if isinstance(key, int) and len(path) > 1 else key
    return kind, doc, str(label), f"set {path} = {parent[key]!r}"


# keys whose bad value may be reported under another field (a cross-field rule)
RELATED = {
    "latency_ms": {"min_interval_ms", "latency_ms", "capacity_mah"},
    "latency": {"min_interval_ms", "latency", "capacity_mah"},
    "selector_latency_ms": {"min_interval_ms", "latency_ms", "capacity_mah", "selector_latency_ms"},
    "selector_latency": {"min_interval_ms", "latency", "latency_ms", "capacity_mah", "selector_latency"},
    "inference_current_ma": {"capacity_mah", "inference_current_ma"},
    "avg_infer_energy_cons": {"capacity_mah", "avg_infer_energy_cons"},
    "mode": {"mode", "min_interval_ms"},
    "timebase_ms": {"timebase_ms", "latency_ms", "min_interval_ms", "capacity_mah"},
    "min_interval_ms": {"min_interval_ms", "capacity_mah"},
    "initial_soc": {"initial_soc", "capacity_mah"},
    "models": {"models", "id", "accuracy", "latency_ms", "latency", "training_accuracy", "capacity_mah",
               "min_interval_ms"},
    "id": {"id", "models"},
}


def _dump(doc: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(doc, allow_nan=True, ensure_ascii=False).encode()
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


def _write_case(case, fmt, tmp_path_factory, prefix):
    """Write one mutated document to a fresh directory; returns (kind, mutated key, directory, path)."""
    kind, doc, key, what = case
    note(what)
    d = tmp_path_factory.mktemp(prefix)
    path = d / f"doc.{fmt}"
    path.write_bytes(_dump(doc, fmt))
    return kind, key, d, path


@settings(max_examples=examples(300))
@given(case=mutated(), fmt=st.sampled_from(["yaml", "json"]))
def test_mutated_documents_load_or_fail_with_one_line_naming_the_field(case, fmt, tmp_path_factory):
    kind, key, d, path = _write_case(case, fmt, tmp_path_factory, "fuzz")
    try:
        with no_hang():
            LOADERS[kind](str(path))
        event(f"{kind} {fmt}: still valid")
    except ConfigError as exc:
        event(f"{kind} {fmt}: refused")
        msg = one_line(str(exc))
        assert msg.startswith(kind), msg
        norm = " ".join(key.split())
        names = {norm} | RELATED.get(key, set())
        assert any(n in msg for n in names) or (norm == "" and "''" in msg), (msg, key)
    except Exception as exc:  # anything else is a bug: it would reach the user as a traceback
        raise AssertionError(f"{type(exc).__name__} escaped the loader: {exc}") from exc


@settings(max_examples=examples(60))
@given(case=mutated(), fmt=st.sampled_from(["yaml", "json"]))
def test_mutated_documents_through_the_cli(case, fmt, tmp_path_factory):
    """Bad documents given to ``tinysim simulate`` exit 2 with one line, nothing on stdout, no file written."""
    import io

    kind, key, d, path = _write_case(case, fmt, tmp_path_factory, "fuzzcli")
    try:
        LOADERS[kind](str(path))
        event("valid document: not run")
        return  # a valid document: running it is the property tests' business
    except ConfigError:
        event(f"refused: {FLAGS[kind]}")
    args = ["simulate", "--scenario", str(path)] if kind == "scenario" else [
        "simulate", FLAGS[kind], str(path), "--battery-mah", "0.001"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), no_hang(60):
        rc = main(args)
    assert rc == 2
    assert out.getvalue() == ""
    assert err.getvalue().startswith("tinysim: error: ")
    one_line(err.getvalue())
    assert sorted(os.listdir(d)) == [path.name]


# ------------------------------------------------------------------ the real console script


@pytest.mark.parametrize("flag,name,content", [
    ("--scenario", "bomb.yaml", BOMB.encode()),
    ("--board", "recursive.yaml", b"a: &x [1, *x]\n"),
    ("--profile", "binary.json", bytes(range(256)) * 64),
    ("--scenario", "deep.yaml", b"[" * 50_000),
    ("--board", "nan.json", b'{"avg_infer_energy_cons": NaN, "avg_idle_energy_cons": 1}'),
])
def test_console_script_never_prints_a_traceback(flag, name, content, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    tinysim = Path(sys.executable).with_name("tinysim")
    res = subprocess.run([str(tinysim), "simulate", flag, str(path)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert res.returncode == 2, res
    assert res.stdout == ""
    assert res.stderr.startswith("tinysim: error: ") and res.stderr.count("\n") == 1, res.stderr
    assert sorted(os.listdir(tmp_path)) == [name]


def test_api_errors_are_tinysim_errors():
    """ConfigError is a TinySimError (the CLI's one-line class) and a ValueError (for library users)."""
    assert issubclass(ConfigError, TinySimError) and issubclass(ConfigError, ValueError)
    with pytest.raises(ConfigError):
        load_board({"inference_current_ma": 1})
    with pytest.raises(ConfigError):
        load_scenario("sync_1", battery={"capacity_mah": "lots"})
    with pytest.raises(ConfigError):
        load_scenario(["not", "a", "scenario"])  # type: ignore[arg-type]


def test_a_malformed_fuzzy_rule_base_is_refused(tmp_path):
    """Unchecked, the numba kernel read past the array (undefined behaviour); in a subprocess in case."""
    tinysim = Path(sys.executable).with_name("tinysim")
    res = subprocess.run([str(tinysim), "simulate", "--battery-mah", "0.001", "--selector", "fuzzy", "--param",
                          "params=[1e308, 1e308, 1e308, 1e308]"], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert res.returncode == 2 and "params" in res.stderr, (res.returncode, res.stderr[-300:])
