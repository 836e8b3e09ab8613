"""``tinysim export`` and ``evaluate --selector-cost``: the files, the figures, one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tinysim_gym.cli import main
from tinysim_gym.cli.evaluate import _charged
from tinysim_gym.config import load_scenario
from tinysim_gym.export.firmware import selector_latency_ms


def test_heuristic_export_writes_three_files_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["export", "--policy", "ladder", "--out", str(tmp_path), "--seeds", "1", "--json"]
    if shutil.which("gcc"):
        args.append("--verify")
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "tinysim_policy.c", "tinysim_policy.h"]
    assert out["features"] == ["soc", "buffer_fill", "recent_drops", "horizon_elapsed"]
    assert out["obs_dim"] == 4 and out["n_actions"] == 10 and out["policy"] == "heuristic:ladder"
    assert "#define TINYSIM_OBS_DIM 4" in (tmp_path / "tinysim_policy.h").read_text()
    assert "malloc" not in (tmp_path / "tinysim_policy.c").read_text()
    if shutil.which("gcc"):
        assert out["verified_agreement"] == 1.0 and out["verified_states"] > 20_000


@pytest.mark.parametrize("args, field", [
    (["--policy", "random"], "--policy"),
    (["--policy", "fuzzy", "--quantize", "int8"], "--quantize"),
    (["--agent", "no/such/run"], "agent"),
    (["--policy", "fuzzy", "--seeds", "0"], "--seeds"),
])
def test_bad_export_input_is_one_line_and_writes_nothing(args: list[str], field: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["export", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err
    assert not out.exists() or not any(out.iterdir())


def test_selector_cost_replaces_the_profiles_selector_latency(tmp_path: Path) -> None:
    assert main(["export", "--policy", "fuzzy", "--out", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    ms = selector_latency_ms(tmp_path, 80.0)
    assert ms == pytest.approx(manifest["footprint"]["cycles_per_decision"] / 80.0 / 1000.0)
    (tmp_path / "firmware.json").write_text(json.dumps({"us_per_decision": 12.5}))
    assert selector_latency_ms(tmp_path) == pytest.approx(0.0125)  # measured beats counted
    base = load_scenario("usps-l476-async-horizon")
    [sc] = _charged([None], "usps-l476-async-horizon", str(tmp_path), 80.0)
    assert base.profile.selector_latency_ms == pytest.approx(0.626)
    assert sc.profile.selector_latency_ms == pytest.approx(0.0125)
    assert [b - a for a, b in zip(sc.profile.total_latencies_ms, base.profile.total_latencies_ms,
                                  strict=True)] == pytest.approx([0.626 - 0.0125] * 10)


def test_selector_cost_of_a_directory_without_an_export_is_one_line(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["evaluate", "--agent", str(tmp_path / "none"), "--selector-cost", str(tmp_path)])
    assert rc == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
