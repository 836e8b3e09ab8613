"""The ahead-of-time kernels: built by ``tinysim build-kernels``, they give numba's results bit for bit
without importing numba; anything they cannot serve (a declined argument, a missing or broken library)
falls back to numba with the same result, and a kernel that raises is an error, never a number."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from tinysim_gym.core import aot, jit
from tinysim_gym.core import kernels as K

REPO = str(Path(__file__).resolve().parents[2])

#: every published case with its own selector and two others, and the default mode with seeds
PUBLISHED = ("sync_1", "sync_2", "async_1", "async_2", "async_3", "async_4", "acc_first", "lat_first")
SELECTORS = ([], ["--selector", "latency-first"], ["--selector", "fuzzy"])
RUNS = [["--scenario", c] + s for c in PUBLISHED for s in SELECTORS]
RUNS += [["--scenario", c, "--seed", seed] + s for c in ("usps-l476-async-horizon", "usps-l476-async1")
         for seed in ("0", "7") for s in ([], ["--selector", "accuracy-first"])]

CHILD = """
import contextlib, io, json, sys
from tinysim_gym.cli import main
out = []
for args in json.loads(sys.argv[1]):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["simulate", "--json", *args]) == 0
    out.append(json.loads(buf.getvalue()))
print(json.dumps({"numba": "numba" in sys.modules, "out": out}))
"""


#: the engine's final state arrays, hashed: bit for bit, not the JSON's rounded figures
ENGINE_CHILD = """
import hashlib, json, sys
import baselines
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine
out = []
for name, selector, seed in json.loads(sys.argv[1]):
    e = Engine(load_scenario(name), chunk=1 << 16)
    e.run(baselines.make(selector or e.scenario.selector or "reference", e), seed=seed)
    out.append(hashlib.sha256(e.ST.tobytes() + e.FS.tobytes()).hexdigest())
print(json.dumps({"numba": "numba" in sys.modules, "out": out}))
"""
ENGINE_RUNS = [[c, s, None] for c in PUBLISHED for s in (None, "latency-first", "fuzzy")]
ENGINE_RUNS += [[c, s, seed] for c in ("usps-l476-async-horizon", "usps-l476-async1") for seed in (0, 7)
                for s in (None, "accuracy-first")]


def child_env(root: str, on: bool) -> dict[str, str]:
    """The libraries under ``root``; numba keeps this session's cache (a cold one would compile for a minute)."""
    from numba.core import config

    jit.materialize()
    return {**os.environ, "TINYSIM_CACHE_DIR": root, "NUMBA_CACHE_DIR": config.CACHE_DIR,
            "TINYSIM_AOT": "1" if on else "0"}


def run_child(code: str, env: dict[str, str], *args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600)


BUILD = "from tinysim_gym.cli import main; raise SystemExit(main(['build-kernels', '--json']))"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A root with every library built, by the same interpreter and sources as the children below."""
    root = str(tmp_path_factory.mktemp("aot"))
    res = run_child(BUILD, child_env(root, True))
    assert res.returncode == 0, res.stderr[-2000:]
    rows = json.loads(res.stdout)
    names = {r["kernel"] for r in rows}
    assert {"tinysim_gym.core.kernels.advance", "tinysim_gym.core.fast_static.fixed_model_loop",
            "baselines.original._fuzzy_loop", "tinysim_gym.core.arrival_draws.bernoulli_ticks"} <= names
    assert all(r["built"] and os.path.isfile(r["path"]) for r in rows)
    again = run_child(BUILD, child_env(root, True))
    assert not any(r["built"] for r in json.loads(again.stdout))  # kept, not rebuilt
    return root


def test_the_published_cases_and_default_mode_runs_equal_numbas_without_importing_numba(built):
    fast = run_child(CHILD, child_env(built, True), json.dumps(RUNS))
    slow = run_child(CHILD, child_env(built, False), json.dumps(RUNS))
    assert fast.returncode == 0, fast.stderr[-2000:]
    assert slow.returncode == 0, slow.stderr[-2000:]
    a, b = json.loads(fast.stdout), json.loads(slow.stdout)
    assert a["numba"] is False and b["numba"] is True
    assert a["out"] == b["out"]  # every figure, floats bit for bit
    fast = run_child(ENGINE_CHILD, child_env(built, True), json.dumps(ENGINE_RUNS))
    slow = run_child(ENGINE_CHILD, child_env(built, False), json.dumps(ENGINE_RUNS))
    assert fast.returncode == 0, fast.stderr[-2000:]
    assert json.loads(fast.stdout) == {"numba": False, "out": json.loads(slow.stdout)["out"]}
    sync_1 = a["out"][0]  # the published figures of sync_1
    assert (sync_1["inferences"], sync_1["operating_time_ms"], sync_1["weighted_accuracy"]) == (146261, 440245.63,
                                                                                                  94.08)


def test_a_missing_or_broken_library_falls_back_to_numba_with_the_same_result(built, tmp_path):
    runs = json.dumps(RUNS[:3])
    reference = json.loads(run_child(CHILD, child_env(built, False), runs).stdout)["out"]
    empty = run_child(CHILD, child_env(str(tmp_path / "none"), True), runs)
    assert empty.returncode == 0, empty.stderr[-2000:]
    assert json.loads(empty.stdout) == {"numba": True, "out": reference}
    broken = tmp_path / "broken"
    (src,) = [d for d in os.listdir(built) if d.startswith("aot-")]
    (broken / src).mkdir(parents=True)
    for name in os.listdir(os.path.join(built, src)):
        (broken / src / name).write_bytes(b"not a shared library")
    res = run_child(CHILD, child_env(str(broken), True), runs)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout) == {"numba": True, "out": reference}


PROBE = """
from tinysim_gym.core.jit import njit


@njit(cache=False, aot="i8[] i8 -> i8")
def divide(a, k):
    total = 0
    for i in range(a.shape[0]):
        total += a[i] // k
    return total


@njit(cache=False, aot="f8[] -> i8x2")
def split(a):
    return a.shape[0], int(a.sum())
"""

#: a declared result that is not what numba infers (a float returned as i8 would be cast silently)
WRONG = """
from tinysim_gym.core.jit import njit


@njit(cache=False, aot="f8[] -> i8")
def mean(a):
    return a.sum() / a.shape[0]
"""

PROBE_BUILD = """
import json, sys
if len(sys.argv) > 3:
    import numba  # numba first: kernels decorated after it are still built
sys.path.insert(0, sys.argv[1])
__import__(sys.argv[2])
from tinysim_gym.core import aot_build
from tinysim_gym.errors import TinySimError
try:
    print(json.dumps([b.built for b in aot_build.build()]))
except TinySimError as exc:
    print(json.dumps(str(exc)))
"""

PROBE_RUN = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import probe_kernels as p
from tinysim_gym.core import jit
from tinysim_gym.errors import TinySimError
a = np.array([7, 9, 12])
out = {"divide": p.divide(a, 2), "split": list(p.split(np.array([1.5, 2.5]))), "numba": "numba" in sys.modules}
try:
    p.divide(a, 0)
    out["zero"] = "returned"
except TinySimError as exc:
    out["zero"] = str(exc)
out["after_error"] = "numba" in sys.modules
out["int32"] = p.divide(a.astype(np.int32), 2)  # declined: numba specialises int32 apart
out["numba_at_end"] = "numba" in sys.modules
print(json.dumps(out))
"""

#: a kernel called more often than the libraries serve: numba takes over, with the same answers
PROBE_MANY = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import probe_kernels as p
from tinysim_gym.core import jit
a = np.array([7, 9, 12])
first = [p.divide(a, 2) for _ in range(jit.AOT_CALLS)]
numba_before = "numba" in sys.modules
print(json.dumps({"first": sorted(set(first)), "before": numba_before, "next": p.divide(a, 2),
                  "after": "numba" in sys.modules}))
"""


def test_a_kernel_that_raises_is_a_one_line_error_and_a_declined_argument_goes_to_numba(tmp_path):
    (tmp_path / "probe_kernels.py").write_text(PROBE)
    env = child_env(str(tmp_path / "root"), True)
    res = run_child(PROBE_BUILD, env, str(tmp_path), "probe_kernels")
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout) == [True, True]
    res = run_child(PROBE_RUN, env, str(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["divide"] == 3 + 4 + 6 and out["split"] == [2, 4]
    assert out["numba"] is False and out["after_error"] is False
    assert out["zero"].startswith("divide: the compiled kernel raised an error")
    assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr and not res.stderr.strip()
    assert out["int32"] == 13 and out["numba_at_end"] is True
    many = json.loads(run_child(PROBE_MANY, env, str(tmp_path)).stdout)
    assert many == {"first": [13], "before": False, "next": 13, "after": True}


def test_an_edited_kernel_never_meets_its_old_library(tmp_path):
    (tmp_path / "probe_kernels.py").write_text(PROBE)
    env = child_env(str(tmp_path / "root"), True)
    assert json.loads(run_child(PROBE_BUILD, env, str(tmp_path), "probe_kernels").stdout) == [True, True]
    (tmp_path / "probe_kernels.py").write_text(PROBE.replace("a[i] // k", "a[i] * k"))
    out = json.loads(run_child(PROBE_RUN, env, str(tmp_path)).stdout)
    assert out["divide"] == (7 + 9 + 12) * 2 and out["numba"] is True  # the new code, through numba


def test_the_build_refuses_a_wrong_signature_and_builds_after_numba_was_imported(tmp_path):
    (tmp_path / "wrong_kernels.py").write_text(WRONG)
    (tmp_path / "probe_kernels.py").write_text(PROBE)
    env = child_env(str(tmp_path / "root"), True)
    said = json.loads(run_child(PROBE_BUILD, env, str(tmp_path), "wrong_kernels").stdout)
    assert said.startswith("build-kernels: mean: its aot signature 'f8[] -> i8' declares i8, numba infers float64")
    assert not list((tmp_path / "root").rglob("*.so*"))  # nothing written
    res = run_child(PROBE_BUILD, env, str(tmp_path), "probe_kernels", "numba first")
    assert json.loads(res.stdout) == [True, True], res.stderr[-2000:]
    settings = {**env, "NUMBA_BOUNDSCHECK": "1"}
    assert "NUMBA_BOUNDSCHECK is set" in json.loads(run_child(PROBE_BUILD, settings, str(tmp_path),
                                                              "probe_kernels").stdout)
    out = json.loads(run_child(PROBE_MANY, settings, str(tmp_path)).stdout)  # built without it: not used
    assert out["before"] is True and out["first"] == [13]
    # numba's settings file in the working directory counts as a setting too (these sources, from elsewhere)
    here = {**env, "PYTHONPATH": REPO}
    (tmp_path / ".numba_config.yaml").write_text("boundscheck: 1\n")
    assert json.loads(run_child(PROBE_MANY, here, str(tmp_path), cwd=str(tmp_path)).stdout)["before"] is True
    (tmp_path / ".numba_config.yaml").unlink()
    assert json.loads(run_child(PROBE_MANY, here, str(tmp_path), cwd=str(tmp_path)).stdout)["before"] is False


def test_importing_the_engine_and_the_heuristics_does_not_import_numba():
    code = "import sys, tinysim_gym.core.engine, baselines, baselines.original; print('numba' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_signatures_parse_and_bad_ones_are_refused():
    sig = aot.parse_signature("i8[] f8 u4[] -> i8x4")
    assert sig == aot.Signature(("i8[]", "f8", "u4[]"), "i8x4", 4)
    assert aot.parse_signature(" -> none") == aot.Signature((), "none", 0)
    for bad in ("i8[] f8", "i4[] -> i8", "i8 -> i8x0", "i8 -> tuple", "i8 -> i8x"):
        with pytest.raises(ValueError, match="aot signature"):
            aot.parse_signature(bad)


def test_materialised_kernels_are_dispatchers_in_the_modules_and_pickle_by_name():
    jit.materialize()
    assert jit.materialized()
    assert type(K.advance).__name__ == "CPUDispatcher"
    kernel = next(k for k in jit.kernels() if k.py_func.__qualname__ == "advance")
    assert kernel.dispatcher is K.advance
    assert pickle.loads(pickle.dumps(kernel)) is K.advance  # by module and name, as a dispatcher pickles
    # a kernel captured where no rebinding reaches (a closure) is typed as its dispatcher inside numba code
    from numba import njit as numba_njit

    from tinysim_gym.config import load_scenario
    from tinysim_gym.core.engine import Engine

    @numba_njit
    def through(ST, FS, PI, PF, arr):
        return kernel(ST, FS, PI, PF, arr)

    one, two = Engine(load_scenario("async_1")), Engine(load_scenario("async_1"))
    one.reset(), two.reset()
    assert through(one.ST, one.FS, one.PI, one.PF, one.arr) == K.advance(two.ST, two.FS, two.PI, two.PF, two.arr)
    assert (one.ST == two.ST).all() and (one.FS == two.FS).all()
