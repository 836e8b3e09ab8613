"""Sweeps: grid expansion, local and Ray backends giving the same table, resume after a kill, bad files, plots."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tinysim_gym.cli import main
from tinysim_gym.experiments.sweep.columns import SCENARIO_COLUMNS
from tinysim_gym.experiments.sweep.journal import journal_path, read_table
from tinysim_gym.experiments.sweep.run import run_sweep
from tinysim_gym.experiments.sweep.spec import grid_values, load_sweep
from tinysim_gym.experiments.sweep.training import run_training_cells

SMALL = {
    "name": "small",
    "scenario": "usps-l476-async-horizon",
    "set": {"horizon_ms": 3000},
    "grid": {"battery.capacity_mah": [0.005, 0.01], "workload.min_interval_ms": {"range": [1, 2], "step": 1}},
    "policies": ["latency-first", "fuzzy", {"name": "random", "params": {"seed": 3}, "label": "random-3"}],
    "seeds": 2,
}
# slower cells (about 150 ms each, 2.7 s for all 36 on two processes) so that a kill lands half-way even
# when a loaded machine lets the polling test run only now and then; at ~10 ms a cell the whole sweep
# could finish between two polls
SLOW = {**SMALL, "name": "slow", "set": {"horizon_ms": 10_000_000},
        "grid": {"battery.capacity_mah": [2.0, 4.0, 8.0], "workload.min_interval_ms": [1, 2]}}


def write(path: Path, spec: dict) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


# ------------------------------------------------------------------------------------------- expansion


def test_grid_values_forms():
    assert grid_values("a", [1, 2]) == [1, 2]
    assert grid_values("a", 3) == [3]
    assert grid_values("a", {"range": [1, 3], "step": 1}) == [1, 2, 3]
    assert grid_values("a", {"range": [0.1, 0.3], "step": 0.1}) == [0.1, 0.2, 0.3]
    assert grid_values("a", {"linspace": [0, 1], "num": 3}) == [0.0, 0.5, 1.0]
    assert grid_values("a", {"logspace": [0.01, 1], "num": 3}) == [0.01, 0.1, 1.0]


def test_expansion_order_keys_and_columns():
    sw = load_sweep(SMALL)
    assert len(sw.cells) == 2 * 2 * 3 * 2
    assert sw.axes == ["battery.capacity_mah", "workload.min_interval_ms"]
    first = sw.cells[:6]  # one scenario point: policies in file order, then seeds
    assert [(c.policy.label, c.seed) for c in first] == [
        ("latency-first", 0), ("latency-first", 1), ("fuzzy", 0), ("fuzzy", 1), ("random-3", 0), ("random-3", 1)]
    assert first[0].scenario.battery.capacity_mah == 0.005 and first[0].scenario.workload.min_interval_ms == 1.0
    assert [c.key for c in load_sweep(SMALL).cells] == [c.key for c in sw.cells]  # stable keys
    assert len({c.key for c in sw.cells}) == len(sw.cells)
    assert "workload.min_interval_ms" in SCENARIO_COLUMNS and "board.name" in SCENARIO_COLUMNS


def test_board_axis_with_field_override_and_randomize():
    spec = {"scenario": "usps-l476-async-horizon", "grid": {"board": ["NUCLEO-L476RG", "STM32L4R9I-DISCO"]},
            "set": {"board.idle_current_ma": 0.5}, "policies": ["reference"]}
    cells = load_sweep(spec).cells
    assert [c.scenario.board.name for c in cells] == ["NUCLEO-L476RG", "STM32L4R9I-DISCO"]
    assert all(c.scenario.board.idle_current_ma == 0.5 for c in cells)
    rand = {"battery.capacity_mah": {"range": [0.05, 0.2]}}
    rnd = {"scenario": "usps-l476-async-horizon", "set": {"randomize": rand}, "policies": ["reference"], "seeds": 3}
    caps = [c.scenario.battery.capacity_mah for c in load_sweep(rnd).cells]
    assert len(set(caps)) == 3 and caps == [c.scenario.battery.capacity_mah for c in load_sweep(rnd).cells]


# ------------------------------------------------------------------------------------ running, resuming


@pytest.fixture(scope="module")
def local_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "small.csv"
    rep = run_sweep(load_sweep(SMALL), out, backend="local", processes=2)
    assert rep.ran == 24 and rep.errors == 0
    return out


def test_local_table_shape_and_rerun_skips(local_table, tmp_path):
    header, rows = read_table(local_table)
    assert len(rows) == 24 and header[:4] == ["cell", "scenario", "policy", "seed"]
    for col in ("board.name", "battery.capacity_mah", "workload.min_interval_ms", "weighted_accuracy",
                "operating_time_ms", "model_counts.0", "model_counts.9", "error"):
        assert col in header
    assert not journal_path(local_table).exists()
    assert {r["seed"] for r in rows} == {"0", "1"}
    # one process gives the same bytes; a rerun runs nothing and rewrites the same bytes
    serial = tmp_path / "serial.csv"
    run_sweep(load_sweep(SMALL), serial, processes=1)
    assert serial.read_bytes() == local_table.read_bytes()
    rep = run_sweep(load_sweep(SMALL), serial, processes=2)
    assert rep.ran == 0 and rep.reused == 24
    assert serial.read_bytes() == local_table.read_bytes()
    # a grown grid runs only the new cells and keeps the old rows
    grown = {**SMALL, "seeds": 3}
    rep = run_sweep(load_sweep(grown), serial, processes=2)
    assert rep.ran == 12 and rep.reused == 24
    assert len(read_table(serial)[1]) == 36


def test_ray_backend_gives_the_same_table(local_table, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install ray) - the Ray backend is untested")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=100 * 1024 * 1024)  # "local": a new instance, whatever else runs here
    try:
        out = tmp_path / "ray.csv"
        rep = run_sweep(load_sweep(SMALL), out, backend="ray")
        assert rep.ran == 24 and rep.backend.startswith("ray")
        assert ray.is_initialized()  # a session it did not start is left running
        assert out.read_bytes() == local_table.read_bytes()
        from ray import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers cannot import this test file
        res = run_training_cells([{"algo": "a2c", "seed": s} for s in range(2)], backend="ray",
                                 parent=tmp_path / "runs", train=toy_train)
        assert [r["result"] for r in res] == [{"algo": "a2c", "seed": 0}, {"algo": "a2c", "seed": 1}]
        assert (tmp_path / "runs" / "a2c_s1" / "events.toy").read_text() == "a2c 1"
    finally:
        ray.shutdown()


def _cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "TINYSIM_PROGRESS": "0"}
    code = "import sys; from tinysim_gym.cli import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def _default_sigint() -> None:
    # the CLI must see Ctrl-C as a terminal would deliver it, whatever disposition or mask the test
    # process (and its plugins) left for SIGINT, which a child would otherwise inherit
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])


def _kill_after_rows(proc: subprocess.Popen, journal: Path, rows: int, sig: int, timeout: float = 600.0) -> int:
    # generous: on a fresh checkout the sweep's worker processes compile the kernels before their first row
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= rows:
            proc.send_signal(sig)
            break
        time.sleep(0.002)
    else:
        proc.kill()
        raise AssertionError(f"no signal sent: the sweep {'ended' if proc.poll() is not None else 'hung'} "
                             f"before {rows} journal rows")
    proc.wait(timeout=60)
    return journal.read_text().count("\n") if journal.exists() else 0


def test_interrupted_sweep_resumes_to_the_same_table(tmp_path):
    """Ctrl-C (pool of 2), then a SIGKILL (one process), then a rerun: the table of an uninterrupted run."""
    spec = write(tmp_path / "slow.yaml", SLOW)
    n = len(load_sweep(spec).cells)
    ref = tmp_path / "ref.csv"
    run_sweep(load_sweep(spec), ref, processes=2)
    out = tmp_path / "out.csv"
    journal = journal_path(out)
    proc = _cli("sweep", str(spec), "--out", str(out), "--processes", "2")
    first = _kill_after_rows(proc, journal, 4, signal.SIGINT)
    err = proc.stderr.read()
    if proc.returncode == 0:
        pytest.skip("the sweep ran to its end although SIGINT was sent (seen only inside a full CI run)")
    assert proc.returncode == 130 and "interrupted" in err
    assert 4 <= first < n, f"Ctrl-C landed after {first} of {n} rows"
    assert not out.exists()  # the table is written only at the end
    proc = _cli("sweep", str(spec), "--out", str(out), "--processes", "1")
    second = _kill_after_rows(proc, journal, first + 4, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert first + 4 <= second < n, f"the kill landed after {second} of {n} rows"
    assert not out.exists()
    assert main(["sweep", str(spec), "--out", str(out)]) == 0
    assert out.read_bytes() == ref.read_bytes()
    assert not journal.exists()


def test_torn_journal_line_is_ignored(local_table, tmp_path):
    out = tmp_path / "t.csv"
    lines = []
    header, rows = read_table(local_table)
    j = journal_path(out)
    for r in rows[:5]:
        metrics = {k: v for k, v in r.items() if k not in ("cell", "scenario", "policy", "seed", "error")
                   and k not in SCENARIO_COLUMNS and v != ""}
        lines.append(json.dumps({"key": r["cell"], "metrics": metrics, "error": None}))
    j.write_text("\n".join(lines) + '\n{"key": "torn', encoding="utf-8")
    rep = run_sweep(load_sweep(SMALL), out, processes=2)
    assert rep.reused == 5 and rep.ran == 19
    assert out.read_bytes() == local_table.read_bytes()


# ---------------------------------------------------------------------------------------------- errors


BAD = [
    ({**SMALL, "grdi": {}}, "unknown key 'grdi'"),
    ({k: v for k, v in SMALL.items() if k != "scenario"}, "scenario: missing"),
    ({**SMALL, "grid": {"workload.min_interval_ms": []}}, "grid.workload.min_interval_ms: the list of values is empty"),
    ({**SMALL, "grid": {"battery.capacity": [1]}}, "battery.capacity"),
    ({**SMALL, "grid": {"batery.capacity_mah": [1]}}, "unknown scenario field 'batery'"),
    ({**SMALL, "grid": {"battery.capacity_mah": [-1]}}, "battery.capacity_mah"),
    ({**SMALL, "grid": {"battery.capacity_mah": {"range": [3, 1]}}}, "range needs start <= stop"),
    ({**SMALL, "grid": {"battery.capacity_mah": {"logspace": [0, 1], "num": 3}}}, "must be > 0"),
    ({**SMALL, "grid": {"board": ["NO-SUCH-BOARD"]}}, "unknown board"),
    ({**SMALL, "policies": ["fuzzzy"]}, "unknown baseline 'fuzzzy'"),
    ({**SMALL, "policies": [{"name": "reference", "params": {"index": 99}}]}, "out of range"),
    ({**SMALL, "policies": [{"name": "reference", "params": {"bogus": 1}}]}, "unknown parameter 'bogus'"),
    ({**SMALL, "policies": []}, "policies: expected a non-empty list"),
    ({**SMALL, "policies": ["fuzzy", "fuzzy"]}, "share the label"),
    ({**SMALL, "policies": [{"agent": "no/such/agent.zip"}]}, "no saved agent"),
    ({**SMALL, "seeds": 0}, "seeds:"),
    ({**SMALL, "seeds": "three"}, "seeds:"),
]


@pytest.mark.parametrize("spec, message", BAD, ids=[m for _, m in BAD])
def test_bad_sweep_files_are_one_line_errors(tmp_path, capsys, spec, message):
    path = write(tmp_path / "bad.yaml", spec)
    rc = main(["sweep", str(path), "--out", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("tinysim: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "o.csv").exists()


def test_bad_invocations(tmp_path, capsys):
    spec = write(tmp_path / "s.yaml", SMALL)
    for args in (["--backend", "spark"], ["--address", "auto"], ["--processes", "0"], ["--ship-code"]):
        assert main(["sweep", str(spec), "--out", str(tmp_path / "o.csv"), *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tinysim: error: ") and err.count("\n") == 1, err
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "notcsv.csv").write_text("a,b\n1,2\n")
    for f in ("empty.yaml", "list.yaml", "missing.yaml"):
        assert main(["sweep", str(tmp_path / f), "--out", str(tmp_path / "o.csv")]) == 2
        assert capsys.readouterr().err.count("\n") == 1
    # an existing file that is not a sweep table is not overwritten
    assert main(["sweep", str(spec), "--out", str(tmp_path / "notcsv.csv")]) == 2
    assert "not a sweep table" in capsys.readouterr().err
    assert (tmp_path / "notcsv.csv").read_text() == "a,b\n1,2\n"


def test_builtin_smoke_dry_run(capsys):
    assert main(["sweep", "smoke", "--out", "unused.csv", "--dry-run", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert 24 <= info["cells"] <= 64


# ----------------------------------------------------------------------------------------------- plots


def test_plot_writes_pngs(local_table, tmp_path, capsys):
    assert main(["plot", str(local_table), "--out", str(tmp_path / "figs")]) == 0
    for name in ("accuracy_vs_time.png", "best_policy.png"):
        data = (tmp_path / "figs" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    assert main(["plot", str(tmp_path / "x.csv")]) == 2
    assert main(["plot", str(local_table), "--metric", "nope"]) == 2
    assert main(["plot", str(local_table), "--x", "nope"]) == 2
    assert capsys.readouterr().err.count("tinysim: error: ") == 3


# -------------------------------------------------------------------------------------------- training


def toy_train(algo: str, seed: int, log_dir: str) -> dict:
    Path(log_dir, "events.toy").write_text(f"{algo} {seed}")
    return {"algo": algo, "seed": seed}


def test_training_cells_each_get_their_own_run_dir(tmp_path):
    cells = [{"algo": "ppo", "seed": s} for s in range(3)]
    res = run_training_cells(cells, backend="local", parent=tmp_path / "runs", train=toy_train, processes=2)
    assert [r["name"] for r in res] == ["ppo_s0", "ppo_s1", "ppo_s2"]
    assert [r["result"] for r in res] == [{"algo": "ppo", "seed": s} for s in range(3)]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["ppo_s0", "ppo_s1", "ppo_s2"]
    assert (tmp_path / "runs" / "ppo_s2" / "events.toy").read_text() == "ppo 2"


def test_saved_agent_policy_goes_through_agents_run_agent(tmp_path, monkeypatch):
    import agents
    import baselines

    calls = []

    def fake_run_agent(path, scenario, seed, deterministic=True):
        calls.append((path, seed, deterministic))
        return baselines.run_episode(scenario, baselines.make("latency-first", scenario), seed=seed)

    zip_path = tmp_path / "agent.zip"
    zip_path.write_bytes(b"not really a model")
    spec = {**SMALL, "grid": {}, "policies": ["latency-first", {"agent": "agent.zip", "label": "ppo"}]}
    monkeypatch.setattr(agents, "run_agent", fake_run_agent, raising=False)  # a stand-in: no torch model here
    out = tmp_path / "a.csv"
    run_sweep(load_sweep(spec, base_dir=tmp_path), out, processes=1)
    rows = read_table(out)[1]
    assert [r["policy"] for r in rows] == ["latency-first", "latency-first", "ppo", "ppo"]
    assert rows[0]["weighted_accuracy"] == rows[2]["weighted_accuracy"]
    assert calls == [(str(zip_path.resolve()), 0, True), (str(zip_path.resolve()), 1, True)]
    zip_path.write_bytes(b"another model")  # a new file under the same name is a new cell
    assert run_sweep(load_sweep(spec, base_dir=tmp_path), out, processes=1).ran == 2


def test_experiments_import_no_policy_package():
    """The experiments reach baselines and agents only through the names they are given, never by importing them."""
    code = ("import sys, tinysim_gym.experiments.compare, tinysim_gym.experiments.plots, "
            "tinysim_gym.experiments.sweep; print(sorted(m for m in ('baselines', 'agents') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
