"""``compare`` and ``bound`` refuse a ``randomize:`` scenario with one line instead of using its base values."""

import pytest

from tinysim_gym.cli import main
from tinysim_gym.config import load_scenario
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.compare import compare
from tinysim_gym.optimal.lp import bound


@pytest.mark.parametrize("argv", [["compare", "--no-files"], ["compare", "--json", "--no-files"], ["bound"],
                                  ["bound", "--json"], ["bound", "--battery-mah", "0.1"]])
def test_a_randomised_scenario_is_refused_with_one_line(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--scenario", "usps-random-horizon"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert "randomises battery.capacity_mah, workload.min_interval_ms" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_functions_refuse_it_too():
    sc = load_scenario("usps-random-horizon")
    with pytest.raises(TinySimError, match="^bound: scenario 'usps-random-horizon' randomises"):
        bound(sc)
    with pytest.raises(TinySimError, match="^compare: scenario 'usps-random-horizon' randomises"):
        compare(sc, policies=["fuzzy"], processes=1, progress=False)
    assert bound("usps-l476-async-horizon").weighted_accuracy > 90  # a concrete scenario is unaffected
