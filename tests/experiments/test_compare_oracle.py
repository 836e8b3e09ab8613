"""compare/evaluate with the oracle: its row above the bound, and the certified gap under the table."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.optimal.test_oracle import tiny
from tinysim_gym.cli import main
from tinysim_gym.experiments.compare import compare
from tinysim_gym.experiments.table import format_table
from tinysim_gym.optimal.ladder import ladder


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYSIM_CACHE_DIR", str(tmp_path / "cache"))


def test_oracle_row_and_certificate_match_the_ladder() -> None:
    sc = tiny(horizon_ms=1.0, capacity=5e-6)
    rows = compare(sc, policies=["latency-first"], seeds=2, processes=1, progress=False, usage_policy=None,
                   oracle=True)
    assert [r["policy"] for r in rows] == ["latency-first", "oracle", "bound"]
    want = ladder(sc, seeds=[0, 1], observed=False)
    oracle, last = rows[1], rows[-1]
    assert oracle["weighted_accuracy"] == pytest.approx(want["oracle"], abs=1e-12)
    assert last["weighted_accuracy"] == pytest.approx(want["lp"])  # the bound row keeps its keys and values
    for key in ("hindsight", "upper", "oracle", "certified_gap"):
        assert last[key] == pytest.approx(want[key], abs=1e-12), key
    assert last["upper"] == min(last["weighted_accuracy"], last["hindsight"])
    assert last["certified_gap"] == pytest.approx(last["upper"] - oracle["weighted_accuracy"])
    text = format_table(rows)
    assert text.splitlines()[-1] == (f"certified gap = upper - oracle {oracle['weighted_accuracy']:.3f} = "
                                     f"{last['certified_gap']:.3f} points")


def test_without_the_flag_nothing_changes() -> None:
    rows = compare(tiny(), policies=["latency-first"], seeds=1, processes=1, progress=False, usage_policy=None)
    assert [r["policy"] for r in rows] == ["latency-first", "bound"] and rows.certificate is None
    assert "certified_gap" not in rows[-1] and "certified gap" not in format_table(rows)


def test_cli_compare_oracle_json_and_a_note_where_it_does_not_apply(tmp_path, capsys) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny(horizon_ms=0.6, capacity=2e-6).model_dump(mode="json")))
    argv = ["compare", "--scenario", str(path), "--policies", "latency-first", "--processes", "1", "--no-files"]
    assert main([*argv, "--oracle", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in rows] == ["latency-first", "oracle", "bound"]
    assert rows[-1]["certified_gap"] == pytest.approx(rows[-1]["upper"] - rows[1]["weighted_accuracy"])
    sync = ["compare", "--scenario", "sync_1", "--battery-mah", "0.0005", "--policies", "reference",
            "--processes", "1", "--no-files", "--oracle"]
    assert main(sync) == 0
    out = capsys.readouterr().out
    assert "oracle: not available (oracle: the seed-compatible sync mode has no decisions worth solving" in out
