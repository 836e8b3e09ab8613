import json
import subprocess
import sys

import pytest

from baselines import make, names
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine


def _tinysim(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from tinysim_gym.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600)


def test_bound_with_seeds_reports_the_ladder_and_keeps_the_lp_keys():
    plain = json.loads(_tinysim("bound", "--scenario", "usps-l476-async1", "--json").stdout)
    res = _tinysim("bound", "--scenario", "usps-l476-async1", "--seeds", "2", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for key, value in plain.items():  # today's keys, unchanged
        assert out[key] == value
    assert out["lp"] == pytest.approx(plain["weighted_accuracy"])
    assert out["hindsight"] is None  # until depletion: the episode length depends on the policy
    assert out["upper"] == pytest.approx(min(v for v in (out["lp"], out["hindsight"]) if v is not None))
    assert out["certified_gap"] == pytest.approx(out["upper"] - out["oracle"])
    assert 0.0 <= out["certified_gap"] <= 0.3


@pytest.mark.parametrize("seeds", ["0", "1001", "x"])
def test_bound_seeds_out_of_range_is_one_line(seeds):
    res = _tinysim("bound", "--seeds", seeds)
    assert res.returncode == 2 and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1 and "--seeds" in res.stderr


def test_oracle_is_a_baseline_by_name_but_not_in_the_default_list():
    assert "oracle" not in names() and {"oracle", "oracle-observed"} <= set(names(aliases=True))
    scenario = load_scenario("usps-l476-async1")

    def mean(name: str) -> float:
        return sum(Engine(scenario).run(make(name), seed=s)["weighted_accuracy"] for s in (0, 1)) / 2

    assert mean("oracle") >= max(mean("latency-first"), mean("queue-greedy"), mean("budget"))


def test_bound_penalty_adds_the_penalised_rungs_and_refuses_a_bad_table_in_one_line(tmp_path, capsys):
    # in process: the start-up of three subprocesses would cost more than the solves
    import yaml

    from tests.support.tiny_device import TINY_BOARD, TINY_PROFILE
    from tinysim_gym.cli import main

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "tiny-poisson", "board": TINY_BOARD, "profile": TINY_PROFILE,
        "workload": {"mode": "async", "process": "poisson", "rate_hz": 40_000.0, "buffer_size": 2,
                     "timebase_ms": 0.01},
        "battery": {"capacity_mah": 1.0}, "horizon_ms": 0.4, "deadline_ms": 0.06,
    }))
    zero = tmp_path / "zero.json"
    zero.write_text("[[0, 0, 0], [0, 0, 0], [0, 0, 0]]")
    assert main(["bound", "--scenario", str(scenario), "--seeds", "2", "--penalty", str(zero), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dual"] == pytest.approx(out["hindsight"], abs=1e-9)  # a zero table is the plain bound
    assert out["dual_certified_gap"] == pytest.approx(out["certified_gap"], abs=1e-9)
    assert out["dual_se"] >= 0.0 and out["dual_certified_gap_se"] >= 0.0
    bad = tmp_path / "bad.json"
    bad.write_text("[[0, 0], [0, 0]]")
    fitted = tmp_path / "fitted.json"  # the benchmark's per-scenario object: the table and its fitting seeds
    fitted.write_text(json.dumps({"penalty": [[0, 0, 0]] * 3, "fit_seeds": [0, 1, 2, 3, 4]}))
    for args in (["--seeds", "2", "--penalty", str(bad)], ["--penalty", str(zero)],
                 ["--seeds", "2", "--penalty", str(fitted)], ["--seeds", "2", "--first-seed", "4", "--penalty",
                                                              str(fitted)]):
        assert main(["bound", "--scenario", str(scenario), *args]) == 2
        res = capsys.readouterr()
        assert res.out == "" and len(res.err.strip().splitlines()) == 1 and "--penalty" in res.err
    assert "fitted on seeds 0..1" in main_err(main, scenario, fitted, capsys)
    assert main(["bound", "--scenario", str(scenario), "--seeds", "2", "--first-seed", "5", "--penalty", str(fitted),
                 "--json"]) == 0
    apart = json.loads(capsys.readouterr().out)  # seeds 5 and 6: the same zero table, other traces
    assert apart["dual"] == pytest.approx(apart["hindsight"], abs=1e-9)
    assert main(["bound", "--scenario", str(scenario), "--seeds", "2", "--first-seed", "-1"]) == 2
    assert "--first-seed" in capsys.readouterr().err


def main_err(main, scenario, penalty, capsys) -> str:
    """The one error line of a bound over seeds 0..1 with ``penalty``."""
    assert main(["bound", "--scenario", str(scenario), "--seeds", "2", "--penalty", str(penalty)]) == 2
    return capsys.readouterr().err
