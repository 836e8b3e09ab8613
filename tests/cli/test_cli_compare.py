"""``tinysim bound`` and ``tinysim compare`` through the command line."""

import json

from tinysim_gym.cli import main


def test_bound_json(capsys):
    assert main(["bound", "--scenario", "usps-l476-async-horizon", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 92.9 < out["weighted_accuracy"] < 93.2  # models 4 (92.91 %) and 5 (93.32 %) mixed
    assert abs(sum(out["mixture"].values()) - 1.0) < 1e-6
    assert out["mixture"]["4"] > 0.5 and out["mixture"]["5"] > 0.3


def test_bound_sync_is_exact_for_the_published_case(capsys):
    assert main(["bound", "--scenario", "sync_1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exact"] is True and abs(out["weighted_accuracy"] - 94.08) < 1e-9


def test_compare_json_rows_and_files(tmp_path, capsys):
    args = ["compare", "--scenario", "usps-l476-async-horizon", "--horizon-ms", "2000", "--battery-mah", "0.004",
            "--processes", "1", "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[-1]["policy"] == "bound"
    policies = [r["policy"] for r in rows[:-1]]
    assert {"reference", "fuzzy", "budget", "latency-first"} <= set(policies)
    for r in rows[:-1]:
        for key in ("weighted_accuracy", "operating_time_ms", "inferences", "dropped", "energy_mah", "arrivals"):
            assert key in r
        assert r["weighted_accuracy"] <= rows[-1]["weighted_accuracy"] + 1e-9
    assert (tmp_path / "compare_usps-l476-async-horizon.csv").stat().st_size > 0
    assert (tmp_path / "compare_usps-l476-async-horizon.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_bad_input(capsys):
    assert main(["compare", "--policies", "nope", "--no-files"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0] and "budget" in err[0]
    assert main(["compare", "--seeds", "0", "--no-files"]) == 2
