"""The command line's contract under OS errors and odd arguments: one line naming the path, exit code 2,
all of a run's outputs or none; an unreachable Ray cluster in bounded time."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinysim_gym.cli import main, os_error_line
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.pool import _within, probe_address

TINYSIM = Path(sys.executable).with_name("tinysim")
SMALL = ["--battery-mah", "0.001", "--policies", "ladder,energy", "--processes", "1"]


def run(argv: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(TINYSIM), *argv], capture_output=True, text=True, timeout=timeout, **kw)


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("tinysim") or "Traceback" in ln]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("tinysim: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


# ------------------------------------------------------------------ OS errors: one line, exit 2


def test_os_error_line_names_the_path_and_the_reason():
    assert os_error_line(OSError(28, "No space left on device", "out/x.csv")) == "out/x.csv: No space left on device"
    cross = OSError(18, "Invalid cross-device link", "a", None, "b")
    assert os_error_line(cross) == "a -> b: Invalid cross-device link"
    assert os_error_line(OSError(5, "Input/output error")) == "Input/output error"


def test_compare_out_naming_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["compare", *SMALL, "--out", str(tmp_path / "afile"), "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == f"tinysim: error: {tmp_path / 'afile'}: Not a directory"
    assert (tmp_path / "afile").read_text() == "x"


def test_stdout_on_dev_full_is_one_line():
    for argv in (["simulate", "--selector", "ladder", "--battery-mah", "0.001"],
                 ["simulate", "--selector", "ladder", "--battery-mah", "0.001", "--json"],
                 ["sweep", "smoke", "--dry-run", "--json"]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([str(TINYSIM), *argv], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        assert one_line(proc) == "tinysim: error: <stdout>: No space left on device"


def test_a_failed_write_of_the_figure_leaves_no_table(tmp_path, capsys, monkeypatch):
    """compare writes its CSV and PNG as one: a full disk while writing the PNG leaves neither."""
    real = Path.write_bytes

    def full_disk(self, data):
        if self.name.startswith(".compare_") and self.suffix == ".tmp":
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    assert main(["compare", *SMALL, "--out", str(tmp_path / "out"), "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith(".png: No space left on device") and str(tmp_path / "out") in err
    assert list((tmp_path / "out").iterdir()) == []


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare and tmpfs mounts (root in a namespace)")
def test_full_and_read_only_disks_through_real_processes(tmp_path):
    """A 64 kB tmpfs filled up (compare, sweep), then remounted read-only (compare, sweep, train)."""
    d = tmp_path / "disk"
    d.mkdir()
    t = TINYSIM
    script = f"""
set -u
mount -t tmpfs -o size=64k tmpfs {d}
head -c 61440 /dev/zero > {d}/fill 2>/dev/null
{t} compare {' '.join(SMALL)} --out {d}/full --json >/dev/null 2>{tmp_path}/e1; echo "rc1=$?"
{t} sweep smoke --out {d}/full.csv --processes 1 >/dev/null 2>{tmp_path}/e2; echo "rc2=$?"
ls -A {d}/full > {tmp_path}/ls1 2>&1
rm {d}/fill
mount -o remount,ro {d}
{t} compare {' '.join(SMALL)} --out {d}/ro --json >/dev/null 2>{tmp_path}/e3; echo "rc3=$?"
{t} sweep smoke --out {d}/ro.csv --processes 1 >/dev/null 2>{tmp_path}/e4; echo "rc4=$?"
{t} train --algo dqn --scenario usps-l476-async-horizon --timesteps 64 --log-dir {d}/runs >/dev/null 2>{tmp_path}/e5
echo "rc5=$?"
umount {d}
"""
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=600)
    codes = dict(line.split("=") for line in proc.stdout.split())
    assert codes == {f"rc{i}": "2" for i in range(1, 6)}, proc.stdout + proc.stderr
    reasons = ["No space left on device", "No space left on device", "Read-only file system",
               "Read-only file system", "Read-only file system"]
    for i, reason in enumerate(reasons, 1):
        err = (tmp_path / f"e{i}").read_text()
        lines = [ln for ln in err.splitlines() if ln.startswith("tinysim") or "Traceback" in ln]
        assert len(lines) == 1 and lines[0].startswith(f"tinysim: error: {d}") and lines[0].endswith(reason), err
    assert (tmp_path / "ls1").read_text().strip() in ("", f"ls: cannot access '{d}/full': No such file or directory")


# ------------------------------------------------------------------ arguments


def test_sweep_dry_run_needs_no_out(capsys):
    assert main(["sweep", "smoke", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("sweep smoke: ")
    assert main(["sweep", "smoke"]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.parametrize("policies", [",", " , ,", ",,"])
def test_compare_with_an_empty_policy_list_is_refused(policies, tmp_path, capsys):
    assert main(["compare", "--policies", policies, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "policies" in err[0]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ Ray: bounded connect


def test_an_unreachable_ray_address_fails_fast():
    t0 = time.monotonic()
    proc = run(["sweep", "smoke", "--out", "/nonexistent/x.csv", "--backend", "ray", "--address", "127.0.0.1:1"],
               timeout=60)
    assert time.monotonic() - t0 < 30
    assert "127.0.0.1:1" in one_line(proc) and "cannot reach Ray" in proc.stderr


def test_probe_address():
    with pytest.raises(TinySimError, match=r"--address 127\.0\.0\.1:1: cannot reach Ray"):
        probe_address("127.0.0.1:1")
    with pytest.raises(TinySimError, match="cannot reach Ray"):
        probe_address("ray://127.0.0.1:1")
    with pytest.raises(TinySimError, match="cannot reach Ray"):
        probe_address("127.0.0.1:99999")
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        probe_address(f"127.0.0.1:{srv.getsockname()[1]}")  # accepts: left to Ray
    probe_address("auto")  # no port: left to Ray


def test_a_connect_that_never_answers_is_cut_off():
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        _within(0.5, lambda: time.sleep(30))
    assert time.monotonic() - t0 < 5
    assert _within(5, dict, a=1) == {"a": 1}
    with pytest.raises(ZeroDivisionError):
        _within(5, lambda: 1 / 0)
