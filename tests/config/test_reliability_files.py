"""Files as a hostile or careless user gives them: special files as inputs, devices and links as outputs,
names that try to leave their directory, and messages that must not quote a file's content."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support.timeouts import no_hang
from tinysim_gym.atomic import safe_file_name, write_files, write_text
from tinysim_gym.cli import main
from tinysim_gym.config import load_board, load_scenario, read_regular
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import ConfigError, TinySimError

SCENARIO = """\
name: {name}
board: NUCLEO-L476RG
profile: usps_tova
workload: {{mode: async, process: trace, trace: {trace}}}
battery: {{capacity_mah: 0.001}}
"""




def one_error(argv: list[str], capsys) -> str:
    """Run the CLI; it must fail with exit 2 and exactly one line on stderr, which is returned."""
    with no_hang(60):
        rc = main(argv)
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip() and "run/s" not in ln and "%|" not in ln]
    assert rc == 2, (rc, err)
    assert len(lines) == 1 and lines[0].startswith("tinysim: error: "), err
    assert "Traceback" not in err
    return lines[0]


def trace_scenario(tmp_path: Path, trace: str, name: str = "tr") -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(SCENARIO.format(name=name, trace=trace))
    return p


# ------------------------------------------------------------------ inputs: special files, bounded reads

SPECIAL_INPUTS = ["/dev/zero", "/dev/null", "/dev/urandom", "fifo", "dir"]


@pytest.fixture
def special(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()

    def path(name: str) -> str:
        return name if name.startswith("/") else str(tmp_path / name)

    return path


@pytest.mark.parametrize("name", SPECIAL_INPUTS)
def test_special_files_are_refused_as_inputs_at_once(name, special, tmp_path, capsys):
    """A FIFO, an endless device or a directory as a trace, a board, a sweep's table: one line, no read."""
    path = special(name)
    with no_hang(), pytest.raises(ConfigError, match="not a file"):
        read_regular(path, "input")
    with no_hang(), pytest.raises(ConfigError, match="not a file|cannot read"):
        load_board(path if path.endswith((".yaml", ".json")) or "/" in path else "./" + path)
    sc = load_scenario(str(trace_scenario(tmp_path, path)))
    with no_hang(), pytest.raises(TinySimError, match=r"workload\.trace.*not a file"):
        Engine(sc)
    assert "not a file" in one_error(["simulate", "--scenario", str(trace_scenario(tmp_path, path))], capsys)
    if name != "dir":  # a directory as a sweep's --out has its own message
        assert "not a file" in one_error(["sweep", "smoke", "--out", path], capsys)
    assert "not a file" in one_error(["plot", path, "--out", str(tmp_path / "plots")], capsys)


def test_every_read_is_bounded(tmp_path):
    """A file larger than the limit is refused from its size; reading stops at the limit in any case."""
    big = tmp_path / "big.csv"
    big.write_bytes(b"1\n" * 600)
    with pytest.raises(ConfigError, match="larger than the limit 1000"):
        read_regular(big, "input", limit=1000)
    assert read_regular(big, "input", limit=1200) == b"1\n" * 600


# ------------------------------------------------------------------ messages name the line, not the content


def test_a_wrong_file_as_trace_is_named_by_line_without_its_content(tmp_path, capsys):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\nSECRET-LINE:x:1:1::/:/bin/sh\n")
    err = one_error(["simulate", "--scenario", str(trace_scenario(tmp_path, str(secret)))], capsys)
    assert "line 2" in err and "not a number" in err
    assert "SECRET" not in err and "root" not in err.replace(str(tmp_path), "")
    if Path("/etc/passwd").is_file():
        err = one_error(["simulate", "--scenario", str(trace_scenario(tmp_path, "/etc/passwd"))], capsys)
        assert "line " in err and ":x:" not in err


@pytest.mark.parametrize("text", [
    "a: b: SECRET\n",
    "key: [SECRET\n",
    "inference_current_ma: 1\nSECRET_KEY: SECRET\n",
    "x: 1\n\tSECRET: 2\n",
    "\xff\xfeSECRET",
])
def test_config_errors_do_not_quote_values_of_the_file(text, tmp_path):
    p = tmp_path / "board.yaml"
    p.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_board(str(p))
    msg = str(info.value)
    assert "SECRET\n" not in msg and "got 'SECRET'" not in msg and "SECRET " not in msg
    assert "\n" not in msg


def test_a_binary_trace_names_its_line_and_byte(tmp_path):
    t = tmp_path / "t.csv"
    t.write_bytes(b"0\n1\n\xffSECRET\n")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(line 3, byte 4\)") as info:
        Engine(load_scenario(str(trace_scenario(tmp_path, str(t)))))
    assert "SECRET" not in str(info.value)


# ------------------------------------------------------------------ outputs: devices, FIFOs, links


@pytest.fixture
def char_device(tmp_path):
    """A character device node like /dev/null (needs root to make one)."""
    dev = tmp_path / "n"
    try:
        os.mknod(dev, 0o644 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    return dev


def test_a_character_device_is_written_through_never_replaced(char_device, capsys):
    write_text(char_device, "x")
    assert stat.S_ISCHR(os.lstat(char_device).st_mode)
    args = ["compare", "--battery-mah", "0.001", "--policies", "ladder", "--processes", "1", "--no-files",
            "--json"]
    assert main(args) == 0
    capsys.readouterr()
    assert stat.S_ISCHR(os.lstat(char_device).st_mode)
    assert sorted(p.name for p in char_device.parent.iterdir()) == ["n"]  # no temporary file left


def test_dev_null_stays_a_device(tmp_path):
    before = os.lstat("/dev/null")
    write_text("/dev/null", "discarded")
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


@pytest.mark.parametrize("target", ["/dev/full", "fifo", "dir"])
def test_unwritable_outputs_are_one_line_exit_2(target, tmp_path, capsys):
    """/dev/full (the device refuses), a FIFO without a reader (never a hang), a directory."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    path = target if target.startswith("/") else str(tmp_path / target)
    with no_hang(), pytest.raises(OSError) as info:
        write_text(path, "x")
    assert info.value.filename == path
    err = one_error(["sweep", "smoke", "--out", path], capsys)
    assert path in err
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)


def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "real" / "table.csv")  # dangling: the write creates the file it names
    write_text(link, "a\n")
    assert link.is_symlink() and (tmp_path / "real" / "table.csv").read_text() == "a\n"
    write_text(link, "b\n")  # an existing target is replaced atomically, beside the target
    assert link.is_symlink() and (tmp_path / "real" / "table.csv").read_text() == "b\n"
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["table.csv"]
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(OSError, match="symbolic links"):
        write_text(loop, "x")


def test_several_files_are_written_all_or_none(tmp_path, monkeypatch):
    (tmp_path / "old.csv").write_text("old")
    real = Path.write_bytes

    def full_disk(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError) as info:
        write_files({tmp_path / "old.csv": "new", tmp_path / "fig.png": b"\x89PNG"})
    monkeypatch.setattr(Path, "write_bytes", real)
    assert info.value.filename == str(tmp_path / "fig.png") and info.value.errno == 28
    assert (tmp_path / "old.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv"]


# ------------------------------------------------------------------ derived names stay in their directory


@pytest.mark.parametrize("name", ["../../x", "..", ".", "/etc/passwd", "a/../../b", "", "\x00", "-" * 500,
                                  ".hidden", "ok-name_1.2"])
def test_safe_file_name_is_one_component_inside_its_directory(name, tmp_path):
    safe = safe_file_name(name)
    assert safe and "/" not in safe and "\x00" not in safe and not safe.startswith(".")
    assert len(safe) <= 120
    assert (tmp_path / safe).resolve().parent == tmp_path.resolve()
    if name == "ok-name_1.2":
        assert safe == name  # a name that is already safe is kept


def test_compare_files_named_after_a_hostile_scenario_name_stay_in_out(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    sc = tmp_path / "evil.yaml"
    sc.write_text("name: ../../escaped\nboard: NUCLEO-L476RG\nprofile: usps_tova\n"
                  "workload: {mode: async, min_interval_ms: 2}\nbattery: {capacity_mah: 0.001}\n")
    argv = ["compare", "--scenario", str(sc), "--policies", "ladder", "--processes", "1", "--out", "out", "--json"]
    assert main(argv) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["compare__.._escaped.csv",
                                                                    "compare__.._escaped.png"]
    assert not list(tmp_path.parent.glob("*escaped*"))


def test_training_cell_names_stay_under_parent(tmp_path):
    from tinysim_gym.experiments.sweep.training import run_training_cells

    cells = [{"name": "../../escaped", "seed": 0}, {"name": "..", "seed": 1}, {"name": "/abs", "seed": 2}]
    res = run_training_cells(cells, parent=tmp_path / "runs", train=_toy_train, processes=1)
    for r in res:
        assert Path(r["run_dir"]).resolve().parent == (tmp_path / "runs").resolve()
    assert not list(tmp_path.glob("escaped")) and not list(tmp_path.parent.glob("escaped"))


def _toy_train(seed: int, log_dir: str) -> int:
    Path(log_dir, "done").write_text(str(seed))
    return seed
