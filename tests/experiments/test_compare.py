"""``compare``: rows, averaging over seeds, the bound row, parallel = serial, CSV/PNG files, errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from baselines import make, run_episode
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.compare import compare
from tinysim_gym.experiments.plots import pareto_frontier, write_plots
from tinysim_gym.experiments.policies import parse_policies, parse_seeds
from tinysim_gym.experiments.pool import LocalPool
from tinysim_gym.experiments.table import canonical_json, dumps, format_table, rows_json, write_csv
from tinysim_gym.optimal.lp import bound

SHORT = load_scenario("usps-l476-async-horizon", battery={"capacity_mah": 0.01}, horizon_ms=5000.0)
POLICIES = ["reference", "latency-first", "fuzzy", "ladder", "budget"]


@pytest.fixture(scope="module")
def rows():
    return compare(SHORT, POLICIES, seeds=2, processes=2, progress=False)


def test_rows_have_every_metric_and_the_bound_last(rows):
    assert [r["policy"] for r in rows] == [*POLICIES, "bound"]
    keys = set(Engine(SHORT).metrics())
    for r in rows[:-1]:
        assert keys <= set(r), keys - set(r)
        assert r["seeds"] == 2 and r["seed"] == [0, 1]
    assert rows[-1]["weighted_accuracy"] == pytest.approx(bound(SHORT).weighted_accuracy)
    assert all(r["weighted_accuracy"] <= rows[-1]["weighted_accuracy"] for r in rows[:-1])


def test_numbers_are_means_over_seeds(rows):
    runs = [run_episode(SHORT, make("fuzzy"), seed=s) for s in (0, 1)]
    r = next(r for r in rows if r["policy"] == "fuzzy")
    for key in ("weighted_accuracy", "inferences", "dropped", "operating_time_ms", "energy_mah"):
        assert r[key] == pytest.approx(np.mean([m[key] for m in runs]))
    assert r["weighted_accuracy_std"] == pytest.approx(np.std([m["weighted_accuracy"] for m in runs], ddof=1))
    assert r["model_counts"]["5"] == pytest.approx(np.mean([m["model_counts"]["5"] for m in runs]))


def test_serial_equals_parallel(rows):
    serial = compare(SHORT, POLICIES, seeds=2, processes=1, progress=False)
    for a, b in zip(rows, serial, strict=True):
        assert a["weighted_accuracy"] == b["weighted_accuracy"] and a["inferences"] == b["inferences"]


def test_usage_timeline_is_recorded_for_budget(rows):
    assert rows.usage_policy == "budget"
    u = rows.usage["budget"]
    counts = np.asarray(u["counts"])
    assert len(u["time_ms"]) > 20 and counts.shape[1] == 10
    assert np.all(np.diff(counts, axis=0) >= 0)
    assert np.all(np.diff(u["time_ms"]) >= 0)


def test_files_are_written_atomically(rows, tmp_path):
    csv_path = write_csv(rows, tmp_path / "out" / "cmp.csv")
    png_path = write_plots(rows, tmp_path / "out" / "cmp.png")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cmp.csv", "cmp.png"]  # no temp files left
    with open(csv_path, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [t["policy"] for t in table] == [*POLICIES, "bound"]
    assert "model_counts.4" in table[0] and "weighted_accuracy" in table[0]
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    write_plots(rows, png_path, policy="fuzzy", usage=rows.usage["budget"], title="again")  # overwrite works


def test_table_json_and_frontier(rows):
    text = format_table(rows)
    assert all(p in text for p in [*POLICIES, "bound"]) and "weighted acc %" in text
    json.dumps(rows_json(rows))
    front = pareto_frontier(rows)
    assert "budget" in front and "reference" not in front


def test_seed_compat_runs_one_seed_and_errors():
    r = compare("sync_1", ["reference", "accuracy-first"], seeds=3, processes=1, progress=False)
    assert r[0]["seeds"] == 1 and r[0]["inferences"] == 146261
    with pytest.raises(TinySimError, match="unknown baseline 'nope'"):
        compare(SHORT, ["budget", "nope"], progress=False)
    with pytest.raises(TinySimError, match="seeds"):
        compare(SHORT, ["budget"], seeds=0, progress=False)
    with pytest.raises(TinySimError, match="usage_policy"):
        compare(SHORT, ["budget"], usage_policy="fuzzy", progress=False)


def test_labelled_variants_and_progress_bar(capsys):
    r = compare(SHORT, {"b4": {"policy": "budget"}, "b1": {"policy": "budget", "window": 1}}, processes=1,
                progress=True, usage_policy=None)
    assert [x["policy"] for x in r] == ["b4", "b1", "bound"]
    assert r.usage == {}
    out, err = capsys.readouterr()
    assert SHORT.name not in out and SHORT.name in err  # the bar goes to stderr, never stdout


# ------------------------------------------------------------------------------------ policies and pools


class TwoBaselines:
    """A registry of two heuristics that is not the baselines package: compare reaches policies only this way."""

    def names(self, aliases=False):
        return ["latency-first", "budget"]

    def make(self, name, target=None, **params):
        if name not in self.names():
            raise TinySimError(f"selector: unknown baseline {name!r} (allowed: latency-first, budget)")
        return make(name, target, **params)


def test_registry_object_and_string_give_the_same_rows():
    own = compare(SHORT, seeds=2, processes=2, progress=False, usage_policy=None, registry=TwoBaselines())
    assert [r["policy"] for r in own] == ["latency-first", "budget", "bound"]
    named = compare(SHORT, ["latency-first", "budget"], seeds=2, processes=1, progress=False, usage_policy=None,
                    registry="baselines")
    for a, b in zip(own, named, strict=True):
        assert a["weighted_accuracy"] == b["weighted_accuracy"] and a["inferences"] == b["inferences"]
    with pytest.raises(TinySimError, match="unknown baseline 'fuzzy'"):
        compare(SHORT, ["fuzzy"], progress=False, registry=TwoBaselines())
    with pytest.raises(TinySimError, match="cannot load"):
        compare(SHORT, ["fuzzy"], progress=False, registry="no_such_module:registry")


def test_one_pool_serves_several_comparisons(rows):
    pool = LocalPool(2)
    try:
        first = compare(SHORT, POLICIES, seeds=2, progress=False, pool=pool)
        assert pool._pool is not None  # the workers stay for the next call
        again = compare(SHORT, POLICIES, seeds=2, progress=False, pool=pool)
    finally:
        pool.close()
    for a, b, c in zip(rows, first, again, strict=True):
        assert a["weighted_accuracy"] == b["weighted_accuracy"] == c["weighted_accuracy"]


def test_policy_and_seed_lists_have_one_parser():
    pairs = parse_policies([("b4", {"policy": "budget"}), "fuzzy", {"name": "ladder", "params": {"thresholds": [60]}}])
    assert [p.label for p in pairs] == ["b4", "fuzzy", "ladder(thresholds=[60])"]
    assert [p.name for p in pairs] == ["budget", "fuzzy", "ladder"]
    assert [p.label for p in parse_policies({"b1": {"policy": "budget", "window": 1}})] == ["b1"]
    with pytest.raises(TinySimError, match="share the label"):
        parse_policies(["budget", ("budget", {})])
    with pytest.raises(TinySimError, match="not here"):
        parse_policies([{"agent": "x.zip"}], allow_agents=False)
    assert parse_seeds(3) == [0, 1, 2] and parse_seeds([5, np.int64(7)]) == [5, 7]
    for bad in (0, [], [1, 1], [-1], "3", True):
        with pytest.raises(TinySimError, match="seeds"):
            parse_seeds(bad)


def test_json_forms():
    assert json.loads(dumps({"a": float("nan"), "b": np.float64(1.5), "c": (np.int64(2),), 3: None})) == {
        "a": None, "b": 1.5, "c": [2], "3": None}
    with pytest.raises(ValueError):
        canonical_json({"a": float("nan")})  # a key must never hash a NaN
